"""The command line: commands, exit codes, one-line errors, no tracebacks."""

import re
import json
import shlex
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, REPO
from jobcheck import __version__
from jobcheck.catalog import load_catalog
from jobcheck.cli import main


def invoke(*args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, list(args), catch_exceptions=False)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(main, list(args), catch_exceptions=False)


def run_cli(*args, cwd):
    """The installed entry point in a subprocess, to see the real stderr and exit code."""
    return subprocess.run(
        [sys.executable, "-m", "jobcheck", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_rules_lists_every_catalog_code_with_level_and_default():
    result = invoke("rules")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    catalog = load_catalog()
    assert len(lines) == len(catalog.rules)
    for line, rule in zip(lines, catalog.rules.values()):
        assert line.startswith(rule.code)
        assert rule.level in line
        assert (" on " if rule.default else " off ") in line


def test_rule_explains_jc001():
    result = invoke("rule", "jc001")
    assert result.exit_code == 0
    assert result.output.startswith("# syntax-error (JC001)")
    assert "## Why is this bad?" in result.output


def test_unknown_rule_code_is_one_line_and_exit_2(tmp_path):
    completed = run_cli("rule", "JC999", cwd=tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "jobcheck: error: unknown rule code `JC999` (see `jobcheck rules`)"
    ]


def test_check_demo_project_reports_and_exits_1():
    result = invoke("check", str(FIXTURES))
    assert result.exit_code == 1
    assert "JC001" in result.output
    assert "jinja_tasks.py:3:2: JC001" in result.output
    assert re.fullmatch(r"Found \d+ errors in \d+ files \(1 suppressed\)\.", result.output.rstrip().splitlines()[-1])


def test_exit_zero_and_fail_on_never():
    assert invoke("check", "--exit-zero", str(FIXTURES)).exit_code == 0
    assert invoke("check", "--fail-on", "never", str(FIXTURES)).exit_code == 0


def test_ignore_and_select(tmp_path):
    assert invoke("check", "--select", "JC0", "--ignore", "JC001", str(FIXTURES)).exit_code == 0
    only = invoke("check", "--select", "JC0", str(FIXTURES))
    assert only.exit_code == 1
    assert " JC001 " in only.output and " JC101 " not in only.output
    assert " JC101 " in invoke("check", "--select", "JC1", str(FIXTURES)).output


def test_unknown_select_code_is_an_error(tmp_path):
    completed = run_cli("check", "--select", "JC77", str(FIXTURES), cwd=tmp_path)
    assert completed.returncode == 2
    assert "unknown rule code or prefix `JC77`" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_clean_project_exits_0(project):
    root = project({"app/tasks.py": "from celery import shared_task\n\n@shared_task(queue='q', time_limit=60)\ndef a():\n    pass\n"})
    result = invoke("check", str(root))
    assert result.exit_code == 0
    assert "All checks passed!" in result.output


def test_missing_path_is_one_line_exit_2(tmp_path):
    completed = run_cli("check", "nowhere", cwd=tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.strip() == "jobcheck: error: nowhere: no such file or directory"


LEAVE_AND_SHOW = """
import atexit, sys
atexit.register(lambda: print("teardown", file=sys.stderr))
from jobcheck.cli import run
sys.argv = ["jobcheck", *sys.argv[1:]]
run()
"""


@pytest.mark.parametrize("extra, status", [([], 1), (["--exit-zero"], 0)])
def test_check_leaves_without_teardown_and_keeps_its_output_and_status(tmp_path, extra, status):
    """A cold run leaves a large graph of facts; freeing it object by object at exit costs a
    tenth of the run. `check` ends through `os._exit`, after its output is flushed."""
    completed = subprocess.run(
        [sys.executable, "-c", LEAVE_AND_SHOW, "check", "--no-cache", *extra, str(FIXTURES)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == status
    assert completed.stdout == invoke("check", "--no-cache", *extra, str(FIXTURES)).output
    assert "teardown" not in completed.stderr


def test_a_report_file_is_whole_when_check_leaves(tmp_path):
    args = ["check", "--no-cache", "--exit-zero", "--output-format", "sarif", str(FIXTURES)]
    completed = subprocess.run(
        [sys.executable, "-c", LEAVE_AND_SHOW, *args, "--output", str(tmp_path / "left.sarif")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0 and completed.stdout == ""
    assert invoke(*args, "--output", str(tmp_path / "stayed.sarif")).exit_code == 0
    assert (tmp_path / "left.sarif").read_text() == (tmp_path / "stayed.sarif").read_text()
    assert json.loads((tmp_path / "left.sarif").read_text())["runs"][0]["results"]


def test_the_exit_status_stands_when_stderr_is_closed(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    command = f"{shlex.quote(sys.executable)} -m jobcheck check --no-cache . 2>&-"
    completed = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0 and completed.stdout.startswith("All checks passed!")


def test_unknown_config_key_names_the_key(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.jobcheck]\nselectt = ['JC1']\n")
    completed = run_cli("check", ".", cwd=tmp_path)
    assert completed.returncode == 2
    assert "unknown key `selectt`" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_wrong_type_in_config(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.jobcheck]\nselect = 'JC1'\n")
    completed = run_cli("check", ".", cwd=tmp_path)
    assert completed.returncode == 2
    assert "`select` must be a list of strings" in completed.stderr


def test_pyproject_that_is_not_toml(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.jobcheck\n")
    completed = run_cli("check", ".", cwd=tmp_path)
    assert completed.returncode == 2
    assert "not valid TOML" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_explicit_config_file(tmp_path):
    config = tmp_path / "jobcheck.toml"
    config.write_text("ignore = ['JC001']\n")
    (tmp_path / "bad.py").write_text("import celery\ndef f(:\n")
    result = invoke("check", "--config", str(config), str(tmp_path))
    assert result.exit_code == 0


def test_config_select_and_fail_on(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.jobcheck]\nfail-on = 'never'\n")
    (tmp_path / "bad.py").write_text("import celery\ndef f(:\n")
    completed = run_cli("check", ".", cwd=tmp_path)
    assert completed.returncode == 0
    assert "JC001" in completed.stdout


def test_json_output(tmp_path):
    result = invoke("check", "--output-format", "json", "--select", "JC001", str(FIXTURES))
    document = json.loads(result.output)
    codes = [f["code"] for f in document["findings"]]
    assert codes == ["JC001"]
    finding = document["findings"][0]
    assert finding["location"]["path"].endswith("fixtures/syntax/jinja_tasks.py")
    assert (finding["location"]["line"], finding["location"]["column"]) == (3, 2)
    assert finding["level"] == "error"


def test_output_file_written_and_unwritable_path(tmp_path):
    target = tmp_path / "report.json"
    result = invoke("check", "--output-format", "json", "--output", str(target), str(FIXTURES))
    assert result.exit_code == 1
    assert json.loads(target.read_text())["findings"]
    completed = run_cli("check", "--output", str(tmp_path / "missing" / "r.txt"), str(FIXTURES), cwd=tmp_path)
    assert completed.returncode == 2
    assert "cannot write the report" in completed.stderr


def test_unknown_output_format_is_usage_error(tmp_path):
    completed = run_cli("check", "--output-format", "xml", ".", cwd=tmp_path)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr


def test_tasks_text_and_json():
    text = invoke("tasks", str(FIXTURES / "celery"))
    assert text.exit_code == 0
    assert "capture_payment  [celery, @app.task(" in text.output
    assert text.output.rstrip().endswith("in 14 files.")
    exports = [line for line in text.output.splitlines() if "task(s): export_orders" in line]
    assert len(exports) == 1 and "NOT consumed by the declared workers" in exports[0]
    document = json.loads(invoke("tasks", "--output-format", "json", str(FIXTURES / "celery")).output)
    by_name = {t["qualname"]: t for t in document["tasks"]}
    queue = by_name["shop.payments.capture_payment"]["options"]["queue"]
    assert queue["value"] == "payments"
    assert queue["location"]["path"].endswith("shop/settings.py")


def test_syntax_error_file_does_not_stop_the_run(project):
    root = project(
        {
            "a/broken.py": "from celery import shared_task\n@shared_task\ndef f(:\n",
            "a/good.py": "from celery import shared_task\n\n@shared_task\ndef ok():\n    pass\n",
        }
    )
    result = invoke("check", str(root))
    assert result.exit_code == 1
    assert "broken.py:3:7: JC001" in result.output
    tasks = invoke("tasks", str(root))
    assert "ok  [celery" in tasks.output


@pytest.mark.parametrize("command, code", [(["check"], 1), (["tasks"], 0)])
def test_entry_point_runs_from_a_subprocess(command, code, tmp_path):
    completed = run_cli(*command, str(FIXTURES / "huey"), cwd=REPO)
    assert completed.returncode == code, completed.stderr
    assert completed.stderr == ""


def test_readme_configuration_example_is_valid():
    import re

    tomllib = pytest.importorskip("tomllib")

    from jobcheck.config import from_table

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    table = tomllib.loads(example)["tool"]["jobcheck"]
    config = from_table(table, REPO, None)
    assert config.effect_functions == ("myproj.notify.push",)
    assert config.rule_options("JC903") == {"max-sleep-seconds": 2}
