"""Suppression comments, and JC002 for the ones that silence nothing."""

from conftest import run_on

TASKS = '''
import requests
from celery import shared_task

TEXT = "# noqa: JC101 inside a string is not a comment"


@shared_task(queue="q", expires=60)
def reasoned(url):
    requests.post(url)  # jobcheck: ignore[JC101] -- the receiver dedupes on the body


@shared_task(queue="q", expires=60)
def noqa_code(url):
    requests.post(url)  # noqa: JC101


@shared_task(queue="q", expires=60)
def noqa_bare(url):
    requests.post(url)  # noqa


@shared_task(queue="q", expires=60)
def other_tools_code(url):
    requests.post(url)  # noqa: E501


@shared_task(queue="q", expires=60)
def whole_task(url):  # jobcheck: ignore[JC101]
    requests.post(url)
    requests.delete(url)


@shared_task(queue="q", expires=60)
def string_is_not_a_comment(url):
    requests.post(url, data="# noqa")


@shared_task(queue="q", expires=60)
def stale(url):
    requests.get(url)  # jobcheck: ignore[JC101, JC999]


@shared_task(queue="q", expires=60)
def not_judged(url):
    requests.get(url)  # noqa: JC402


@shared_task(queue="q", expires=60)
def bare_noqa_is_not_ours(url):
    requests.get(url)  # noqa
'''


def findings_by_task(result):
    return sorted((f.task or "").rsplit(".", 1)[-1] + ":" + f.code for f in result.findings)


def test_comments_silence_their_line_or_their_task(project):
    root = project({"app/__init__.py": "", "app/tasks.py": TASKS})
    result = run_on(root, {"JC101"})
    assert findings_by_task(result) == ["other_tools_code:JC101", "string_is_not_a_comment:JC101"]
    reasons = {s.finding.task.rsplit(".", 1)[-1]: s.reason for s in result.suppressed}
    assert reasons["reasoned"] == "the receiver dedupes on the body"
    assert reasons["noqa_code"] is None
    assert sorted(reasons) == ["noqa_bare", "noqa_code", "reasoned", "whole_task"]
    assert len([s for s in result.suppressed if s.finding.task.endswith("whole_task")]) == 2


def test_unused_suppressions_are_jc002_for_rules_that_ran(project):
    root = project({"app/__init__.py": "", "app/tasks.py": TASKS})
    result = run_on(root, {"JC101", "JC002"})
    unused = [f for f in result.findings if f.code == "JC002"]
    lines = (root / "app/tasks.py").read_text().splitlines()
    assert [lines[f.location.line - 1].strip() for f in unused] == [
        "requests.get(url)  # jobcheck: ignore[JC101, JC999]"
    ]
    assert "`JC101`, `JC999`" in unused[0].message
    assert unused[0].location.col == lines[unused[0].location.line - 1].index("#")


def test_file_that_does_not_tokenize_has_no_directives(project):
    root = project({"app/__init__.py": "", "app/broken.py": "import celery\nx = (1,  # noqa: JC101\n"})
    result = run_on(root, {"JC001", "JC002"})
    assert [f.code for f in result.findings] == ["JC001"]


def test_per_file_ignores_turn_codes_off_by_path_or_name(project):
    root = project({"app/__init__.py": "", "app/tasks.py": TASKS, "app/jobs.py": TASKS})
    (root / "pyproject.toml").write_text(
        '[tool.jobcheck.per-file-ignores]\n"app/tasks.py" = ["JC1"]\n"jobs.py" = ["JC401"]\n', encoding="utf-8"
    )
    result = run_on(root, {"JC101"})
    assert {f.location.path for f in result.findings} == {"app/jobs.py"}
