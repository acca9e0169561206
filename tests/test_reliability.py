"""Reliability: no input crashes jobcheck, one failure stays with its file, the same tree gives
the same bytes, and the analysed code is never run. (Issue: never crash, never lose a user's
code, same answer every time.)"""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, run_on, write_project

# The good file every bad-input project holds: its finding must survive whatever is beside it.
GOOD = "from celery import shared_task\n\n\n@shared_task(queue='q', expires=60)\ndef ping():\n    pass\n"
GOOD_FINDING = ("JC803", "shop/good.py")

# A file that mentions a job framework, so the prefilter sends it to the parser.
MENTION = b"from celery import shared_task\n"


def jobcheck(root: Path, *args: str, env=None):
    return subprocess.run(
        [sys.executable, "-m", "jobcheck", "check", "--no-cache", *args],
        cwd=root,
        capture_output=True,
        timeout=300,
        env=env,
    )


def project_with(tmp_path: Path, name: str, data: bytes) -> Path:
    write_project(tmp_path, {"pyproject.toml": "[tool.jobcheck]\n", "shop/__init__.py": "", "shop/good.py": GOOD})
    target = tmp_path / "shop" / name
    target.write_bytes(data)
    return tmp_path


def nested(depth: int) -> bytes:
    return MENTION + b"x = " + b"(" * depth + b"1" + b")" * depth + b"\n"


def generated_module(megabytes: int) -> bytes:
    line = b"VALUE_%07d = {'key': 'a fairly long constant string value', 'n': %d}\n"
    out, size, i = [], 0, 0
    while size < megabytes * 1024 * 1024:
        text = line % (i, i)
        out.append(text)
        size += len(text)
        i += 1
    return b"".join(out)


