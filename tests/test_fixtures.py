"""The fixture harness: `# ruleid:` must fire there, `# ok:` must not, other lines stay silent."""

import re
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import FIXTURES, run_on

ANNOTATION = re.compile(r"#\s*(ruleid|ok|todoruleid|todook):\s*([A-Z0-9, ]+)")


def expectations(path: Path):
    """(line, code) pairs expected to fire / not to fire, from a fixture file's comments."""
    fire, silent, todo = set(), set(), set()
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        match = ANNOTATION.search(line)
        if not match:
            continue
        kind = match.group(1)
        codes = [c.strip() for c in match.group(2).split(",") if c.strip()]
        # trailing on a code line: that line; alone on its line: the next line
        target = number if line[: match.start()].strip() else number + 1
        for code in codes:
            {"ruleid": fire, "ok": silent}.get(kind, todo).add((target, code))
    return fire, silent, todo


def fixture_files():
    return sorted(p for p in FIXTURES.rglob("*.py"))


@pytest.fixture(scope="module")
def all_findings():
    result = run_on(FIXTURES, codes=None)
    by_file = defaultdict(set)
    for finding in result.findings:
        by_file[finding.location.path].add((finding.location.line, finding.code))
    return result, by_file


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_annotations(path, all_findings):
    result, by_file = all_findings
    rel = path.relative_to(FIXTURES.parent).as_posix()
    found = by_file.get(rel, set())
    fire, silent, todo = expectations(path)
    missing = fire - found
    assert not missing, f"{rel}: expected findings not reported: {sorted(missing)}"
    wrongly = found & silent
    assert not wrongly, f"{rel}: `ok` lines reported: {sorted(wrongly)}"
    unexpected = found - fire - todo
    assert not unexpected, f"{rel}: unannotated findings: {sorted(unexpected)}"


def test_harness_reads_annotations(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("# ruleid: JC101\nx = 1\ny = 2  # ok: JC102\n# todoruleid: JC103\nz = 3\n")
    fire, silent, todo = expectations(sample)
    assert fire == {(2, "JC101")}
    assert silent == {(3, "JC102")}
    assert todo == {(5, "JC103")}


def test_fixture_run_reports_no_internal_error(all_findings):
    result, _ = all_findings
    assert [n for n in result.notifications] == []
