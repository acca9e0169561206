"""ruff-shaped text: `path:line:col: CODE message`, then a summary line."""

from __future__ import annotations

from collections import Counter
from typing import List

from jobcheck.catalog import Catalog
from jobcheck.engine import RunResult


def render(
    result: RunResult, catalog: Catalog, *, color: bool = False, show_chain: bool = False, statistics: bool = False
) -> str:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    lines: List[str] = []
    for finding in result.findings:
        location = finding.location
        where = f"{paint(location.path, '1')}:{location.line}:{location.col + 1}:"
        lines.append(f"{where} {paint(finding.code, '1;31')} {finding.message}")
        if show_chain:
            for related in finding.related:
                lines.append(f"    {related.location}: {related.message}")
    for notification in result.notifications:
        label = "internal error" if notification.kind == "internal" else "error"
        lines.append(f"{paint('jobcheck: ' + label, '1;31')}: {notification.path}: {notification.message}")
    if statistics and result.findings:
        counts = Counter(f.code for f in result.findings)
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            name = catalog.rule(code).name if code in catalog else ""
            lines.append(f"{count:5d}\t{code}\t{name}")
    total = len(result.findings)
    if total:
        lines.append(f"Found {total} error{'s' if total != 1 else ''} in {result.files_checked} files.")
    else:
        lines.append(f"All checks passed! ({result.files_checked} files)")
    return "\n".join(lines) + "\n"
