"""Fuzzing the engine: generated programs and mutated fixture files never make it raise or
report an internal error, the SARIF it writes stays valid, and a file's findings do not depend
on an unrelated file checked beside it. Bounded for CI (JOBCHECK_FUZZ_EXAMPLES raises it for a
longer run, see the README's development section)."""

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, run_on
from test_reports import sarif_schema

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXAMPLES = int(os.environ.get("JOBCHECK_FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every CI run: a failure is reproducible
    suppress_health_check=list(HealthCheck),
)
# Generated programs get a framework import so that the prefilter sends them to the parser.
HEADER = "from celery import shared_task\n"
FIXTURE_FILES = sorted(p for p in FIXTURES.rglob("*.py") if "syntax" not in p.parts)


def sarif_of(result) -> dict:
    from jobcheck.catalog import load_catalog
    from jobcheck.report import sarif

    return json.loads(sarif.render(result, load_catalog()))


def check_engine_on(root: Path) -> None:
    result = run_on(root, codes=_all_codes())
    assert [n for n in result.notifications if n.kind == "internal"] == []
    import jsonschema

    jsonschema.Draft4Validator(sarif_schema()).validate(sarif_of(result))


def _all_codes():
    from jobcheck.catalog import load_catalog

    return set(load_catalog().rules)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_generated_programs_never_break_the_engine(tmp_path_factory):
    @FUZZ
    @given(hypothesmith.from_grammar())
    def check(source: str) -> None:
        root = tmp_path_factory.mktemp("gen")
        (root / "pyproject.toml").write_text("[tool.jobcheck]\n", encoding="utf-8")
        (root / "pkg").mkdir()
        (root / "pkg" / "__init__.py").write_text("", encoding="utf-8")
        (root / "pkg" / "gen.py").write_text(HEADER + source, encoding="utf-8", errors="surrogatepass")
        check_engine_on(root)

    check()


MUTATIONS = ("delete", "duplicate", "swap", "truncate", "insert")


def mutate(text: str, kind: str, a: int, b: int, junk: str) -> str:
    lines = text.splitlines(keepends=True)
    if not lines:
        return junk
    i, j = a % len(lines), b % len(lines)
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(j, lines[i])
    elif kind == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "truncate":
        return text[: a % (len(text) + 1)]
    else:
        lines.insert(i, junk)
    return "".join(lines)


def test_mutated_fixture_files_never_break_the_engine(tmp_path_factory):
    @FUZZ
    @given(
        st.sampled_from(FIXTURE_FILES),
        st.lists(
            st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 10_000), st.integers(0, 10_000), st.text(max_size=40)),
            min_size=1,
            max_size=4,
        ),
    )
    def check(path: Path, edits) -> None:
        framework = path.relative_to(FIXTURES).parts[0]
        root = tmp_path_factory.mktemp("mut") / framework
        shutil.copytree(FIXTURES / framework, root)
        target = root / path.relative_to(FIXTURES / framework)
        text = target.read_text(encoding="utf-8")
        for kind, a, b, junk in edits:
            text = mutate(text, kind, a, b, junk)
        target.write_text(text, encoding="utf-8", errors="surrogatepass")
        check_engine_on(root)

    check()


def findings_outside(result, extra: str) -> list:
    return sorted(
        (f.code, f.location.path, f.location.span, f.message) for f in result.findings if f.location.path != extra
    )


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_unrelated_file_does_not_change_other_files_findings(tmp_path_factory):
    base = tmp_path_factory.mktemp("alone") / "rq"
    shutil.copytree(FIXTURES / "rq", base)
    alone = findings_outside(run_on(base), "")

    @FUZZ
    @given(hypothesmith.from_grammar())
    def check(source: str) -> None:
        root = tmp_path_factory.mktemp("beside") / "rq"
        shutil.copytree(FIXTURES / "rq", root)
        (root / "unrelated.py").write_text(source, encoding="utf-8", errors="surrogatepass")
        assert findings_outside(run_on(root), "unrelated.py") == alone

    check()
