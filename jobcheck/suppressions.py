"""Suppression comments: `# jobcheck: ignore[JC101] -- reason`, `# noqa: JC101`, bare forms.

A comment silences findings on its line (the first or last line of the finding), or, on
a task's `def`/`class` line, every finding of that task. Only real comments count (read
with tokenize, so a `#` inside a string is not one). JC002 reports our suppressions that
silence nothing among the rules that ran; a bare `# noqa` and other tools' codes are left
to their tools.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Set, Tuple

from jobcheck.model import Finding, Location

CODES = ("JC002",)  # reported by the pipeline after the checks (engine._suppress)

# cheap tests before tokenizing a file
ANY_BYTES = re.compile(rb"jobcheck:|noqa", re.I)
OURS_BYTES = re.compile(rb"jobcheck:|noqa[^\n]*JC\d", re.I)
JOBCHECK = re.compile(r"#\s*jobcheck:\s*ignore(?:\[(?P<codes>[^\]]*)\])?(?:\s*--\s*(?P<reason>.*))?", re.I)
NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)


@dataclass
class Directive:
    line: int
    column: int
    codes: Optional[Tuple[str, ...]]  # None: every code
    reason: Optional[str]
    ours: bool  # a jobcheck comment, or a noqa naming JC codes (judged by JC002)
    used: Set[str]

    def silences(self, code: str) -> bool:
        return self.codes is None or code in self.codes


def may_hold_any(raw: bytes) -> bool:
    """Whether a file can hold a suppression comment at all."""
    return ANY_BYTES.search(raw) is not None


def may_hold_ours(raw: bytes) -> bool:
    """Whether a file can hold a directive JC002 judges (a jobcheck comment, a noqa naming JC codes)."""
    return OURS_BYTES.search(raw) is not None


def read_directives(source: str) -> List[Directive]:
    directives: List[Directive] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return directives  # a file that does not tokenize reports JC001 only
    for token in tokens:
        if token.type == tokenize.COMMENT:
            directive = _parse(token.string, *token.start)
            if directive is not None:
                directives.append(directive)
    return directives


def _parse(comment: str, line: int, column: int) -> Optional[Directive]:
    match = JOBCHECK.search(comment)
    if match:
        codes = _codes(match.group("codes")) if match.group("codes") is not None else None
        reason = (match.group("reason") or "").strip() or None
        return Directive(line, column, codes, reason, True, set())
    match = NOQA.search(comment)
    if match:
        if match.group("codes") is None:
            return Directive(line, column, None, None, False, set())
        codes = _codes(match.group("codes"))
        ours = tuple(c for c in codes if c.startswith("JC"))
        return Directive(line, column, ours, None, True, set()) if ours else None
    return None


def _codes(text: str) -> Tuple[str, ...]:
    return tuple(c.strip().upper() for c in re.split(r"[\s,]+", text) if c.strip())


@dataclass(frozen=True)
class Suppressed:
    finding: Finding
    reason: Optional[str]


def apply(
    findings: Iterable[Finding],
    directives_of: Dict[str, List[Directive]],
    task_lines: Dict[str, Location],
) -> Tuple[List[Finding], List[Suppressed]]:
    """(findings still reported, suppressed findings with their reason)."""
    kept: List[Finding] = []
    suppressed: List[Suppressed] = []
    for finding in findings:
        directive = _silencer(finding, directives_of, task_lines)
        if directive is None:
            kept.append(finding)
        else:
            directive.used.add(finding.code)
            suppressed.append(Suppressed(finding, directive.reason))
    return kept, suppressed


def _silencer(
    finding: Finding, directives_of: Dict[str, List[Directive]], task_lines: Dict[str, Location]
) -> Optional[Directive]:
    location = finding.location
    lines = {location.span[0], location.span[2]}
    task = task_lines.get(finding.task) if finding.task else None
    candidates = [(location.path, lines)]
    if task is not None:
        candidates.append((task.path, {task.line}))
    for path, wanted in candidates:
        for directive in directives_of.get(path, ()):
            if directive.line in wanted and directive.silences(finding.code):
                return directive
    return None


def unused(directives_of: Dict[str, List[Directive]], ran: Set[str]) -> List[Finding]:
    """JC002: our suppressions that silenced nothing, among the rules that ran."""
    findings = []
    for path, directives in sorted(directives_of.items()):
        for directive in directives:
            if not directive.ours:
                continue
            if directive.codes is None:
                if not directive.used:
                    findings.append(_unused_finding(path, directive, "silences no finding"))
                continue
            idle = [c for c in directive.codes if c not in directive.used and (c in ran or not c.startswith("JC"))]
            idle += [c for c in directive.codes if c.startswith("JC") and c not in ran and not _known(c)]
            if idle:
                names = ", ".join(f"`{c}`" for c in dict.fromkeys(idle))
                findings.append(_unused_finding(path, directive, f"names {names}, which {'silences' if len(set(idle)) == 1 else 'silence'} no finding here"))
    return findings


def _known(code: str) -> bool:
    from jobcheck.catalog import load_catalog

    return code in load_catalog()


def _unused_finding(path: str, directive: Directive, what: str) -> Finding:
    span = (directive.line, directive.column, directive.line, directive.column)
    return Finding(
        "JC002",
        f"This suppression comment {what}; remove it (or the unused codes) so a later regression is not hidden.",
        Location(path, span),
    )
