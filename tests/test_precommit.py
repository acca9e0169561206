"""The pre-commit hook, run by the real pre-commit: manifest, and a try-repo run with no index."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, write_project

pytest.importorskip("pre_commit")

PYPROJECT = '[tool.jobcheck]\nignore = ["JC602"]\n'

BAD = """
import requests
from celery import shared_task


@shared_task(queue="q", expires=60, time_limit=60)
def charge(url):
    requests.post(url)
"""


def run(*args, cwd, env=None, timeout=600):
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_manifest_is_valid():
    completed = run(sys.executable, "-m", "pre_commit", "validate-manifest", ".pre-commit-hooks.yaml", cwd=REPO)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    """jobcheck's wheel and everything installing it needs (its build backend included), so
    pre-commit's own `pip install` runs with no index at all."""
    house = tmp_path_factory.mktemp("wheelhouse")
    for command in (["wheel", "-w", str(house), str(REPO)], ["download", "-d", str(house), "hatchling"]):
        completed = run(sys.executable, "-m", "pip", *command, "-q", cwd=REPO)
        assert completed.returncode == 0, completed.stderr[-2000:]
    return house


def git_project(root: Path) -> Path:
    write_project(root, {"pyproject.toml": PYPROJECT, "shop/__init__.py": "", "shop/tasks.py": BAD})
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "shop"],
    ):
        assert run(*command, cwd=root).returncode == 0
    return root


def test_try_repo_runs_the_hook_offline(tmp_path, wheelhouse):
    if shutil.which("git") is None:
        pytest.fail("git is needed to run pre-commit")
    project = git_project(tmp_path / "project")
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "VIRTUALENV_NO_DOWNLOAD": "1",
    }
    hook = [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "jobcheck", "--all-files"]
    failing = run(*hook, cwd=project, env=env)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "shop/tasks.py:7:5: JC101 `charge` calls `requests.post`" in failing.stdout
    fixed = BAD.replace("requests.post(url)", "requests.post(url, headers={'Idempotency-Key': url})")
    (project / "shop" / "tasks.py").write_text(fixed, encoding="utf-8")
    passing = run(*hook, cwd=project, env=env)
    assert passing.returncode == 0, passing.stdout + passing.stderr
