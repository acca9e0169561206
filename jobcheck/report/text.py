"""ruff-shaped text: `path:line:col: CODE message`, then a summary line.

`concise` is the bare lines (for editors and grep); `text` adds the call chain and the
source line with a caret when asked, the notifications, statistics and the summary.
"""

from __future__ import annotations

from collections import Counter
from typing import List

from jobcheck.catalog import Catalog
from jobcheck.engine import RunResult
from jobcheck.model import Finding
from jobcheck.report.sources import Sources


def concise(result: RunResult, catalog: Catalog) -> str:
    lines = [f"{f.location}: {f.code} {f.message}" for f in result.findings]
    lines += [f"{n.path}: jobcheck {_label(n.kind)}: {n.message}" for n in result.notifications]
    return "".join(line + "\n" for line in lines)


def render(
    result: RunResult,
    catalog: Catalog,
    *,
    color: bool = False,
    show_chain: bool = False,
    statistics: bool = False,
    show_source: bool = False,
) -> str:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    sources = Sources.of(result) if show_source else None
    lines: List[str] = []
    for finding in result.findings:
        location = finding.location
        where = f"{paint(location.path, '1')}:{location.line}:{location.col + 1}:"
        lines.append(f"{where} {paint(finding.code, '1;31')} {finding.message}")
        if sources is not None:
            lines.extend(_source_context(finding, sources, paint))
        if show_chain:
            for related in finding.related:
                lines.append(f"    {related.location}: {related.message}")
    for notification in result.notifications:
        lines.append(f"{paint('jobcheck: ' + _label(notification.kind), '1;31')}: {notification.path}: {notification.message}")
    if statistics and result.findings:
        counts = Counter(f.code for f in result.findings)
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            name = catalog.rule(code).name if code in catalog else ""
            lines.append(f"{count:5d}\t{code}\t{name}")
    lines.append(_summary(result))
    return "\n".join(lines) + "\n"


def _label(kind: str) -> str:
    return "internal error" if kind == "internal" else "error"


def _source_context(finding: Finding, sources: Sources, paint) -> List[str]:
    line, col, end_line, end_col = finding.location.span
    text = sources.line(finding.location.path, line)
    if not text or line < 1:
        return []
    width = len(str(line))
    end = end_col if end_line == line and end_col > col else len(text.rstrip())
    carets = "^" * max(1, end - col)
    gutter = " " * width
    return [
        f"{gutter} |",
        f"{line} | {text.expandtabs(1)}",
        f"{gutter} | {' ' * col}{paint(carets, '1;31')}",
    ]


def _summary(result: RunResult) -> str:
    total = len(result.findings)
    notes = []
    if result.suppressed:
        notes.append(f"{len(result.suppressed)} suppressed")
    if result.baseline is not None:
        notes.append(f"{len(result.unchanged)} in the baseline")
        if result.absent:
            notes.append(f"{result.absent} baseline entr{'ies' if result.absent != 1 else 'y'} no longer found")
    failed = len({n.path for n in result.notifications})
    if failed:
        notes.append(f"{failed} not analysed: see the errors above")
    extra = f" ({', '.join(notes)})" if notes else ""
    if total:
        return f"Found {total} error{'s' if total != 1 else ''} in {result.files_checked} files{extra}."
    if failed:
        return f"No findings in {result.files_checked} files{extra}."
    return f"All checks passed! ({result.files_checked} files{', ' + ', '.join(notes) if notes else ''})"
