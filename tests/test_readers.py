"""Which reading gives a file's facts: libcst for task modules and for the files findings are
reported in, CPython's `ast` for the rest (DESIGN: a module needed only for the project index
may use a cheaper parse). Where the two readings of a file disagree, libcst's wins."""

import ast
import subprocess
import sys
import textwrap

import pytest

from conftest import command_probe, run_on, write_project
from jobcheck import engine
from jobcheck.analysis import extract_ast

PROJECT = {
    "pyproject.toml": "[tool.jobcheck]\n",
    "shop/__init__.py": "",
    "shop/helpers.py": """
        import requests


        def notify(url):
            return requests.post(url)


        def unused():
            return 1
    """,
    "shop/tasks.py": """
        from celery import shared_task
        from shop.helpers import notify


        @shared_task(queue="q", expires=60, time_limit=60, acks_late=True)
        def relay(url):
            notify(url)
    """,
    "shop/views.py": """
        from django.db import transaction
        from shop.tasks import relay


        def order(url):
            with transaction.atomic():
                relay.delay(url)
    """,
    "shop/quiet.py": """
        from shop.tasks import relay


        def order(url):
            relay.delay(url)
    """,
}


@pytest.fixture
def readings(monkeypatch):
    """rel -> the readings of the file in the run ("ast", "libcst"), in order."""
    seen = {}
    read = engine.read_facts

    def recording(data, rel, module_name, is_package, cheap):
        facts, by_libcst = read(data, rel, module_name, is_package, cheap)
        seen.setdefault(rel, []).append("libcst" if by_libcst else "ast")
        return facts, by_libcst

    monkeypatch.setattr(engine, "read_facts", recording)
    return seen


def test_task_modules_and_reported_files_are_read_by_libcst_the_rest_by_ast(tmp_path, readings):
    root = write_project(tmp_path, PROJECT)
    result = run_on(root)
    reported = {f.location.path for f in result.findings}
    assert reported == {"shop/tasks.py", "shop/views.py"}  # JC101 at the task, JC502 at the enqueue
    assert {t.location.path for t in result.project.tasks} == {"shop/tasks.py"}
    assert readings["shop/tasks.py"] == ["ast", "libcst"]
    assert readings["shop/views.py"] == ["ast", "libcst"]
    assert readings["shop/quiet.py"] == ["ast"]  # an enqueue site with nothing to report
    assert readings["shop/helpers.py"] == ["ast"]  # a helper on the call chain, read for the index


def test_the_facts_cache_keeps_libcst_readings(tmp_path, readings):
    """A second run after an edit that leaves the job modules alone reads only the edited file."""
    root = write_project(tmp_path, PROJECT)
    cache = tmp_path / "cache"
    first = _run(root, cache)
    (root / "shop" / "helpers.py").write_text(
        "import requests\n\n\ndef notify(url):\n    return requests.post(url)\n", encoding="utf-8"
    )
    readings.clear()
    second = _run(root, cache)
    assert readings == {"shop/helpers.py": ["ast"]}
    assert [f.code for f in second.findings] == [f.code for f in first.findings]


def _run(root, cache=None, jobs=1):
    from jobcheck.catalog import load_catalog
    from jobcheck.config import load

    config = load([root], None)
    catalog = load_catalog()
    codes = catalog.select(config.select, config.ignore, config.extend_select)
    return engine.run([root], config, catalog, codes, jobs, None, cache)


def outcome(result):
    findings = [(f.code, f.location.path, f.location.span, f.message) for f in result.findings]
    notifications = [(n.path, n.kind, n.message) for n in result.notifications]
    return sorted(findings), notifications, sorted(t.qualname for t in result.project.tasks)


def read_by_ast_as(monkeypatch, rel, source):
    """Make the `ast` reading of `rel` see `source` instead of the file (libcst reads the file)."""
    ast.parse(source)  # (a source that does not parse would quietly fall back to libcst)
    extract = extract_ast.extract

    def other(tree, text, path, *rest):
        if path == rel:
            text, tree = source, ast.parse(source)
        return extract(tree, text, path, *rest)

    monkeypatch.setattr(extract_ast, "extract", other)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_reading_that_misses_an_effect_is_settled_by_libcst(tmp_path, monkeypatch, jobs):
    """The `ast` reading of the task module lost the call in the task: the libcst reading of
    the task module brings the task's effect back."""
    root = write_project(tmp_path, PROJECT)
    truth = outcome(_run(root))
    assert ("JC101", "shop/tasks.py") in {finding[:2] for finding in truth[0]}
    lossy = textwrap.dedent(PROJECT["shop/tasks.py"]).replace("    notify(url)", "    pass")
    read_by_ast_as(monkeypatch, "shop/tasks.py", lossy)
    assert outcome(_run(root, jobs=jobs)) == truth


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_reading_that_sees_too_much_is_settled_by_libcst(tmp_path, monkeypatch, jobs):
    """The `ast` reading of the task module sees a call into a module with a syntax error: the
    first pass reaches it and reports it, the pass on libcst's facts does not reach it."""
    root = write_project(tmp_path, {**PROJECT, "shop/broken.py": "def f(:\n"})
    truth = outcome(_run(root))
    assert all(finding[1] != "shop/broken.py" for finding in truth[0])
    seeing_more = textwrap.dedent(PROJECT["shop/tasks.py"]).replace("    notify(url)", "    from shop.broken import f\n    f(url)")
    read_by_ast_as(monkeypatch, "shop/tasks.py", seeing_more)
    assert outcome(_run(root, jobs=jobs)) == truth


def test_a_job_module_ast_cannot_read_is_read_by_libcst(tmp_path, monkeypatch):
    root = write_project(tmp_path, PROJECT)
    truth = outcome(_run(root))
    extract = extract_ast.extract

    def failing(tree, text, rel, *rest):
        if rel == "shop/tasks.py":
            raise ValueError("a bug in the ast reading")
        return extract(tree, text, rel, *rest)

    monkeypatch.setattr(extract_ast, "extract", failing)
    assert outcome(_run(root)) == truth


def test_a_run_whose_job_modules_are_cached_does_not_import_libcst(tmp_path):
    root = write_project(tmp_path, PROJECT)
    command = [sys.executable, "-m", "jobcheck", "check", "--output-format", "concise", "--exit-zero", "--jobs", "1", "."]
    first = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
    (root / "shop" / "helpers.py").write_text("import requests\n\n\ndef notify(url):\n    return requests.post(url)\n")
    probe = command_probe(command[3:], "'libcst' in sys.modules")
    second = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=120)
    assert second.stdout == first.stdout
    assert second.stderr.strip() == "False"


def test_a_task_module_libcst_cannot_read_is_reported_and_left_out(tmp_path, monkeypatch):
    """As when libcst read every job module: an internal error names the file, the run goes on
    without it, and reading it once more with `ast` does not bring it back."""
    from jobcheck.analysis import extract

    root = write_project(tmp_path, PROJECT)
    real = extract.extract

    def failing(module, rel, *rest):
        if rel == "shop/tasks.py":
            raise ValueError("boom")
        return real(module, rel, *rest)

    monkeypatch.setattr(extract, "extract", failing)
    result = run_on(root)
    assert [(n.path, n.kind) for n in result.notifications] == [("shop/tasks.py", "internal")]
    assert "boom" in result.notifications[0].message
    assert result.project.tasks == []
    assert all(f.location.path != "shop/tasks.py" for f in result.findings)
