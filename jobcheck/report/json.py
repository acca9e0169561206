"""JSON: a list of findings, stable key order, plus notifications."""

from __future__ import annotations

import json
from typing import Any, Dict

from jobcheck.catalog import Catalog
from jobcheck.engine import RunResult
from jobcheck.model import Finding, Location
from jobcheck.report.findings import fingerprints
from jobcheck.report.sources import Sources


def location_json(location: Location) -> Dict[str, Any]:
    line, col, end_line, end_col = location.span
    return {
        "path": location.path,
        "line": line,
        "column": col + 1,
        "end_line": end_line,
        "end_column": end_col + 1,
    }


def finding_json(finding: Finding, catalog: Catalog) -> Dict[str, Any]:
    rule = catalog.rules.get(finding.code)
    return {
        "code": finding.code,
        "name": rule.name if rule else None,
        "level": rule.level if rule else "error",
        "message": finding.message,
        "task": finding.task,
        "location": location_json(finding.location),
        "related": [{"message": r.message, "location": location_json(r.location)} for r in finding.related],
    }


def render(result: RunResult, catalog: Catalog, *, include_suppressed: bool = False) -> str:
    sources = Sources.of(result)
    findings = []
    for finding, print_ in zip(result.findings, fingerprints(result.findings, sources)):
        findings.append({**finding_json(finding, catalog), "fingerprint": print_})
    document: Dict[str, Any] = {
        "findings": findings,
        "errors": [{"path": n.path, "message": n.message, "kind": n.kind} for n in result.notifications],
        "files_checked": result.files_checked,
        "suppressed": len(result.suppressed),
    }
    if include_suppressed:
        document["suppressed_findings"] = [
            {**finding_json(s.finding, catalog), "reason": s.reason} for s in result.suppressed
        ]
    if result.baseline is not None:
        document["baseline"] = {"file": result.baseline, "unchanged": len(result.unchanged), "absent": result.absent}
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
