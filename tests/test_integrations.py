"""Baselines, named files and stdin (pre-commit, editors), TTY colour, bad input: the CLI as used."""

import json
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import write_project

# early acknowledgement (JC602, a note) is not what these tests are about
PYPROJECT = '[tool.jobcheck]\nignore = ["JC602"]\n'

TASKS = """
import requests
from celery import shared_task


@shared_task(queue="q", expires=60, time_limit=60)
def charge(url):
    requests.post(url)


@shared_task(queue="q", expires=60, time_limit=60)
def refund(url):
    requests.delete(url)
"""


def jobcheck(cwd: Path, *args: str, stdin: bytes = b""):
    return subprocess.run(
        [sys.executable, "-m", "jobcheck", *args], cwd=cwd, input=stdin, capture_output=True, timeout=120
    )


@pytest.fixture
def shop(tmp_path):
    return write_project(tmp_path, {"pyproject.toml": PYPROJECT, "shop/__init__.py": "", "shop/tasks.py": TASKS})


def findings(completed):
    return [(f["code"], f["task"].rsplit(".", 1)[-1]) for f in json.loads(completed.stdout)["findings"]]


def test_baseline_keeps_old_findings_matched_through_edits_and_moves(shop):
    written = jobcheck(shop, "check", "--write-baseline", "baseline.json", "--exit-zero", ".")
    assert written.returncode == 0, written.stderr
    # unrelated edits above, the function moved below another, and a new finding
    moved = textwrap.dedent(
        '''
        """Payments."""
        import requests
        from celery import shared_task


        @shared_task(queue="q", expires=60, time_limit=60)
        def refund(url):
            requests.delete(url)


        @shared_task(queue="q", expires=60, time_limit=60)
        def charge(url):
            # charges the card
            requests.post(url)


        @shared_task(queue="q", expires=60, time_limit=60)
        def capture(url):
            requests.post(url + "/capture")
        '''
    )
    (shop / "shop" / "tasks.py").write_text(moved, encoding="utf-8")
    (shop / "shop" / "neighbour.py").write_text("X = 1\n", encoding="utf-8")
    completed = jobcheck(shop, "check", "--baseline", "baseline.json", "--output-format", "json", ".")
    assert completed.returncode == 1
    assert findings(completed) == [("JC101", "capture")]
    assert json.loads(completed.stdout)["baseline"] == {"file": "baseline.json", "unchanged": 2, "absent": 0}
    text = jobcheck(shop, "check", "--baseline", "baseline.json", ".").stdout.decode()
    assert text.endswith("Found 1 error in 3 files (2 in the baseline).\n")


def test_baseline_in_sarif_marks_new_and_unchanged(shop):
    jobcheck(shop, "check", "--write-baseline", "baseline.json", "--exit-zero", ".")
    (shop / "shop" / "tasks.py").write_text(TASKS.replace("requests.delete(url)", "requests.delete(url)\n    requests.patch(url)"), encoding="utf-8")
    sarif = json.loads(jobcheck(shop, "check", "--baseline", "baseline.json", "--output-format", "sarif", ".").stdout)
    assert [r["baselineState"] for r in sarif["runs"][0]["results"]] == ["new"]
    full = json.loads(
        jobcheck(shop, "check", "--baseline", "baseline.json", "--output-format", "sarif", "--include-suppressed", ".").stdout
    )
    states = sorted((r["baselineState"], "suppressions" in r) for r in full["runs"][0]["results"])
    assert states == [("new", False), ("unchanged", True), ("unchanged", True)]


def test_baseline_with_nothing_new_passes(shop):
    jobcheck(shop, "check", "--write-baseline", "baseline.json", "--exit-zero", ".")
    completed = jobcheck(shop, "check", "--baseline", "baseline.json", ".")
    assert completed.returncode == 0
    assert completed.stdout.decode().startswith("All checks passed! (2 files, 2 in the baseline)")


@pytest.mark.parametrize(
    "content, problem",
    [
        ("not json", "not a jobcheck baseline: invalid JSON"),
        ('{"format": "other"}', 'not a jobcheck baseline (no "format": "jobcheck-baseline")'),
        ('{"format": "jobcheck-baseline", "version": 9, "findings": []}', "baseline version 9 is not supported"),
        ('{"format": "jobcheck-baseline", "version": 1, "findings": [1]}', "malformed baseline"),
    ],
)
def test_malformed_baseline_is_one_line_and_exit_2(shop, content, problem):
    (shop / "baseline.json").write_text(content, encoding="utf-8")
    completed = jobcheck(shop, "check", "--baseline", "baseline.json", ".")
    assert completed.returncode == 2
    lines = completed.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jobcheck: error: baseline.json: ") and problem in lines[0]


def test_writing_the_baseline_is_atomic_and_errors_are_one_line(shop):
    completed = jobcheck(shop, "check", "--write-baseline", "missing-dir/baseline.json", ".")
    assert completed.returncode == 2
    assert completed.stderr.decode().count("\n") == 1 and "cannot write the report" in completed.stderr.decode()


