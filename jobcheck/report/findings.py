"""What a report shows of each finding: its fingerprint, and why it is silenced if it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from jobcheck.engine import RunResult
from jobcheck.model import Finding
from jobcheck.report.fingerprint import stable_fingerprints
from jobcheck.report.sources import Sources


@dataclass(frozen=True)
class Reported:
    finding: Finding
    fingerprint: str
    suppressions: Tuple[Tuple[Tuple[str, str], ...], ...] = ()  # SARIF suppression objects, as items
    baseline_state: Optional[str] = None  # "new" / "unchanged" when a baseline is in use


def fingerprints(findings: Sequence[Finding], sources: Sources) -> List[str]:
    """The fingerprints the run gave the findings (numbered over all of them); computed here
    only for findings made outside a run (tests)."""
    if all("fingerprint" in f.extra for f in findings):
        return [f.extra["fingerprint"] for f in findings]
    return stable_fingerprints(
        (f.code, f.location.path, f.task or "", sources.line(f.location.path, f.location.line)) for f in findings
    )


def reported_findings(result: RunResult, sources: Sources) -> List[Reported]:
    """The reported findings, then (for SARIF's `suppressions`) the silenced ones, each sorted."""
    state = "new" if result.baseline is not None else None
    items = [
        Reported(f, print_, (), state) for f, print_ in zip(result.findings, fingerprints(result.findings, sources))
    ]
    silenced = [
        (s.finding, _suppression("inSource", s.reason), None) for s in result.suppressed
    ] + [(f, _suppression("external", f"in the baseline {result.baseline}"), "unchanged") for f in result.unchanged]
    silenced.sort(key=lambda item: item[0].sort_key())
    prints = fingerprints([f for f, _, _ in silenced], sources)
    items += [Reported(f, p, (s,), st) for (f, s, st), p in zip(silenced, prints)]
    return items


def _suppression(kind: str, justification: Optional[str]) -> Tuple[Tuple[str, str], ...]:
    entry = [("kind", kind), ("status", "accepted")]
    if justification:
        entry.append(("justification", justification))
    return tuple(entry)
