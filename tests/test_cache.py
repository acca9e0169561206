"""The facts cache: same findings with or without it, changes seen, corrupt entries survived."""

import subprocess
import sys
from pathlib import Path

from conftest import command_probe, write_project

PROJECT = {
    "pyproject.toml": '[tool.jobcheck]\nignore = ["JC602"]\n',
    "shop/__init__.py": "",
    "shop/helpers.py": "def notify(url):\n    return url\n",
    "shop/tasks.py": """
        import requests
        from celery import shared_task
        from shop.helpers import notify


        @shared_task(queue="q", expires=60, time_limit=60)
        def relay(url):
            notify(url)


        @shared_task(queue="q", expires=60, time_limit=60)
        def charge(url):
            requests.post(url)
    """,
}


def check(root: Path, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "jobcheck", "check", "--output-format", "concise", "--exit-zero", *args, "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.stderr == "", completed.stderr
    return completed.stdout


def test_same_findings_with_and_without_the_cache(tmp_path):
    root = write_project(tmp_path, PROJECT)
    fresh = check(root, "--no-cache", "--jobs", "1")
    assert not (root / ".jobcheck_cache").exists()
    assert check(root, "--jobs", "2") == fresh  # fills the cache
    assert (root / ".jobcheck_cache" / ".gitignore").read_text(encoding="utf-8").endswith("*\n")
    assert check(root, "--jobs", "1") == fresh  # served from it
    assert check(root, "--jobs", "2") == fresh


def test_a_changed_helper_updates_the_task_that_calls_it(tmp_path):
    root = write_project(tmp_path, PROJECT)
    before = check(root)
    assert "relay" not in before
    (root / "shop" / "helpers.py").write_text("import requests\n\n\ndef notify(url):\n    return requests.post(url)\n")
    after = check(root)
    assert "`relay` calls `requests.post` (http POST) (through a helper)" in after


def test_a_corrupt_cache_entry_is_rebuilt(tmp_path):
    root = write_project(tmp_path, PROJECT)
    fresh = check(root, "--cache-dir", "cache")
    entries = [p for p in (root / "cache" / "facts").rglob("*") if p.is_file()]
    assert entries
    for entry in entries:
        entry.write_bytes(b"\x80not a pickle")
    assert check(root, "--cache-dir", "cache") == fresh
    assert check(root, "--cache-dir", "cache") == fresh
    runs = [p for p in (root / "cache" / "runs").rglob("*") if p.is_file()]
    assert len(runs) == 1  # one entry per kind of invocation
    runs[0].write_bytes(b"\x80not a pickle")
    assert check(root, "--cache-dir", "cache") == fresh


def test_a_warm_run_with_no_change_computes_nothing(tmp_path):
    """A full hit reads the files and answers from the run cache: libcst is not even imported."""
    root = write_project(tmp_path, PROJECT)
    fresh = check(root)
    probe = command_probe(["check", "--output-format", "concise", "--exit-zero", "."], "'libcst' in sys.modules")
    completed = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=120)
    assert completed.stdout == fresh
    assert completed.stderr.strip() == "False"


def test_run_cache_sees_every_input(tmp_path):
    """Findings change when a worker declaration, the configuration or the selected rules change."""
    project = dict(PROJECT)
    project["shop/tasks.py"] = PROJECT["shop/tasks.py"].replace('queue="q"', 'queue="mail"')
    root = write_project(tmp_path, project)
    (root / "Procfile").write_text("worker: celery -A shop worker -Q mail\n")
    assert "JC403" not in check(root)
    (root / "Procfile").write_text("worker: celery -A shop worker -Q default\n")
    assert "Queue `mail` has no worker" in check(root)
    assert "JC803" not in check(root)
    (root / "shop" / "tasks.py").write_text((root / "shop" / "tasks.py").read_text().replace(", time_limit=60", ""))
    assert "JC803" in check(root)
    assert check(root, "--select", "JC803").count("JC803") == 2
    (root / "pyproject.toml").write_text('[tool.jobcheck]\nignore = ["JC602", "JC803"]\n')
    assert "JC803" not in check(root)


READS_PROBE = command_probe(
    ["check", "--output-format", "concise", "--exit-zero", "."],
    "len(seen)",
    setup=(
        "import pathlib\n"
        "read = pathlib.Path.read_bytes\n"
        "seen = []\n"
        "project = os.getcwd() + os.sep\n"
        "def counted(self):\n"
        "    data = read(self)\n"
        "    if self.suffix == '.py' and str(self.absolute()).startswith(project):\n"
        "        seen.append(self.name)\n"
        "    return data\n"
        "pathlib.Path.read_bytes = counted\n"
    ),
)


def sources_read(root: Path):
    """(output, how many of the project's Python files the run read)."""
    probe = [sys.executable, "-c", READS_PROBE]
    completed = subprocess.run(probe, cwd=root, capture_output=True, text=True, timeout=120)
    return completed.stdout, int(completed.stderr.strip().splitlines()[-1])


def age(root: Path, seconds: int = 3600) -> None:
    """Files last changed an hour ago, as in a checkout nobody is editing."""
    import os
    import time

    for path in root.rglob("*"):
        if path.is_file() and ".jobcheck_cache" not in path.parts:
            then = time.time() - seconds
            os.utime(path, (then, then))


def test_an_untouched_tree_is_answered_without_reading_its_files(tmp_path):
    root = write_project(tmp_path, PROJECT)
    age(root)
    fresh = check(root, "--no-cache")
    assert sources_read(root) == (fresh, 3)  # the first run reads and analyses
    assert sources_read(root) == (fresh, 0)  # sizes and times unchanged: nothing read


def test_a_touched_or_edited_file_is_read_again(tmp_path):
    root = write_project(tmp_path, PROJECT)
    age(root)
    fresh = check(root)
    helpers = root / "shop" / "helpers.py"
    age(root, seconds=1800)  # touched (a checkout), not changed: read, and the same answer
    assert sources_read(root) == (fresh, 3)
    assert sources_read(root) == (fresh, 0)
    helpers.write_text("import requests\n\n\ndef notify(url):\n    return requests.post(url)\n")
    after, read = sources_read(root)  # just edited: its time is too recent to trust, contents decide
    assert "`relay` calls `requests.post` (http POST) (through a helper)" in after and read == 3
    assert sources_read(root)[1] == 3


def test_the_facts_key_covers_every_module_that_shapes_facts():
    """A facts entry is keyed by the code that extracts facts: every jobcheck module the
    extractors import is part of that code."""
    import ast

    import jobcheck
    from jobcheck.cache import FACT_MODULES

    package = Path(jobcheck.__file__).parent
    pending, seen = ["analysis/extract.py", "analysis/extract_ast.py"], set()
    while pending:
        rel = pending.pop()
        if rel in seen:
            continue
        seen.add(rel)
        for node in ast.walk(ast.parse((package / rel).read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jobcheck."):
                target = node.module[len("jobcheck.") :].replace(".", "/") + ".py"
                if (package / target).is_file():
                    pending.append(target)
    assert seen <= set(FACT_MODULES), seen - set(FACT_MODULES)