# name -> (file name, bytes, what jobcheck must say about that file: "ok" (nothing), "JC001",
# "parses" (no JC001; its own findings are fine))
BAD_FILES = {
    "empty file": ("empty.py", b"", "ok"),
    "only comments": ("comments.py", b"# a comment\n# another\n", "ok"),
    "BOM": ("bom.py", b"\xef\xbb\xbf" + MENTION + b"x = 1\n", "ok"),
    "CRLF": ("crlf.py", MENTION.replace(b"\n", b"\r\n") + b"x = 1\r\n", "ok"),
    "mixed line endings": ("mixed.py", MENTION + b"x = 1\r\ny = 2\rz = 3\n", "ok"),
    "tabs": ("tabs.py", MENTION + b"def f():\n\tif True:\n\t\treturn 1\n", "ok"),
    "non-UTF-8 bytes": ("latin.py", MENTION + b"name = '\xe9t\xe9'\n", "JC001"),
    "latin-1 coding cookie": ("cookie.py", b"# -*- coding: latin-1 -*-\n" + MENTION + b"name = '\xe9t\xe9'\n", "ok"),
    "NUL byte": ("nul.py", MENTION + b"x = '\x00'\n", "JC001"),
    "500-level nesting": ("deep.py", nested(500), "JC001"),
    # these overflow libcst's native parser, which kills the process: CPython's parser says no first
    "5000-level nesting": ("deeper.py", nested(5000), "JC001"),
    "100,000-term sum": ("sum.py", MENTION + b"x = " + b"+".join([b"1"] * 100_000) + b"\n", "JC001"),
    "50,000-link attribute chain": ("chain.py", MENTION + b"x = a" + b".b" * 50_000 + b"\n", "JC001"),
    "3,000 nested lambdas": ("lambdas.py", MENTION + b"x = " + b"lambda: " * 3000 + b"1\n", "JC001"),
    "200 levels of indentation": (
        "indent.py",
        MENTION + b"".join(b"    " * i + b"if x:\n" for i in range(200)) + b"    " * 200 + b"pass\n",
        "JC001",
    ),
    "Python 2": ("py2.py", MENTION + b"print 'hello'\nexec 'x = 1'\n", "JC001"),
    "Jinja template": ("template.py", MENTION + b"{% for task in tasks %}\ndef {{ task }}():\n    pass\n{% endfor %}\n", "JC001"),
    "PEP 695, 701, 758 syntax": ("modern.py", (FIXTURES / "syntax" / "modern.py").read_bytes(), "parses"),
    "unknown coding cookie": ("cookie2.py", b"# -*- coding: no-such-codec -*-\n" + MENTION, "JC001"),
    "lone surrogate escapes": ("surrogate.py", MENTION + b"x = '\\udcff'\n", "ok"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_gives_jc001_or_nothing_and_the_run_goes_on(tmp_path, case):
    name, data, expected = BAD_FILES[case]
    root = project_with(tmp_path, name, data)
    completed = jobcheck(root, "--output-format", "json")
    assert b"Traceback" not in completed.stderr, completed.stderr.decode()[-2000:]
    assert completed.returncode == 1, completed.stderr.decode()  # findings; no error notification
    report = json.loads(completed.stdout)
    found = {(f["code"], f["location"]["path"]) for f in report["findings"]}
    assert GOOD_FINDING in found
    bad = {code for code, path in found if path == f"shop/{name}"}
    if expected == "parses":
        assert "JC001" not in bad, report["findings"]
    else:
        assert bad == ({"JC001"} if expected == "JC001" else set()), report["findings"]
    if "JC001" in bad:
        message = next(f["message"] for f in report["findings"] if f["location"]["path"] == f"shop/{name}")
        assert "\n" not in message and message


def test_a_20_mb_generated_module_is_read_once_and_skipped(tmp_path):
    """No framework mention: the prefilter keeps it from the parser, so its size costs a read."""
    root = project_with(tmp_path, "generated.py", generated_module(20))
    completed = jobcheck(root, "--output-format", "json")
    assert completed.returncode == 1 and b"Traceback" not in completed.stderr
    assert GOOD_FINDING in {(f["code"], f["location"]["path"]) for f in json.loads(completed.stdout)["findings"]}


def test_a_file_that_vanishes_between_discovery_and_reading(tmp_path, monkeypatch):
    from jobcheck import files as discovery

    root = project_with(tmp_path, "gone.py", MENTION)
    real_discover = discovery.discover

    def discover_then_delete(paths, config):
        found = real_discover(paths, config)
        (root / "shop" / "gone.py").unlink()
        return found

    monkeypatch.setattr(discovery, "discover", discover_then_delete)
    result = run_on(root)
    assert [(n.path, n.kind) for n in result.notifications] == [("shop/gone.py", "error")]
    assert "cannot read" in result.notifications[0].message
    assert GOOD_FINDING in {(f.code, f.location.path) for f in result.findings}


def test_an_unreadable_file_is_one_error_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    root = project_with(tmp_path, "secret.py", MENTION)
    (root / "shop" / "secret.py").chmod(0)
    completed = jobcheck(root)
    assert completed.returncode == 2 and b"Traceback" not in completed.stderr
    assert b"jobcheck: error: shop/secret.py: cannot read" in completed.stderr


@pytest.mark.parametrize(
    "setup, problem",
    [
        ({"pyproject.toml": "[tool.jobcheck\nselect = 1\n"}, b"not valid TOML"),
        ({"pyproject.toml": "[tool.jobcheck]\nselect = 'JC1'\n"}, b"`select` must be a list of strings"),
        ({"pyproject.toml": "[tool.jobcheck]\nmax-depth = -3\n"}, b"`max-depth` must be a positive integer"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(tmp_path, setup, problem):
    root = write_project(tmp_path, {"shop/__init__.py": "", "shop/good.py": GOOD, **setup})
    completed = jobcheck(root)
    assert completed.returncode == 2
    assert completed.stderr.count(b"\n") == 1 and problem in completed.stderr, completed.stderr


@pytest.mark.parametrize(
    "args, problem",
    [
        (("--baseline", "baseline.json"), b"baseline.json"),
        (("--output", "missing/dir/report.txt"), b"missing/dir/report.txt"),
    ],
)
def test_bad_baseline_or_output_is_one_line_and_exit_2(tmp_path, args, problem):
    root = project_with(tmp_path, "empty.py", b"")
    (root / "baseline.json").write_text("{not json", encoding="utf-8")
    completed = jobcheck(root, *args)
    assert completed.returncode == 2
    assert completed.stderr.count(b"\n") == 1 and problem in completed.stderr, completed.stderr


def test_symlinks_loop_and_escape_without_harm(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_bytes(MENTION)
    root = project_with(tmp_path / "p", "empty.py", b"")
    (root / "shop" / "loop").symlink_to(root / "shop", target_is_directory=True)
    (root / "shop" / "escape.py").symlink_to(outside / "evil.py")
    completed = jobcheck(root, "--output-format", "json")
    assert b"Traceback" not in completed.stderr
    report = json.loads(completed.stdout)
    paths = {f["location"]["path"] for f in report["findings"]}
    assert paths == {"shop/good.py"}
    assert {"path": "shop/escape.py", "message": "symlink points outside the project root; skipped", "kind": "error"} in report["errors"]


# ------------------------------------------------------------------ isolation


def test_an_exception_in_one_check_on_one_file_stays_there(tmp_path, monkeypatch):
    from jobcheck.checks import time_limits

    root = write_project(
        tmp_path,
        {
            "pyproject.toml": "[tool.jobcheck]\n",
            "shop/__init__.py": "",
            "shop/good.py": GOOD,
            "shop/other.py": GOOD.replace("ping", "pong"),
        },
    )
    real = time_limits.check_task

    def flaky(ctx, task):
        if task.qualname.endswith("pong"):
            raise RuntimeError("boom")
        return real(ctx, task)

    monkeypatch.setattr(time_limits, "check_task", flaky)
    result = run_on(root)
    assert GOOD_FINDING in {(f.code, f.location.path) for f in result.findings}
    internal = [n for n in result.notifications if n.kind == "internal"]
    assert [n.path for n in internal] == ["shop/other.py"] and "RuntimeError: boom" in internal[0].message

    from jobcheck.catalog import load_catalog
    from jobcheck.cli import exit_code
    from jobcheck.report import sarif as sarif_report
    from jobcheck.report import text as text_report

    catalog = load_catalog()
    assert exit_code(result, catalog, "warning", False) == 2
    text = text_report.render(result, catalog, color=False)
    assert "jobcheck: internal error: shop/other.py: in check time_limits: RuntimeError: boom at " in text
    assert "All checks passed" not in text
    sarif = json.loads(sarif_report.render(result, catalog))
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("boom" in n["message"]["text"] for n in notes)
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False


# ------------------------------------------------------------------ determinism


def sarif_of(root: Path, *args: str, env=None) -> bytes:
    completed = jobcheck(root, "--output-format", "sarif", "--exit-zero", *args, env=env)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_same_bytes_whatever_the_hash_seed_processes_and_cache(tmp_path):
    root = tmp_path / "celery"
    subprocess.run(["cp", "-r", str(FIXTURES / "celery"), str(root)], check=True)
    reference = sarif_of(root, "--jobs", "1")
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        assert sarif_of(root, "--jobs", "2", env=env) == reference
    cached = [a for a in ("--cache-dir", str(tmp_path / "cache"))]
    assert sarif_of(root, *cached) == reference  # cold cache
    assert sarif_of(root, *cached) == reference  # warm: from the run cache


def test_same_findings_whatever_order_the_files_are_created_in(tmp_path):
    sources = {p.relative_to(FIXTURES / "rq").as_posix(): p.read_bytes() for p in (FIXTURES / "rq").rglob("*") if p.is_file()}
    outputs = []
    for attempt in range(3):
        root = tmp_path / "copy"  # one path: the report names the project root
        subprocess.run(["rm", "-rf", str(root)], check=True)
        names = sorted(sources)
        random.Random(attempt).shuffle(names)
        for name in names:
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(sources[name])
        outputs.append(sarif_of(root))
    assert outputs[0] == outputs[1] == outputs[2]


# ------------------------------------------------------------------ safety


def test_the_analysed_code_is_never_imported_or_run(tmp_path):
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').write('imported')\n"
    root = write_project(
        tmp_path / "p",
        {
            "pyproject.toml": "[tool.jobcheck]\n",
            "shop/__init__.py": payload,
            "shop/celery.py": payload + "from celery import Celery\napp = Celery('shop')\n",
            "shop/tasks.py": payload + "from shop.celery import app\n\n@app.task\ndef t():\n    pass\n",
            "shop/settings.py": payload + "CELERY_TASK_ACKS_LATE = True\n",
            "conftest.py": payload,
            "setup.py": payload,
            "docker-compose.yml": f"services:\n  w:\n    command: !!python/object/apply:os.system ['touch {marker}']\n",
        },
    )
    completed = jobcheck(root, "--output-format", "json")
    assert completed.returncode in (0, 1), completed.stderr
    assert not marker.exists()


def test_paths_in_reports_never_leave_the_project_root():
    for framework in ("celery", "dramatiq", "huey", "rq"):
        result = run_on(FIXTURES / framework)
        for finding in result.findings:
            for location in (finding.location, *(r.location for r in finding.related)):
                assert not location.path.startswith(("/", "../")) and ".." not in location.path.split("/")


def test_jobcheck_never_writes_into_the_checked_files(tmp_path):
    root = tmp_path / "celery"
    subprocess.run(["cp", "-r", str(FIXTURES / "celery"), str(root)], check=True)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    jobcheck(root, "--output-format", "sarif")
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="before 3.12 the tokenizer counts brackets inside f-strings")
def test_brackets_inside_an_f_string_are_not_nesting():
    from jobcheck.engine import _refused_by_python

    assert _refused_by_python(b'x = f"{' + b"(" * 250 + b'}"\n') is None
    assert _refused_by_python(b"x = " + b"(" * 250 + b"1" + b")" * 250 + b"\n") == "too many nested parentheses"


def test_a_class_that_names_itself_among_its_bases_is_analysed(tmp_path):
    """`class A(A.run)` once sent the resolver round a class, its ancestors and the class again."""
    root = write_project(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/tasks.py": "from celery import shared_task\n\nclass A(A.run):\n    pass\n\n@shared_task\ndef t():\n    A().run()\n",
        },
    )
    result = run_on(root)
    assert [n for n in result.notifications if n.kind == "internal"] == []
    assert any(f.task == "shop.tasks.t" for f in result.findings)


def test_the_analysed_codes_own_warnings_are_not_ours_to_print(tmp_path):
    """CPython warns of an invalid escape in a string literal (`"\\d"`, on stderr from Python
    3.12) when libcst evaluates it: a task module full of regular expressions must not fill
    the user's terminal with `<unknown>:1: SyntaxWarning`."""
    import warnings

    task = 'import re\nfrom celery import shared_task\n\n\n@shared_task\ndef relay(url):\n    return re.match("\\d+", url)\n'
    root = write_project(tmp_path, {"pyproject.toml": "[tool.jobcheck]\n", "shop/__init__.py": "", "shop/tasks.py": task})
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        result = run_on(root)
    assert "relay" in {t.name.split(".")[-1] for t in result.project.tasks}
    assert [str(w.message) for w in warned] == []
