"""The pipeline: discover -> read -> parse once -> facts -> project -> checks -> findings."""

from __future__ import annotations

import gc
import os
import sys
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from jobcheck import files as file_discovery
from jobcheck import prefilter
from jobcheck.catalog import Catalog
from jobcheck.config import Config
from jobcheck.knowledge import load_knowledge
from jobcheck.model import Finding, ModuleFacts


@dataclass(frozen=True)
class Notification:
    """A file jobcheck could not analyse, or an internal error; makes the run exit 2."""

    path: str
    message: str
    kind: str = "error"  # "error" (unreadable file) or "internal"


@dataclass
class RunResult:
    findings: List[Finding] = field(default_factory=list)
    notifications: List[Notification] = field(default_factory=list)
    modules: List[ModuleFacts] = field(default_factory=list)
    files_checked: int = 0
    project: object = None
    root: Path = Path(".")  # paths of findings are relative to it
    suppressed: List[Any] = field(default_factory=list)  # suppressions.Suppressed, left out of reports
    baseline: Optional[str] = None  # the baseline file in use: `findings` are then the new ones
    unchanged: List[Finding] = field(default_factory=list)  # findings the baseline already holds
    absent: int = 0  # baseline entries no longer found


def analyse_source(data: bytes, rel: str, module_name: str, is_package: bool, cheap: bool = False) -> ModuleFacts:
    """Per-file facts from the file's bytes; a file that does not parse gives error facts.

    `cheap`: read the facts from CPython's `ast`; otherwise from libcst. Both give the same
    facts; a file `ast` cannot read goes to libcst, which places its syntax error."""
    return read_facts(data, rel, module_name, is_package, cheap)[0]


def read_facts(data: bytes, rel: str, module_name: str, is_package: bool, cheap: bool) -> Tuple[ModuleFacts, bool]:
    """The file's facts, and whether they are libcst's (what `analyse_source` says)."""
    from jobcheck.analysis.facts_walker import syntax_error_facts

    refused, python_error, tree = _python_parse(data, check_nesting=not cheap)
    if python_error is not None and cheap:
        from jobcheck.analysis.newer_syntax import parse_downlevel

        readable = parse_downlevel(data)  # newer syntax than this Python's
        if readable is not None:
            tree = readable[1]  # (its positions are the file's: the facts quote the file itself)
    if refused is not None:
        # (the libcst path asks CPython first too, and refuses the file for the same reason)
        return syntax_error_facts(rel, module_name, is_package, _Plain(refused)), True
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, RECURSION_LIMIT))  # the walk recurses once per level of nesting
    try:
        with warnings.catch_warnings():
            # libcst evaluates string literals with CPython, which warns of `"\d"` and the like
            # (on stderr from Python 3.12): the project's to hear from its own tools, not from us
            warnings.simplefilter("ignore")
            if cheap and tree is not None:
                return _extract_from_ast(tree, data, rel, module_name, is_package), False
            return _parse_and_extract(data, rel, module_name, is_package, python_error), True
    finally:
        sys.setrecursionlimit(limit)


def _extract_from_ast(tree: Any, data: bytes, rel: str, module_name: str, is_package: bool) -> ModuleFacts:
    from jobcheck.analysis import extract_ast
    from jobcheck.analysis.facts_walker import syntax_error_facts

    try:
        return extract_ast.extract(tree, extract_ast.decode(data), rel, module_name, is_package)
    except RecursionError:  # (CPython's parser accepts some 6,000 levels)
        return syntax_error_facts(rel, module_name, is_package, _Plain("nesting too deep to analyse"))


def _parse_and_extract(
    data: bytes, rel: str, module_name: str, is_package: bool, python_error: Optional[SyntaxError]
) -> ModuleFacts:
    import libcst as cst

    from jobcheck.analysis import extract
    from jobcheck.analysis.facts_walker import syntax_error_facts

    try:
        module = _parse_module(data)
    except cst.ParserSyntaxError as error:
        return syntax_error_facts(rel, module_name, is_package, _located(python_error) or error)
    except (UnicodeDecodeError, LookupError, SyntaxError, ValueError) as error:
        # undecodable bytes, an unknown coding cookie, a NUL byte
        message = f"cannot decode or tokenize the file: {error}".splitlines()[0]
        return syntax_error_facts(rel, module_name, is_package, _Plain(message))
    except RecursionError:
        return syntax_error_facts(rel, module_name, is_package, _Plain("nesting too deep to parse"))
    return extract.extract(module, rel, module_name, is_package)


