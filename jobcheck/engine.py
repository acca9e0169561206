"""The pipeline: discover -> read -> parse once -> facts -> project -> checks -> findings."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from jobcheck import files as file_discovery
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


def analyse_source(data: bytes, rel: str, module_name: str, is_package: bool) -> ModuleFacts:
    """Per-file facts from the file's bytes; a file that does not parse gives error facts."""
    import libcst as cst

    from jobcheck.analysis import extract

    try:
        module = cst.parse_module(data)
    except cst.ParserSyntaxError as error:
        return extract.syntax_error_facts(rel, module_name, is_package, error)
    except (UnicodeDecodeError, LookupError, SyntaxError, ValueError) as error:
        # undecodable bytes, an unknown coding cookie, a NUL byte
        message = f"cannot decode or tokenize the file: {error}".splitlines()[0]
        return extract.syntax_error_facts(rel, module_name, is_package, _Plain(message))
    except RecursionError:
        return extract.syntax_error_facts(rel, module_name, is_package, _Plain("nesting too deep to parse"))
    return extract.extract(module, rel, module_name, is_package)


class _Plain(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_facts(sources: Sequence[file_discovery.SourceFile], root: Path) -> Tuple[List[ModuleFacts], List[Notification]]:
    namer = file_discovery.ModuleNamer(root)
    modules: List[ModuleFacts] = []
    notifications: List[Notification] = []
    for source in sources:
        try:
            data = source.path.read_bytes()
        except OSError as error:
            notifications.append(Notification(source.rel, f"cannot read: {error.strerror or error}"))
            continue
        module_name, is_package = namer(source.rel)
        try:
            modules.append(analyse_source(data, source.rel, module_name, is_package))
        except Exception as error:  # a bug in jobcheck must not stop the run
            notifications.append(Notification(source.rel, _internal(error), "internal"))
    return modules, notifications


def _internal(error: BaseException) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"internal error: {type(error).__name__}: {error}{where}"


def run(paths: List[Path], config: Config, catalog: Catalog, codes: Iterable[str]) -> RunResult:
    from jobcheck.checks import run_checks
    from jobcheck.frameworks import build_project

    discovery = file_discovery.discover(paths, config)
    result = RunResult()
    result.notifications.extend(Notification(path, problem) for path, problem in discovery.errors)
    modules, notifications = read_facts(discovery.files, config.root)
    result.notifications.extend(notifications)
    result.modules = modules
    result.files_checked = len(discovery.files)
    knowledge = load_knowledge(config.task_decorators)
    project = build_project(modules, knowledge)
    result.project = project
    findings, failures = run_checks(project, modules, config, catalog, set(codes))
    result.findings = sorted(findings, key=Finding.sort_key)
    result.notifications.extend(Notification(path, message, "internal") for path, message in failures)
    result.notifications.sort(key=lambda n: (n.path, n.message))
    return result
