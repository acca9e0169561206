"""How the project runs its workers: which queues each framework's workers consume.

Read from `worker-queues` in the configuration, or from worker commands in the files that
start processes: Procfile, docker-compose/compose YAML, Kubernetes manifests, supervisor
and systemd units, Dockerfiles and shell scripts (entrypoints). YAML is parsed with pyyaml (never executed); commands are split with
shlex. A worker that names no queue consumes its framework's default (Celery: every queue
of its app's `task_queues`, or `task_default_queue` when there is none, less the queues `-X`
excludes; RQ: `default`); a Dramatiq worker without `-Q` consumes every queue.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional, Set, Tuple

import yaml

DEFAULT = "<default>"  # a worker that consumes the framework's default queue
EVERY = "<every>"  # a worker that consumes every queue (or queues named at deploy time)
TEMPLATED = re.compile(r"\$|%\(|\{\{")
YAML_NAMES = ("docker-compose", "compose")
YAML_FOLDERS = ("k8s", "kubernetes", "deploy", "deployment", "helm", "manifests", "charts", ".k8s")
# shell scripts and Dockerfiles that start workers, up to two folders deep
SCRIPT_PATTERNS = ("*.sh", "*/*.sh", "*/*/*.sh", "*/entrypoint*", "*/*/entrypoint*", "bin/*", "scripts/*")
DOCKERFILE_PATTERNS = ("Dockerfile*", "*/Dockerfile*", "*/*/Dockerfile*", "*.Dockerfile", "*/*.Dockerfile")
MAX_SCRIPT_BYTES = 1 << 20  # a worker command lives in a small file; skip binaries and dumps
SKIPPED_FOLDERS = {"node_modules", ".git", ".venv", "venv", ".tox", "site-packages", "tests", "test"}  # test scripts deploy nothing
RQ_VALUE_OPTIONS = {
    "-u", "--url", "-c", "--config", "-w", "--worker-class", "-j", "--job-class", "-n", "--name", "-P", "--path",
    "--results-ttl", "--worker-ttl", "--job-monitoring-interval", "--logging_level", "--log-format",
    "--date-format", "--exception-handler", "--pid", "--serializer", "-S", "--queue-class", "--connection-class",
    "--max-jobs", "--max-idle-time", "--dequeue-strategy", "--maintenance-interval", "-s", "--sentry-dsn",
    "--settings", "--pythonpath", "--num-workers",
}


@dataclass
class Workers:
    """Queues consumed per framework, and where that was read (for messages)."""

    queues: Dict[str, Set[str]] = field(default_factory=dict)
    sources: List[str] = field(default_factory=list)
    by_framework: Dict[str, List[str]] = field(default_factory=dict)
    # the Celery workers that name no queue: (the app `-A` names, the queues `-X` excludes)
    unnamed: List[Tuple[Optional[str], FrozenSet[str]]] = field(default_factory=list)

    def sources_of(self, framework: str) -> List[str]:
        return self.by_framework.get(framework, self.sources)

    def declared(self, framework: str) -> bool:
        return framework in self.queues

    def consumes(self, framework: str, queue: str, unnamed: Callable[[Optional[str]], Optional[Set[str]]]) -> bool:
        """`unnamed(app)`: what a worker of that app that names no queue consumes (None: any
        queue), as `unnamed_queues` says."""
        consumed = self.queues.get(framework, set())
        if EVERY in consumed or queue in consumed:
            return True
        if DEFAULT not in consumed:
            return False
        for app, excluded in (self.unnamed if framework == "celery" else None) or [(None, frozenset())]:
            queues = unnamed(app)
            if queue not in excluded and (queues is None or queue in queues):
                return True
        return False


def find_workers(root: Path, configured: tuple) -> Workers:
    workers = Workers()
    if configured:
        for framework in ("celery", "rq", "dramatiq", "huey"):
            workers.queues[framework] = set(configured)
        workers.sources.append("worker-queues in the configuration")
        return workers
    for path, command in _commands(root):
        for framework, queues, unnamed in _parse(command):
            workers.queues.setdefault(framework, set()).update(queues)
            if unnamed is not None:
                workers.unnamed.append(unnamed)
            where = path.relative_to(root).as_posix()
            if where not in workers.sources:
                workers.sources.append(where)
            if where not in workers.by_framework.setdefault(framework, []):
                workers.by_framework[framework].append(where)
    return workers


# ------------------------------------------------------------------ files


def input_files(root: Path) -> List[Path]:
    """Every file worker commands are read from (a cached run is valid only while they are unchanged)."""
    return sorted(set(_candidates(root)))


def _commands(root: Path) -> Iterator[tuple]:
    for path in input_files(root):
        try:
            if path.stat().st_size > MAX_SCRIPT_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.suffix in (".yml", ".yaml"):
            for command in _yaml_commands(text):
                yield path, command
        elif path.name.startswith("Procfile"):
            for line in text.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    yield path, line.split(":", 1)[1]
        elif path.suffix in (".conf", ".service"):  # supervisor, systemd
            for line in text.splitlines():
                key, _, value = line.partition("=")
                if key.strip() in ("command", "ExecStart"):
                    yield path, value
        else:  # shell scripts and Dockerfiles: one command per (continued) line
            for line in text.replace("\\\n", " ").splitlines():
                if not line.lstrip().startswith("#"):
                    yield path, _dockerfile_command(line)


def _dockerfile_command(line: str) -> str:
    """`CMD ["celery", "-A", "x", "worker"]` -> `celery -A x worker`; other lines unchanged."""
    head, _, rest = line.strip().partition(" ")
    if head.upper() in ("CMD", "ENTRYPOINT", "RUN") and rest.lstrip().startswith("["):
        try:
            words = yaml.safe_load(rest)
        except Exception:  # a shell `run [...]` line, not JSON: keep the text as it is
            return rest
        if isinstance(words, list):
            return " ".join(shlex.quote(str(w)) for w in words)
    return rest if head.upper() in ("CMD", "ENTRYPOINT", "RUN") else line


def _candidates(root: Path) -> Iterator[Path]:
    for path in root.glob("Procfile*"):
        yield path
    for pattern in ("*.yml", "*.yaml"):
        for path in root.glob(pattern):
            if path.name.startswith(YAML_NAMES):
                yield path
    for folder in YAML_FOLDERS:
        base = root / folder
        if base.is_dir():
            for pattern in ("**/*.yml", "**/*.yaml"):
                yield from base.glob(pattern)
    for pattern in ("*.conf", "*.service", "supervisor*/**/*.conf", "systemd/**/*.service", "deploy/**/*.conf"):
        yield from root.glob(pattern)
    for pattern in SCRIPT_PATTERNS + DOCKERFILE_PATTERNS:
        for path in root.glob(pattern):
            if path.is_file() and not SKIPPED_FOLDERS & set(path.relative_to(root).parts):
                yield path


def _yaml_commands(text: str) -> Iterator[str]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return
    for document in documents:
        yield from _walk_yaml(document)


def _walk_yaml(node) -> Iterator[str]:
    if isinstance(node, dict):
        parts: List[str] = []
        for key in ("entrypoint", "command", "args"):
            value = node.get(key)
            if isinstance(value, str):
                parts.append(value)
            elif isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
                parts.append(" ".join(shlex.quote(str(v)) for v in value))
        if parts:
            yield " ".join(parts)
        for value in node.values():
            yield from _walk_yaml(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_yaml(value)


# ------------------------------------------------------------------ commands


_QUOTING = str.maketrans("", "", "\"'\\")


def _parse(command: str) -> Iterator[tuple]:
    for part in command.replace("&&", ";").replace("||", ";").split(";"):
        bare = part.translate(_QUOTING)  # the words shlex would make, run together
        if "worker" not in bare and "dramatiq" not in bare:
            continue  # (every command below needs one of them; shlex is slow on long scripts)
        try:
            tokens = shlex.split(part)
        except ValueError:
            continue
        found = _celery(tokens) or _rq(tokens) or _dramatiq(tokens)
        if found is not None:
            framework, queues, unnamed = found
            if any(TEMPLATED.search(queue) for queue in queues):
                queues, unnamed = {EVERY}, None  # `-Q $QUEUES`, `%(ENV_QUEUES)s`: decided at deploy time
            yield framework, queues, unnamed


def _celery(tokens: List[str]) -> Optional[tuple]:
    if not any(t.endswith("celery") for t in tokens) or "worker" not in tokens:
        return None
    queues = _option_values(tokens, ("-Q", "--queues"), split_commas=True)
    excluded = _option_values(tokens, ("-X", "--exclude-queues"), split_commas=True)
    if queues:
        return ("celery", queues - excluded, None)
    apps = _option_values(tokens, ("-A", "--app"), split_commas=False)
    app = next(iter(apps)) if len(apps) == 1 else None
    return ("celery", {DEFAULT}, (app, frozenset(excluded)))


def _rq(tokens: List[str]) -> Optional[tuple]:
    if "rqworker" in tokens:
        start = tokens.index("rqworker")
    elif any(t.endswith("rq") for t in tokens) and {"worker", "worker-pool"} & set(tokens):
        start = next(i for i, t in enumerate(tokens) if t in ("worker", "worker-pool"))
    else:
        return None
    queues, skip = set(), False
    for token in tokens[start + 1 :]:
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in RQ_VALUE_OPTIONS
        else:
            queues.add(token)
    return ("rq", queues or {"default"}, None)


def _dramatiq(tokens: List[str]) -> Optional[tuple]:
    if not any(t.endswith("dramatiq") for t in tokens):
        return None
    queues = _option_values(tokens, ("-Q", "--queues"), split_commas=False, several=True)
    return ("dramatiq", queues or {EVERY}, None)


def _option_values(tokens: List[str], names: tuple, split_commas: bool, several: bool = False) -> Set[str]:
    values: List[str] = []
    for i, token in enumerate(tokens):
        for name in names:
            if token.startswith(name + "="):
                values.append(token[len(name) + 1 :])
            elif token == name:
                for value in tokens[i + 1 :]:
                    if value.startswith("-"):
                        break
                    values.append(value)
                    if not several:
                        break
            elif name == "-Q" and token.startswith("-Q") and len(token) > 2:
                values.append(token[2:])
    queues: Set[str] = set()
    for value in values:
        queues.update(v for v in (value.split(",") if split_commas else [value]) if v)
    return queues


def unnamed_queues(project, framework: str, app: Optional[str] = None) -> Optional[Set[str]]:
    """The queues a worker that names none consumes: RQ `default`; Celery the queues of its app's
    `task_queues`, or its `task_default_queue` (`celery` unless set) when there are none. `app`:
    what the worker's `-A` names; every app's queues when it names none of them. None when
    `task_queues` cannot be read: the worker may consume any queue."""
    if framework == "rq":
        return {"default"}
    apps = list(getattr(project, "celery_apps", ()))
    queues: Set[str] = set()
    for chosen in _apps_named(apps, app) or apps:
        declared = chosen.setting("task_queues")
        names = _queue_names(declared.value, project) if declared is not None else set()
        if names is None:
            return None
        if names:
            queues |= names
        else:
            default = chosen.setting("task_default_queue")
            queues.add(default.value if default is not None and isinstance(default.value, str) else "celery")
    return queues or {"celery"}


def _apps_named(apps: List[Any], app: Optional[str]) -> List[Any]:
    """The apps `-A pkg.module` (or `pkg.module:app`, or a package holding them) names."""
    if not app:
        return []
    module = app.split(":")[0]
    return [a for a in apps if a.qname.startswith(module + ".")]


def _queue_names(value: Any, project: Any) -> Optional[Set[str]]:
    """The names in a `task_queues` value: `(Queue("a", ...), Queue(name=B))`, or the keys of the
    old dict form; an empty set for None or an empty list; None if a name cannot be read."""
    from jobcheck.model import Call, Collection, Const, Name

    if isinstance(value, Const):
        value = value.value
    if value is None or value == () or value == []:
        return set()
    if isinstance(value, dict):
        return {str(key) for key in value} if all(isinstance(key, str) for key in value) else None
    if isinstance(value, Collection) and value.kind == "dict":
        keys = [key.value if isinstance(key, Const) else None for key in value.keys]
        return set(keys) if all(isinstance(key, str) for key in keys) else None
    if not (isinstance(value, Collection) and value.kind in ("list", "tuple", "set")):
        return None
    names = set()
    for item in value.items:
        if not isinstance(item, Call):
            return None
        name = item.kwarg("name") or (item.args[0] if item.args else None)
        if isinstance(name, Name) and name.kind == "global":  # `Queue(LOW)`: a constant elsewhere
            target = project.index.resolve(name.qname)
            name = target.expr if target.kind == "value" and not target.attrs else None
        if not (isinstance(name, Const) and isinstance(name.value, str)):
            return None
        names.add(name.value)
    return names