def _parse_module(data: bytes) -> Any:
    """libcst's parse without the validation each node runs as the parser builds it: the
    parser's output is valid by construction (libcst's own PERF note in `CSTNode.__post_init__`
    says as much), and the checks cost a quarter of the parse."""
    import libcst as cst

    node = cst.CSTNode
    validate = node.__post_init__
    node.__post_init__ = _unvalidated  # type: ignore[method-assign]
    try:
        return cst.parse_module(data)
    finally:
        node.__post_init__ = validate  # type: ignore[method-assign]


def _unvalidated(self: Any) -> None:
    pass


MAX_NESTING = 1000  # far above real code (saleor: 20), below where libcst's parser overflows its stack
RECURSION_LIMIT = 10_000


def _refused_by_python(data: bytes) -> Optional[str]:
    return _python_parse(data)[0]


def _python_parse(
    data: bytes, check_nesting: bool = True
) -> Tuple[Optional[str], Optional[SyntaxError], Optional[Any]]:
    """CPython's own parse of the file, once: why it refuses the file when the reason would crash
    the CST parser (nesting too deep: libcst's native parser overflows the C stack, killing the
    process, from about 2,000 levels), the syntax error it found, which places errors better
    than libcst does, and the tree when it parsed. Other syntax errors, and syntax newer than the
    running Python, are left to libcst. The nesting check (a walk over every node) is for
    files going to libcst only."""
    import ast

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # `invalid escape sequence` and the like are not ours to report
            tree = ast.parse(data)
    except RecursionError:
        return "nesting too deep to parse", None, None
    except MemoryError:
        return "nesting too deep or file too large to parse", None, None
    except ValueError as error:  # a NUL byte (Python < 3.12)
        return (str(error).splitlines()[0] if str(error) else "cannot be parsed"), None, None
    except SyntaxError as error:
        message = str(error.msg or "")
        if "null bytes" in message:
            return message, None, None
        if "too many nested parentheses" in message and _bracket_depth(data) > 200:
            # (before 3.12 the tokenizer also counts brackets inside f-strings: `f"{" + "(" * 250 + "}"`)
            return message, None, None
        return None, error, None
    if not check_nesting:
        return None, None, tree
    stack = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        if level > MAX_NESTING:
            return f"nesting deeper than {MAX_NESTING} levels; not analysed", None, None
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return None, None, tree


def _bracket_depth(data: bytes) -> int:
    """The deepest bracket nesting outside strings and comments, by the tokenizer (0 if it fails)."""
    import io
    import tokenize

    depth = deepest = 0
    try:
        for token in tokenize.tokenize(io.BytesIO(data).readline):
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
                deepest = max(deepest, depth)
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError, LookupError, ValueError):
        return 0 if sys.version_info < (3, 12) else deepest
    return deepest


PARALLEL_THRESHOLD = 16  # below this, starting processes costs more than it saves
WAIT_SLICE = 1.0  # seconds between two checks that the workers are still there, while waiting for one