def test_named_files_are_checked_in_their_project_context(tmp_path):
    root = write_project(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "shop/__init__.py": "",
            "shop/helpers.py": "import requests\n\n\ndef notify(url):\n    requests.post(url)\n",
            "shop/tasks.py": TASKS + "\n\n@shared_task(queue='q', expires=60, time_limit=60)\ndef relay(url):\n    notify(url)\n",
            "shop/other.py": "from celery import shared_task\nimport requests\n\n\n@shared_task(queue='q', expires=60, time_limit=60)\ndef other(url):\n    requests.post(url)\n",
            "tests/test_tasks.py": "from celery import shared_task\nimport requests\n\n\n@shared_task\ndef fake(url):\n    requests.post(url)\n",
        },
    )
    (root / "shop" / "tasks.py").write_text(
        "from shop.helpers import notify\n" + (root / "shop" / "tasks.py").read_text(), encoding="utf-8"
    )
    completed = jobcheck(root, "check", "--output-format", "json", "shop/tasks.py", "tests/test_tasks.py")
    document = json.loads(completed.stdout)
    assert sorted(findings(completed)) == [("JC101", "charge"), ("JC101", "refund"), ("JC101", "relay")]
    assert document["files_checked"] == 1  # tests/ is excluded even when named (pre-commit passes it)


def test_stdin_is_checked_as_the_named_file(shop):
    on_disk = (shop / "shop" / "tasks.py").read_text(encoding="utf-8")
    edited = on_disk.replace("requests.delete(url)", "requests.delete(url, headers={'Idempotency-Key': url})")
    completed = jobcheck(
        shop, "check", "--stdin-filename", "shop/tasks.py", "--output-format", "json", "-", stdin=edited.encode()
    )
    assert findings(completed) == [("JC101", "charge")]
    assert (shop / "shop" / "tasks.py").read_text(encoding="utf-8") == on_disk  # the file on disk is untouched


def test_stdin_for_a_file_not_yet_on_disk(shop):
    text = (shop / "shop" / "tasks.py").read_bytes()
    completed = jobcheck(shop, "check", "--stdin-filename", "shop/new.py", "--output-format", "concise", "-", stdin=text)
    assert completed.stdout.decode().splitlines() == [
        line.replace("shop/tasks.py", "shop/new.py")
        for line in jobcheck(shop, "check", "--output-format", "concise", "shop/tasks.py").stdout.decode().splitlines()
    ]


@pytest.mark.parametrize(
    "args, problem",
    [
        (["check", "--output-format", "xml", "."], "Invalid value for '--output-format'"),
        (["check", "-"], "needs --stdin-filename"),
        (["check", "--stdin-filename", "a.py", "shop"], "pass `-` as the only path"),
        (["check", "--output", "nowhere/x.sarif", "."], "cannot write the report"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(shop, args, problem):
    completed = jobcheck(shop, *args)
    assert completed.returncode == 2
    lines = completed.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jobcheck: error: ") and problem in lines[0], lines


def test_config_with_a_wrong_type_is_one_error_line(shop):
    (shop / "pyproject.toml").write_text('[tool.jobcheck]\nselect = "JC101"\n', encoding="utf-8")
    completed = jobcheck(shop, "check", ".")
    assert completed.returncode == 2
    assert len(completed.stderr.decode().splitlines()) == 1 and "select" in completed.stderr.decode()


def run_on_a_tty(cwd: Path, *args: str) -> str:
    """Run jobcheck with stdout on a pseudo-terminal, as in an interactive shell."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "jobcheck", *args], cwd=cwd, stdout=secondary, stderr=subprocess.PIPE, env={**os.environ, "TERM": "xterm"}
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=120)
    os.close(main)
    return b"".join(chunks).decode()


def test_colour_only_on_a_tty(shop):
    on_tty = run_on_a_tty(shop, "check", ".")
    piped = jobcheck(shop, "check", ".").stdout.decode()
    assert "\x1b[1;31mJC101\x1b[0m" in on_tty
    assert "\x1b[" not in piped
    assert "shop/tasks.py:7:5: JC101 `charge` calls `requests.post`" in piped


def test_identical_findings_keep_distinct_fingerprints_across_the_baseline(shop):
    tasks = (shop / "shop" / "tasks.py").read_text(encoding="utf-8")
    (shop / "shop" / "tasks.py").write_text(tasks.replace("    requests.post(url)\n", "    requests.post(url)\n    requests.post(url)\n", 1), encoding="utf-8")
    jobcheck(shop, "check", "--write-baseline", "baseline.json", "--exit-zero", ".")
    (shop / "shop" / "tasks.py").write_text(
        tasks.replace("    requests.post(url)\n", "    requests.post(url)\n    requests.post(url)\n    requests.post(url)\n", 1),
        encoding="utf-8",
    )
    sarif = json.loads(
        jobcheck(shop, "check", "--baseline", "baseline.json", "--include-suppressed", "--output-format", "sarif", ".").stdout
    )
    results = sarif["runs"][0]["results"]
    prints = [r["partialFingerprints"]["jobcheck/v1"] for r in results]
    assert len(prints) == len(set(prints))
    assert sorted(r["baselineState"] for r in results) == ["new", "unchanged", "unchanged", "unchanged"]
