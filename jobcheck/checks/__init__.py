"""The registry of checks. A check reads facts and yields Findings; it never parses or reads files.

Each check module defines `CODES` (the rule codes it reports) and any of
`check_task(ctx, task)` (run per task), `check_module(ctx, module)` (run per file) and
`check_project(ctx)` (run once). A crash is confined to its task or file and becomes an
internal-error notification; every other result is still reported.
"""

from __future__ import annotations

from typing import Any, Dict, List, Set, Tuple

from jobcheck.catalog import Catalog
from jobcheck.checks import (
    arguments,
    blocking,
    failures,
    idempotency,
    locking,
    ordering,
    queues,
    retries,
    retry_policy,
    staleness,
    syntax,
    time_limits,
    transactions,
    visibility,
)
from jobcheck.checks.common import CheckContext
from jobcheck.config import Config
from jobcheck.model import Finding, Location, ModuleFacts

CHECK_MODULES = (
    syntax,
    idempotency,
    retries,
    retry_policy,
    queues,
    transactions,
    staleness,
    time_limits,
    blocking,
    failures,
    arguments,
    locking,
    visibility,
    ordering,
)


def implemented_codes() -> Set[str]:
    from jobcheck import suppressions

    return {code for module in (*CHECK_MODULES, suppressions) for code in module.CODES}


def run_checks(
    project: Any, modules: List[ModuleFacts], config: Config, catalog: Catalog, selected: Set[str]
) -> Tuple[List[Finding], List[Tuple[str, str]]]:
    from jobcheck.engine import internal_error_message

    ctx = CheckContext(project, config, catalog, selected)
    findings: List[Finding] = []
    failures: List[Tuple[str, str]] = []

    def guarded(where: str, check: Any, produce: Any, *args: Any) -> None:
        try:
            findings.extend(f for f in produce(ctx, *args) if f.code in selected)
        except Exception as error:
            failures.append((where, f"in check {check.__name__.rsplit('.', 1)[-1]}: {internal_error_message(error)}"))

    tasks = list(project.tasks) if project is not None else []
    for check in CHECK_MODULES:
        if not selected & set(check.CODES):
            continue
        if hasattr(check, "check_task"):
            for task in tasks:
                guarded(task.location.path, check, check.check_task, task)
        if hasattr(check, "check_module"):
            for module in modules:
                guarded(module.path, check, check.check_module, module)
        if hasattr(check, "check_project"):
            guarded(".", check, check.check_project)
    return _unique(findings), failures


def _unique(findings: List[Finding]) -> List[Finding]:
    seen: Dict[Tuple[str, Location], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.code, finding.location), finding)
    return list(seen.values())