def _start_pool(jobs: int):
    """A process pool for one run (fork where available: the workers need no re-import)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker)


COLLECT_EVERY = 32  # files a worker reads between two collections of the cycles they leave


def _start_worker() -> None:
    """Workers inherit the disabled collector; automatic collection would traverse every tree
    libcst builds, again and again. A worker instead collects the cycles that parsing leaves
    behind (libcst's own) every few files, which bounds its memory at little cost."""
    global _files_read_here
    _files_read_here = 0


_files_read_here: Optional[int] = None  # files a worker process has read, None in the main process


Reading = Tuple["ModuleFacts | str", bool]  # the facts (or an internal error's text), and whether libcst read them


def _analyse_job(job: Tuple[bytes, str, str, bool, bool]) -> Reading:
    """Facts for one file, or the text of an internal error (runs in a worker process)."""
    global _files_read_here
    data, rel, name, is_package, cheap = job
    if _files_read_here is not None:
        _files_read_here += 1
        if _files_read_here % COLLECT_EVERY == 0:
            gc.collect()
    try:
        return read_facts(data, rel, name, is_package, cheap)
    except Exception as error:  # a bug in jobcheck must not stop the run
        if cheap:  # the `ast` reading failed: libcst may still read the file
            return _analyse_job((data, rel, name, is_package, False))
        return internal_error_message(error), True


def _located(error: Optional[SyntaxError]) -> Optional[Exception]:
    """CPython's syntax error, as the message and place reported for JC001."""
    if error is None:
        return None
    plain = _Plain(error.msg)
    plain.raw_line = error.lineno or 1  # type: ignore[attr-defined]
    plain.raw_column = max((error.offset or 1) - 1, 0)  # type: ignore[attr-defined]
    return plain


class _Plain(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SourceSet:
    """The project's files: bytes read once, each parsed at most once, on demand."""

    def __init__(
        self,
        sources: Sequence[file_discovery.SourceFile],
        root: Path,
        jobs: int = 1,
        overrides: Optional[Dict[str, bytes]] = None,
        cache: Any = None,
    ) -> None:
        self.jobs = jobs
        self.cache = cache  # jobcheck.cache.FactsCache, or None
        self._pool = None
        namer = file_discovery.ModuleNamer(root)
        self.names: Dict[str, Tuple[str, bool]] = {}
        self.by_module: Dict[str, str] = {}
        self.data: Dict[str, bytes] = {}
        self.parsed: Dict[str, ModuleFacts] = {}
        self.requested: Set[str] = set()  # parsed because the analysis asked (not only prefetched)
        self.notifications: List[Notification] = []  # files that could not be read
        self.failures: Dict[str, str] = {}  # rel -> internal error while extracting its facts
        self.by_libcst: Set[str] = set()  # files whose facts libcst read (the others: `ast`)
        self._libcst_reads: Dict[str, Any] = {}  # rel -> the future of its libcst reading, None: to read here
        self._prefetching: Dict[str, Any] = {}  # rel -> the future of its `ast` reading, ahead of need
        self._keys: Dict[str, str] = {}  # rel -> its facts cache key
        overrides = overrides or {}
        for source in sources:
            try:
                self.data[source.rel] = overrides[source.rel] if source.rel in overrides else source.path.read_bytes()
            except OSError as error:
                self.notifications.append(Notification(source.rel, f"cannot read: {error.strerror or error}"))
                continue
            name, is_package = namer(source.rel)
            self.names[source.rel] = (name, is_package)
            self.by_module.setdefault(name, source.rel)

    def parse(self, rel: str) -> Optional[ModuleFacts]:
        """A module the analysis reached through the index (a helper, a model)."""
        self._settle(rel)
        if self._unread(rel):
            self._store(rel, _analyse_job(self._job(rel, cheap=True)))
        return self.parsed.get(rel)

    def _settle(self, rel: str) -> None:
        """Take a read-ahead reading: wait for it if a worker has started it; else drop the job,
        and the caller reads the file (a worker would get to it only after those queued before)."""
        pending = self._prefetching.pop(rel, None)
        if pending is not None and not pending.cancel():
            self._store(rel, self._result(pending, rel, cheap=True))

    def _result(self, pending: Any, rel: str, cheap: bool) -> Reading:
        """A worker's reading (`pending`), or one made here: with no worker job, or when the
        workers are gone (a process killed, out of memory; everything after it is read here too)."""
        from concurrent.futures import BrokenExecutor
        from concurrent.futures import TimeoutError as StillRunning

        while pending is not None:
            try:
                return pending.result(timeout=WAIT_SLICE)
            except StillRunning:
                if self._workers_alive():
                    continue
            except BrokenExecutor:
                pass
            self._lose_workers()
            break
        return _analyse_job(self._job(rel, cheap))

    def _workers_alive(self) -> bool:
        """Whether the pool still takes work. (A job submitted while the pool was breaking can
        stay pending forever: CPython fails only the jobs it knew of.)"""
        from concurrent.futures import BrokenExecutor

        try:
            self._pool.submit(int).cancel()
        except (BrokenExecutor, RuntimeError):
            return False
        return True

    def _lose_workers(self) -> None:
        self.jobs = 1  # (the pool is shut down at `close`)

    @property
    def _lost(self) -> bool:
        """The workers broke down (a pool exists only with several jobs)."""
        return self._pool is not None and self.jobs == 1

    def analysis_notifications(self) -> List[Notification]:
        """Unreadable files, and internal errors of files the analysis asked for (a module only
        prefetched plays no part, so its failure must not make the run's output depend on --jobs)."""
        failed = [Notification(rel, message, "internal") for rel, message in sorted(self.failures.items())]
        return self.notifications + [n for n in failed if n.path in self.requested]

    def requested_modules(self) -> List[ModuleFacts]:
        """What was selected or reached by the analysis; a module only prefetched plays no part."""
        return sorted((self.parsed[rel] for rel in self.requested if rel in self.parsed), key=lambda m: m.path)

    def parse_many(self, rels: Sequence[str]) -> List[ModuleFacts]:
        """Read files with `ast`, fanned out over processes when there are enough to pay for it."""
        self.requested.update(rels)
        for rel in rels:
            self._settle(rel)
        todo = self._largest_first(rel for rel in dict.fromkeys(rels) if self._unread(rel))
        parallel = self.jobs > 1 and len(todo) >= PARALLEL_THRESHOLD
        pending = [self._submit(len(todo), self._job(rel, cheap=True)) if parallel else None for rel in todo]
        for rel, job in zip(todo, pending):
            self._store(rel, self._result(job, rel, cheap=True))
        return [self.parsed[rel] for rel in rels if rel in self.parsed]

    def _largest_first(self, rels: Iterable[str]) -> List[str]:
        """Jobs go out one at a time, the largest first: no worker is left with a big one at the end."""
        return sorted(rels, key=lambda rel: -len(self.data[rel]))

    def start_libcst(self, rels: Iterable[str]) -> None:
        """Begin reading these files with libcst, in worker processes while the analysis goes on
        (with --jobs 1, `confirm_libcst` reads them). A file the cache served with libcst's facts
        is in `by_libcst` already."""
        done = self.by_libcst.union(self._libcst_reads)
        todo = [rel for rel in set(rels) if rel in self.parsed and rel not in done]
        for rel in self._largest_first(todo):
            self._libcst_reads[rel] = self._submit(len(todo), self._job(rel, cheap=False))

    def confirm_libcst(self, rels: Iterable[str]) -> bool:
        """Make libcst's facts of these files the ones the analysis uses (DESIGN: task modules
        and everything reported go through libcst). The two readings agree (tests compare them
        on every fixture, fuzzed modules and real projects); True if a file's facts changed
        all the same, and the analysis must be done again."""
        self.start_libcst(rels)
        for rel in [rel for rel, pending in self._prefetching.items() if pending.cancel()]:
            del self._prefetching[rel]  # the analysis is done: no worker should start a guess now
        changed = False
        for rel, pending in sorted(self._libcst_reads.items()):
            before = self.parsed.get(rel)
            self._store(rel, self._result(pending, rel, cheap=False))
            changed = changed or self.parsed.get(rel) != before
        self._libcst_reads.clear()
        return changed

    def _unread(self, rel: str) -> bool:
        """Not read yet (nor failed: a file whose reading failed is not read again), nor cached."""
        return rel not in self.parsed and rel not in self.failures and rel in self.data and not self._from_cache(rel)

    def _job(self, rel: str, cheap: bool) -> Tuple[bytes, str, str, bool, bool]:
        return (self.data[rel], rel, *self.names[rel], cheap)

    def _key(self, rel: str) -> str:
        if rel not in self._keys:
            self._keys[rel] = self.cache.key(self.data[rel], rel, *self.names[rel])
        return self._keys[rel]

    def _workers(self, wanted: int) -> Any:
        """The run's worker processes, started for `wanted` jobs at most (fork starts them all at once)."""
        if self._pool is None:
            self._pool = _start_pool(min(self.jobs, wanted))
        return self._pool

    def _submit(self, wanted: int, job: Tuple[bytes, str, str, bool, bool]) -> Any:
        """The future of a job run by a worker, or None: to be read here (one process, or the
        workers are gone)."""
        from concurrent.futures import BrokenExecutor

        if self.jobs > 1:
            try:
                return self._workers(wanted).submit(_analyse_job, job)
            except BrokenExecutor:
                self._lose_workers()
        return None

    def _from_cache(self, rel: str) -> bool:
        if self.cache is None:
            return False
        known = self.cache.get(self._key(rel))
        if known is not None:
            self.parsed[rel] = known[0]
            if known[1]:
                self.by_libcst.add(rel)
        return known is not None

    def _store(self, rel: str, reading: Reading) -> None:
        outcome, by_libcst = reading
        if by_libcst:
            self.by_libcst.add(rel)
        if isinstance(outcome, str):
            self.failures[rel] = outcome
            self.parsed.pop(rel, None)
            return
        self.parsed[rel] = outcome
        if self.cache is not None:
            self.cache.put(self._key(rel), outcome, by_libcst)

    def close(self) -> None:
        for pending in self._libcst_reads.values():
            if pending is not None:
                pending.cancel()  # (a run that failed)
        self._libcst_reads.clear()
        for rel, pending in sorted(self._prefetching.items()):
            if pending.done() and not pending.cancelled() and pending.exception() is None:
                self._store(rel, pending.result())  # for the cache: the next run may need it
            else:
                pending.cancel()
        self._prefetching.clear()
        if self._pool is not None:
            if self._lost:
                # CPython may leave workers of a broken pool waiting for work forever (and the
                # interpreter waits for them at exit); there is no public way to end them before 3.14
                workers = list((getattr(self._pool, "_processes", None) or {}).values())
                for process in workers:
                    process.terminate()
                for process in workers:
                    process.join(timeout=5)
            self._pool.shutdown()
            self._pool = None

    def load_module(self, name: str) -> Optional[ModuleFacts]:
        rel = self.by_module.get(name)
        if rel is None:
            return None
        self.requested.add(rel)
        return self.parse(rel)

    def prefetch_imports(self, modules: Iterable[ModuleFacts]) -> None:
        """Start reading, in the worker processes, the project modules these modules import:
        the analysis reaches most of them through calls into helpers, and would otherwise read
        them one by one. It goes on meanwhile, and takes each reading when it needs the module."""
        wanted = []
        for facts in modules:
            for _, target in facts.imports:
                parts = target.split(".")
                for cut in range(len(parts), 0, -1):
                    rel = self.by_module.get(".".join(parts[:cut]))
                    if rel is not None:
                        wanted.append(rel)
                        break
        todo = [rel for rel in dict.fromkeys(wanted) if rel not in self._prefetching and self._unread(rel)]
        if self._pool is None and len(todo) < PARALLEL_THRESHOLD:
            return  # the analysis reads the few it needs
        for rel in self._largest_first(todo):
            pending = self._submit(len(todo), self._job(rel, cheap=True))
            if pending is None:
                return
            self._prefetching[rel] = pending

    def select(self, knowledge, config: Config) -> List[ModuleFacts]:
        """The files that can matter (see prefilter), parsed, in rounds until none is added."""
        from jobcheck.analysis.index import ProjectIndex
        from jobcheck.frameworks import job_symbols

        modules = [m for spec in knowledge.frameworks.values() for m in spec.get("modules", ())]
        modules += [name.split(".")[0] for name, _ in config.task_decorators]
        imports_framework = prefilter.FrameworkImports(modules)
        imports = prefilter.ImportStatements()
        first = self.parse_many([rel for rel, d in self.data.items() if imports_framework.search(imports.text(d))])
        selected = {facts.path: facts for facts in first}
        needles = prefilter.SymbolNeedles(imports)
        for _ in range(4):
            # the job symbols of what is selected so far (wrappers may live in stage-2 modules)
            index = ProjectIndex(list(selected.values()), knowledge, set(self.by_module), self.load_module)
            symbols = job_symbols(index)
            for module, names in symbols.items():
                needles.add(module, names, index.modules[module].is_package)
            matcher = needles.matcher()
            stage = [rel for rel, data in self.data.items() if rel not in selected and matcher.matches(data)]
            if not stage:
                break
            known = needles.known()
            for facts in self.parse_many(stage):
                selected[facts.path] = facts
                if facts.error is None:
                    needles.add_reexports(facts, known)
        if self.jobs > 1:
            # the analysis starts at the tasks: the helpers job modules import are read ahead (read
            # for every selected module, views included, a third of them went unused on osf.io;
            # a second level parsed more than it saved)
            self.prefetch_imports([index.modules[name] for name in symbols if name in index.modules])
        return list(selected.values())


VERSIONED_PACKAGES = ("huey",)  # packages whose version changes a verdict


def _relative(path: Path, config: Config) -> str:
    return Path(os.path.relpath(path.resolve(), config.root.resolve())).as_posix()


def _files_to_read(
    paths: List[Path], config: Config, stdin: Optional[Tuple[Path, bytes]]
) -> Tuple[List[file_discovery.SourceFile], Optional[Set[str]], List[Tuple[str, str]]]:
    """(files to read, the files whose findings are reported or None for all, errors)."""
    if stdin is not None:
        rel = _relative(stdin[0], config)
        if rel.startswith("../"):
            return [], set(), [(str(stdin[0]), "outside the project root " + str(config.root))]
        if file_discovery.excluded_file(rel, config):
            return [], set(), []  # excluded: nothing to report, as for a named file
        context = file_discovery.discover([config.root], config)
        files = [f for f in context.files if f.rel != rel] + [file_discovery.SourceFile(stdin[0].resolve(), rel)]
        return files, {rel}, context.errors
    discovery = file_discovery.discover(paths, config)
    if not any(p.is_file() for p in paths):
        return discovery.files, None, discovery.errors
    targets = {f.rel for f in discovery.files}
    context = file_discovery.discover([config.root], config)
    known = {f.rel for f in context.files}
    files = context.files + [f for f in discovery.files if f.rel not in known]
    return files, targets, discovery.errors


def _fingerprint(findings: List[Finding], data: Dict[str, bytes]) -> None:
    """Each finding's line-free fingerprint, numbered over all findings of the run (before
    suppressions and baselines split them), from the text analysed (stdin included)."""
    from jobcheck.report.fingerprint import LINE_BREAK, decode_like_node, stable_fingerprints

    lines: Dict[str, List[str]] = {}

    def line(path: str, number: int) -> str:
        if path not in lines:
            lines[path] = LINE_BREAK.split(decode_like_node(data[path])) if path in data else []
        return lines[path][number - 1] if 0 < number <= len(lines[path]) else ""

    ordered = sorted(findings, key=Finding.sort_key)
    keys = ((f.code, f.location.path, f.task or "", line(f.location.path, f.location.line)) for f in ordered)
    for finding, print_ in zip(ordered, stable_fingerprints(keys)):
        finding.extra["fingerprint"] = print_


def _suppress(findings: List[Finding], data: Dict[str, bytes], project: Any, ran: Set[str]):
    """Leave out what suppression comments silence; report unused ones as JC002 when it ran."""
    from jobcheck import suppressions

    task_lines = {task.qualname: task.location for task in getattr(project, "tasks", ())}
    # a finding can be silenced on its own lines or on its task's `def` line, in another file
    with_findings = {f.location.path for f in findings} | {
        task_lines[f.task].path for f in findings if f.task in task_lines
    }
    directives_of = {
        rel: suppressions.read_directives(raw.decode("utf-8", errors="replace"))
        for rel, raw in data.items()
        if (rel in with_findings and suppressions.may_hold_any(raw))
        or ("JC002" in ran and suppressions.may_hold_ours(raw))
    }
    directives_of = {rel: found for rel, found in directives_of.items() if found}
    kept, suppressed = suppressions.apply(findings, directives_of, task_lines)
    if "JC002" in ran:
        kept.extend(suppressions.unused(directives_of, ran))
    return kept, suppressed


def internal_error_message(error: BaseException) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"{type(error).__name__}: {error}{where}"  # the notification's kind says it is an internal error


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run(
    paths: List[Path],
    config: Config,
    catalog: Catalog,
    codes: Iterable[str],
    jobs: int = 1,
    stdin: Optional[Tuple[Path, bytes]] = None,
    cache_dir: Optional[Path] = None,
) -> RunResult:
    """Check `paths`. Files named one by one (pre-commit) or read from stdin (editors, as
    `stdin` = (the file's path, its text)) are checked in their project's context: the
    whole project is read for tasks, helpers and settings, and only their findings are kept."""
    with _without_cycle_collection():
        return _run(paths, config, catalog, codes, jobs, stdin, cache_dir)


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """A run builds a large graph of facts that lives until the run ends and holds almost no
    reference cycles; the cyclic collector would traverse all of it again and again (a fifth
    of a cold run on saleor) to free nothing. Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(
    paths: List[Path],
    config: Config,
    catalog: Catalog,
    codes: Iterable[str],
    jobs: int,
    stdin: Optional[Tuple[Path, bytes]],
    cache_dir: Optional[Path],
) -> RunResult:
    from jobcheck.cache import FactsCache, RunCache

    result = RunResult(root=config.root)
    files, targets, errors = _files_to_read(paths, config, stdin)
    result.notifications.extend(Notification(path, problem) for path, problem in errors)
    overrides = {_relative(stdin[0], config): stdin[1]} if stdin is not None else {}
    codes = set(codes)
    runs = RunCache(cache_dir) if cache_dir is not None else None
    slot = key = ""
    quick: Optional[str] = None
    if runs is not None:
        slot = RunCache.slot(repr(config), ",".join(sorted(codes)), repr(None if targets is None else sorted(targets)))
        others = _other_inputs(config.root)
        quick = RunCache.quick_key(slot, _file_stats(files), overrides, others)
        cached = runs.get(slot, quick) if quick is not None else None
        if isinstance(cached, CachedRun):
            return cached.restore(result, overrides)  # reports read the files they quote
    cache = FactsCache(cache_dir) if cache_dir is not None else None
    sources = SourceSet(files, config.root, jobs, overrides, cache)
    if runs is not None:
        key = RunCache.key(slot, sources.data, others)
        cached = runs.get(slot, key)
        if isinstance(cached, CachedRun):
            runs.put(slot, (key, quick), cached)  # files touched, not changed (a checkout)
            return cached.restore(result, sources.data)
    _analyse(result, sources, config, catalog, codes, targets, files)
    if runs is not None and not any(n.kind == "internal" for n in result.notifications):
        runs.put(slot, (key, quick), CachedRun.of(result, errors))
    return result


RECENT_NS = 2_000_000_000  # a file changed this recently may change again within its mtime's tick


def _file_stats(files: Sequence[file_discovery.SourceFile]) -> Optional[List[Tuple[str, int, int, int, int]]]:
    """(path, size, mtime, ctime, inode) of every file, to recognise an unchanged tree without
    reading it, as git's index does (a copy or `touch -d` that puts the time back still changes
    ctime or inode); None when a file changed in the last two seconds: an edit within the same
    clock tick would keep all of these (git's "racy" files), so such a tree is judged by content."""
    import time

    recent = time.time_ns() - RECENT_NS
    stats = []
    for source in files:
        try:
            info = os.stat(source.path)
        except OSError:
            stats.append((source.rel, -1, -1, -1, -1))
            continue
        if info.st_mtime_ns >= recent:
            return None
        stats.append((source.rel, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))
    return stats


@dataclass
class CachedRun:
    """What a run computed from its inputs (the project itself is not kept)."""

    findings: List[Finding]
    suppressed: List[Any]
    notifications: List[Notification]  # those of the analysis, not of discovery
    files_checked: int

    @classmethod
    def of(cls, result: RunResult, discovery_errors: List[Tuple[str, str]]) -> "CachedRun":
        found_again = set(discovery_errors)  # each run reports these itself
        analysed = [n for n in result.notifications if (n.path, n.message) not in found_again]
        return cls(result.findings, result.suppressed, analysed, result.files_checked)

    def restore(self, result: RunResult, texts: Dict[str, bytes]) -> RunResult:
        from types import SimpleNamespace

        result.findings = list(self.findings)
        result.suppressed = list(self.suppressed)
        result.notifications.extend(self.notifications)
        result.notifications.sort(key=lambda n: (n.path, n.message))
        result.files_checked = self.files_checked
        # reports quote source lines from the texts analysed, else from disk; nothing else is needed
        result.project = SimpleNamespace(texts=texts, tasks=())
        return result


def _other_inputs(root: Path) -> List[Tuple[str, bytes]]:
    """The files besides Python sources a run reads: worker declarations, dependency versions."""
    from jobcheck import versions, workers

    found = []
    for path in sorted(set(workers.input_files(root)) | set(versions.input_files(root))):
        try:
            found.append((path.as_posix(), path.read_bytes()))
        except OSError:
            found.append((path.as_posix(), b"\0missing"))
    return found


def _analyse(
    result: RunResult,
    sources: "SourceSet",
    config: Config,
    catalog: Catalog,
    codes: Set[str],
    targets: Optional[Set[str]],
    files: List[Any],
) -> None:
    knowledge = load_knowledge(config.task_decorators, config.enqueue_functions)
    try:
        while True:
            checked = _check(sources, knowledge, config, catalog, codes, targets)
            if not sources.confirm_libcst(checked.read_by_libcst()):
                break
    finally:
        sources.close()
    result.project = checked.project
    result.modules = sources.requested_modules()
    result.files_checked = len(files) if targets is None else len(targets)
    result.notifications.extend(checked.notifications)
    result.notifications.extend(sources.analysis_notifications())
    result.findings = sorted(checked.findings, key=Finding.sort_key)
    result.suppressed = checked.suppressed
    result.notifications.sort(key=lambda n: (n.path, n.message))


@dataclass
class _Checked:
    project: Any
    findings: List[Finding]
    suppressed: List[Any]
    notifications: List[Notification]  # internal errors of project passes and checks

    def read_by_libcst(self) -> Set[str]:
        """The files whose facts must be libcst's: task modules, and the files findings are
        reported in. (The helpers a finding's call chain passes through are read for the
        project index, by `ast`.)"""
        reported = [*self.findings, *(s.finding for s in self.suppressed)]
        return {task.location.path for task in self.project.tasks} | {f.location.path for f in reported}


def _check(
    sources: "SourceSet",
    knowledge: Any,
    config: Config,
    catalog: Catalog,
    codes: Set[str],
    targets: Optional[Set[str]],
) -> _Checked:
    from jobcheck.analysis.index import ProjectIndex
    from jobcheck.checks import run_checks
    from jobcheck.frameworks import Project, build_project
    from jobcheck.versions import declared_versions
    from jobcheck.workers import find_workers

    notifications: List[Notification] = []
    sources.requested.clear()  # (a second pass asks again, from the facts libcst read)
    selected = sources.select(knowledge, config)
    index = ProjectIndex(selected, knowledge, set(sources.by_module), sources.load_module)
    try:
        project = build_project(index)
    except Exception as error:  # a bug in a project-level pass: report it, keep the per-file results
        notifications.append(Notification(".", internal_error_message(error), "internal"))
        project = Project(index=index)
    sources.start_libcst(task.location.path for task in project.tasks)  # read while the checks run
    project.workers = find_workers(config.root, config.worker_queues)
    project.versions = declared_versions(config.root, VERSIONED_PACKAGES)
    project.texts = sources.data
    findings, failures = run_checks(project, sources.requested_modules(), config, catalog, codes)
    findings = [f for f in findings if not config.ignored_here(f.location.path, f.code)]
    _fingerprint(findings, sources.data)
    findings, suppressed = _suppress(findings, sources.data, project, codes)
    findings = [f for f in findings if not config.ignored_here(f.location.path, f.code)]  # JC002 too
    if targets is not None:
        findings = [f for f in findings if f.location.path in targets]
        suppressed = [s for s in suppressed if s.finding.location.path in targets]
        failures = [(path, message) for path, message in failures if path in targets or path == "."]
    notifications.extend(Notification(path, message, "internal") for path, message in failures)
    return _Checked(project, findings, suppressed, notifications)
