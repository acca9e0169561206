"""CI formats: GitHub workflow commands, GitLab Code Quality, JUnit XML."""

from __future__ import annotations

import json
from typing import Dict, List
from xml.etree import ElementTree

from jobcheck.catalog import Catalog
from jobcheck.engine import RunResult
from jobcheck.report.findings import fingerprints
from jobcheck.report.sources import Sources

GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}
GITLAB_SEVERITY = {"error": "major", "warning": "minor", "note": "info"}


def _level(catalog: Catalog, code: str) -> str:
    return catalog.rule(code).level if code in catalog else "error"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(result: RunResult, catalog: Catalog) -> str:
    """`::error file=...,line=...::message` workflow commands: annotations on the pull request."""
    lines = []
    for f in result.findings:
        line, col, end_line, end_col = f.location.span
        name = catalog.rule(f.code).name if f.code in catalog else ""
        props = [
            f"file={_escape_property(f.location.path)}",
            f"line={line}",
            f"col={col + 1}",
            f"endLine={end_line}",
            f"endColumn={end_col + 1}",
            f"title={_escape_property(f'{f.code} {name}'.strip())}",
        ]
        lines.append(f"::{GITHUB_LEVEL[_level(catalog, f.code)]} {','.join(props)}::{_escape_data(f.code + ' ' + f.message)}")
    for n in result.notifications:
        lines.append(f"::error file={_escape_property(n.path)},title=jobcheck::{_escape_data(n.message)}")
    return "".join(line + "\n" for line in lines)


def gitlab(result: RunResult, catalog: Catalog) -> str:
    """GitLab Code Quality report: a JSON list of issues with stable fingerprints."""
    sources = Sources.of(result)
    issues: List[Dict] = []
    for f, print_ in zip(result.findings, fingerprints(result.findings, sources)):
        issues.append(
            {
                "description": f"{f.code} {f.message}",
                "check_name": f.code,
                "fingerprint": print_,
                "severity": GITLAB_SEVERITY[_level(catalog, f.code)],
                "location": {"path": f.location.path, "lines": {"begin": f.location.line, "end": f.location.span[2]}},
            }
        )
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"


def junit(result: RunResult, catalog: Catalog) -> str:
    """JUnit XML: a test suite per file, a failing test case per finding."""
    root = ElementTree.Element("testsuites", name="jobcheck")
    by_path: Dict[str, List] = {}
    for f in result.findings:
        by_path.setdefault(f.location.path, []).append(f)
    failures = 0
    for path, findings in sorted(by_path.items()):
        suite = ElementTree.SubElement(
            root, "testsuite", name=path, tests=str(len(findings)), failures=str(len(findings)), errors="0"
        )
        for f in findings:
            case = ElementTree.SubElement(
                suite, "testcase", name=f"{f.code} {f.task or ''}".strip(), classname=path, file=path, line=str(f.location.line)
            )
            failure = ElementTree.SubElement(case, "failure", message=f.message, type=f.code)
            failure.text = f"{f.location}: {f.code} {f.message}"
            failures += 1
    for n in result.notifications:
        suite = ElementTree.SubElement(root, "testsuite", name=n.path, tests="1", failures="0", errors="1")
        case = ElementTree.SubElement(suite, "testcase", name="analysis", classname=n.path)
        ElementTree.SubElement(case, "error", message=n.message, type=n.kind)
    if not by_path and not result.notifications:
        suite = ElementTree.SubElement(root, "testsuite", name="jobcheck", tests="1", failures="0", errors="0")
        ElementTree.SubElement(suite, "testcase", name="no findings", classname="jobcheck")
    root.set("tests", str(max(1, failures + len(result.notifications))))
    root.set("failures", str(failures))
    root.set("errors", str(len(result.notifications)))
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"
