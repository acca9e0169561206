"""SARIF 2.1.0 for GitHub code scanning and editors (schema-validated in the tests).

Regions are 1-based with columns in UTF-16 code units; URIs are relative to %SRCROOT%;
`primaryLocationLineHash` is GitHub's own line hash, so uploads need no source access;
`jobcheck/v1` is a fingerprint without line numbers (the one baselines use). Output is
deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict
from urllib.parse import quote

from jobcheck import HOMEPAGE, __version__
from jobcheck.catalog import DOC_SECTIONS, Catalog, Rule
from jobcheck.engine import RunResult
from jobcheck.model import Finding, Location
from jobcheck.report.findings import Reported, reported_findings
from jobcheck.report.sources import Sources

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"


def render(result: RunResult, catalog: Catalog, *, include_suppressed: bool = False) -> str:
    sources = Sources.of(result)
    codes = sorted(catalog.rules)
    rule_index = {code: i for i, code in enumerate(codes)}
    results = [
        _result(item, catalog, rule_index, sources)
        for item in reported_findings(result, sources)
        if include_suppressed or not item.suppressions
    ]
    run: Dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "jobcheck",
                "semanticVersion": __version__,
                "version": __version__,
                "informationUri": HOMEPAGE,
                "rules": [_rule(catalog.rule(code)) for code in codes],
            }
        },
        "automationDetails": {"id": "jobcheck/"},
        "originalUriBaseIds": {SRCROOT: {"uri": _root_uri(result.root)}},
        "invocations": [_invocation(result, sources)],
        "results": results,
        "columnKind": "utf16CodeUnits",
    }
    document = {"version": "2.1.0", "$schema": SCHEMA, "runs": [run]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _root_uri(root: Path) -> str:
    return Path(root).resolve().as_uri().rstrip("/") + "/"


def rule_help_uri(code: str) -> str:
    return f"{HOMEPAGE}/blob/main/rules/{code}.yaml"


def _rule(rule: Rule) -> Dict[str, Any]:
    markdown = _help_markdown(rule)
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": (rule.docs.get("what_it_does") or rule.summary).strip()},
        "help": {"text": markdown, "markdown": markdown},
        "helpUri": rule_help_uri(rule.code),
        "defaultConfiguration": {"level": rule.level, "enabled": rule.default},
        "properties": {"tags": list(rule.tags), "precision": rule.precision},
    }


def _help_markdown(rule: Rule) -> str:
    parts = [rule.summary]
    for key, title in DOC_SECTIONS:
        text = rule.docs.get(key)
        if text:
            parts.append(f"## {title}\n\n{text.strip()}")
    return "\n\n".join(parts) + "\n"


def _physical(location: Location, sources: Sources) -> Dict[str, Any]:
    line, col, end_line, end_col = location.span
    region: Dict[str, Any] = {"startLine": max(line, 1), "startColumn": sources.utf16_column(location.path, line, col)}
    if end_line >= line and (end_line, end_col) != (line, col):
        region["endLine"] = end_line
        region["endColumn"] = sources.utf16_column(location.path, end_line, end_col)
    return {"artifactLocation": {"uri": quote(location.path), "uriBaseId": SRCROOT}, "region": region}


def _result(item: Reported, catalog: Catalog, rule_index: Dict[str, int], sources: Sources) -> Dict[str, Any]:
    finding = item.finding
    level = catalog.rule(finding.code).level if finding.code in catalog else "error"
    entry: Dict[str, Any] = {
        "ruleId": finding.code,
        "level": level,
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": _physical(finding.location, sources)}],
        "partialFingerprints": _fingerprints(finding, item.fingerprint, sources),
    }
    if finding.code in rule_index:
        entry["ruleIndex"] = rule_index[finding.code]
    if finding.related:
        entry["relatedLocations"] = [
            {"id": i, "physicalLocation": _physical(r.location, sources), "message": {"text": r.message}}
            for i, r in enumerate(finding.related, start=1)
        ]
        if any(r.step for r in finding.related):
            entry["codeFlows"] = [_code_flow(finding, sources)]
    if finding.task:
        entry["properties"] = {"task": finding.task}
    if item.baseline_state is not None:
        entry["baselineState"] = item.baseline_state
    if item.suppressions:
        entry["suppressions"] = [dict(s) for s in item.suppressions]
    return entry


def _fingerprints(finding: Finding, stable: str, sources: Sources) -> Dict[str, str]:
    prints = {"jobcheck/v1": stable}
    line_hash = sources.line_hashes(finding.location.path).get(finding.location.line)
    if line_hash is not None:
        prints["primaryLocationLineHash"] = line_hash
    return prints


def _code_flow(finding: Finding, sources: Sources) -> Dict[str, Any]:
    steps = [(finding.location, "called from the task body")] + [(r.location, r.message) for r in finding.related if r.step]
    return {
        "threadFlows": [
            {
                "locations": [
                    {
                        "location": {"physicalLocation": _physical(location, sources), "message": {"text": message}},
                        "nestingLevel": depth,
                        "executionOrder": depth + 1,
                    }
                    for depth, (location, message) in enumerate(steps)
                ]
            }
        ]
    }


def _invocation(result: RunResult, sources: Sources) -> Dict[str, Any]:
    """Files jobcheck could not analyse: unreadable ones and internal errors (which make the
    run fail), and files that do not parse (JC001 results too; the rest was checked)."""
    notifications = [
        {
            "level": "error",
            "message": {"text": f.message},
            "locations": [{"physicalLocation": _physical(f.location, sources)}],
            "descriptor": {"id": f.code},
        }
        for f in result.findings
        if f.code == "JC001"
    ]
    notifications += [
        {
            "level": "error",
            "message": {"text": n.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": quote(n.path), "uriBaseId": SRCROOT}}}],
            "descriptor": {"id": "internal-error" if n.kind == "internal" else "file-error"},
        }
        for n in result.notifications
    ]
    invocation: Dict[str, Any] = {"executionSuccessful": not result.notifications}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation
