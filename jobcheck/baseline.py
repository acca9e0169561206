"""Baselines: record today's findings by fingerprint, then report only new ones.

The fingerprint has no line numbers (code, path, task, the reported line's text), so
editing other lines or moving the function keeps a finding matched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from jobcheck import __version__
from jobcheck.engine import RunResult
from jobcheck.report.findings import fingerprints
from jobcheck.report.sources import Sources

FORMAT = "jobcheck-baseline"
VERSION = 1


class BaselineError(Exception):
    pass


def render(result: RunResult) -> str:
    sources = Sources.of(result)
    entries = [
        {"fingerprint": print_, "code": f.code, "path": f.location.path, "task": f.task, "message": f.message}
        for f, print_ in zip(result.findings, fingerprints(result.findings, sources))
    ]
    entries.sort(key=lambda e: (e["path"], e["code"], e["fingerprint"]))
    document = {"format": FORMAT, "version": VERSION, "tool": f"jobcheck {__version__}", "findings": entries}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def load(path: Path) -> Dict[str, int]:
    """fingerprint -> how many findings the baseline holds with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BaselineError(f"{path}: cannot read the baseline: {error.strerror or error}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BaselineError(f"{path}: not a jobcheck baseline: invalid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BaselineError(f"{path}: not a jobcheck baseline (no \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise BaselineError(f"{path}: baseline version {document.get('version')!r} is not supported (expected {VERSION})")
    entries = document.get("findings")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries
    ):
        raise BaselineError(f"{path}: malformed baseline: \"findings\" must be a list of objects with a fingerprint")
    counts: Dict[str, int] = {}
    for entry in entries:
        counts[entry["fingerprint"]] = counts.get(entry["fingerprint"], 0) + 1
    return counts


def apply(result: RunResult, known: Dict[str, int], name: str) -> None:
    """Keep only new findings in `result.findings`; the others go to `result.unchanged`."""
    remaining = dict(known)
    new: List = []
    unchanged: List = []
    for finding, print_ in zip(result.findings, fingerprints(result.findings, Sources.of(result))):
        if remaining.get(print_, 0) > 0:
            remaining[print_] -= 1
            unchanged.append(finding)
        else:
            new.append(finding)
    result.findings, result.unchanged = new, unchanged
    result.baseline = name
    result.absent = sum(remaining.values())
