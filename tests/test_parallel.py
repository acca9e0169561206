"""Parsing in several processes gives the same answer as one."""

from jobcheck import engine
from jobcheck.catalog import load_catalog
from jobcheck.config import load

from conftest import FIXTURES, write_project


def outcome(root, jobs):
    result = engine.run([root], load([root], None), load_catalog(), {"JC001"}, jobs)
    return result.project.tasks, result.findings, result.project.enqueue_sites


def test_jobs_1_and_2_agree_on_fixtures():
    assert outcome(FIXTURES, 1) == outcome(FIXTURES, 2)


def test_jobs_1_and_2_agree_on_many_files(tmp_path):
    files = {
        "pyproject.toml": "[tool.jobcheck]\n",
        "app/__init__.py": "",
        "app/worker.py": "from celery import Celery\napp = Celery('a')\n",
    }
    for number in range(40):
        files[f"app/tasks_{number}.py"] = (
            "from app.worker import app\n\n"
            f"@app.task(queue='q{number % 3}')\ndef job_{number}(x):\n    return x\n\n"
            f"def caller():\n    job_{number}.delay(1)\n"
        )
    files["app/broken.py"] = "from celery import shared_task\ndef f(:\n"
    write_project(tmp_path, files)
    single = outcome(tmp_path, 1)
    assert len(single[0]) == 40 and len(single[1]) == 1 and len(single[2]) == 40
    assert outcome(tmp_path, 2) == single
