"""The registry of checks. A check reads facts and yields Findings; it never parses or reads files.

Each check module defines `CODES` (the rule codes it reports) and either
`check_module(ctx, module)` (run once per file; a crash is confined to that file) or
`check_project(ctx)` (run once per project).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Set, Tuple

from jobcheck.catalog import Catalog
from jobcheck.config import Config
from jobcheck.model import Finding, ModuleFacts

from jobcheck.checks import syntax

CHECK_MODULES = (syntax,)


@dataclass
class CheckContext:
    project: Any  # jobcheck.frameworks.Project
    config: Config
    catalog: Catalog
    selected: Set[str]

    def options(self, code: str) -> Dict[str, Any]:
        defaults = {k: spec.get("default") for k, spec in self.catalog.rule(code).options.items()}
        defaults.update(self.config.rule_options(code))
        return defaults


def implemented_codes() -> Set[str]:
    return {code for module in CHECK_MODULES for code in module.CODES}


def run_checks(
    project: Any, modules: List[ModuleFacts], config: Config, catalog: Catalog, selected: Set[str]
) -> Tuple[List[Finding], List[Tuple[str, str]]]:
    from jobcheck.engine import _internal

    ctx = CheckContext(project, config, catalog, selected)
    findings: List[Finding] = []
    failures: List[Tuple[str, str]] = []
    for check in CHECK_MODULES:
        if not selected & set(check.CODES):
            continue
        if hasattr(check, "check_module"):
            for module in modules:
                try:
                    findings.extend(f for f in check.check_module(ctx, module) if f.code in selected)
                except Exception as error:
                    failures.append((module.path, f"{check.__name__.rsplit('.', 1)[-1]}: {_internal(error)}"))
        else:
            try:
                findings.extend(f for f in check.check_project(ctx) if f.code in selected)
            except Exception as error:
                failures.append((".", f"{check.__name__.rsplit('.', 1)[-1]}: {_internal(error)}"))
    return findings, failures
