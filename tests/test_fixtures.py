"""The fixture harness: `# ruleid:` must fire there, `# ok:` must not, other lines stay silent."""

import re
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import FIXTURES, run_on
from jobcheck.catalog import load_catalog

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


def fixture_projects():
    """Each framework's fixture is a project of its own (its pyproject.toml turns on the rules
    that are off by default, its Procfile or compose file declares the workers); `syntax/`
    is checked with the repository's settings."""
    return sorted(p for p in FIXTURES.iterdir() if p.is_dir())


def fixture_files():
    return sorted(p for p in FIXTURES.rglob("*.py"))


@pytest.fixture(scope="module")
def all_findings():
    by_file = defaultdict(set)
    results = {}
    for root in fixture_projects():
        result = run_on(root, codes=None)
        results[root.name] = result
        for finding in result.findings:
            by_file[(result.root / finding.location.path).resolve()].add((finding.location.line, finding.code))
    return results, by_file


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_annotations(path, all_findings):
    _, by_file = all_findings
    rel = path.relative_to(FIXTURES.parent).as_posix()
    found = by_file.get(path.resolve(), set())
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


def test_fixture_runs_report_no_internal_error(all_findings):
    results, _ = all_findings
    assert {name: result.notifications for name, result in results.items() if result.notifications} == {}


def annotated_codes(root: Path):
    codes = set()
    for path in root.rglob("*.py"):
        fire, _, _ = expectations(path)
        codes |= {code for _, code in fire}
    return codes


def test_every_rule_fires_in_a_fixture_of_every_framework_it_applies_to():
    catalog = load_catalog()
    anywhere = annotated_codes(FIXTURES / "syntax")  # JC001 does not depend on a framework
    missing = []
    for code, rule in sorted(catalog.rules.items()):
        for framework in rule.frameworks:
            if code not in annotated_codes(FIXTURES / framework) | anywhere:
                missing.append(f"{code}/{framework}")
    assert missing == []
