"""Parsing in several processes gives the same answer as one."""

import os

import pytest

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


def _helper_project(root, helpers=24, called=(0, 5, 11, 22, 23)):
    """A task module that imports many helpers (enough to be read ahead by the workers) and
    calls a few: the largest, which the workers read first (the analysis waits for them), and
    small ones, still queued when needed (the analysis reads them itself). One helper that is
    called does not parse."""
    files = {"pyproject.toml": "[tool.jobcheck]\n", "shop/__init__.py": ""}
    for number in range(helpers):
        files[f"shop/helper_{number}.py"] = (
            "import requests\n\n\n"
            f"def send_{number}(url):\n    return requests.post(url, json={{'n': {number}}})\n"
            + "\n\ndef filler():\n    return 1\n" * number  # sizes differ: the largest are read first
        )
    files["shop/helper_7.py"] = "def send_7(:\n"
    imports = "".join(f"from shop.helper_{number} import send_{number}\n" for number in range(helpers))
    calls = "".join(f"    send_{number}(url)\n" for number in (*called, 7))
    files["shop/tasks.py"] = (
        f"from celery import shared_task\n{imports}\n\n"
        f"@shared_task(queue='q', expires=60, time_limit=60, acks_late=True)\ndef relay(url):\n{calls}"
    )
    return write_project(root, files)


def full_outcome(root, jobs, cache=None):
    config = load([root], None)
    catalog = load_catalog()
    result = engine.run([root], config, catalog, catalog.select(config.select, (), ()), jobs, None, cache)
    findings = sorted((f.code, f.location.path, f.location.span, f.message) for f in result.findings)
    return findings, [(n.path, n.kind) for n in result.notifications], sorted(m.path for m in result.modules)


def test_helpers_read_ahead_by_the_workers_give_the_same_answer(tmp_path, monkeypatch):
    """With --jobs 2 the imported helpers are read by the workers while the analysis goes on;
    it takes each reading it needs, waiting for a worker or reading an unstarted one itself.
    A helper read ahead that the analysis never needs plays no part; its failure neither."""
    root = _helper_project(tmp_path / "p")
    ahead = []
    prefetch = engine.SourceSet.prefetch_imports

    def recording(self, modules):
        prefetch(self, modules)
        ahead.extend(self._prefetching)

    monkeypatch.setattr(engine.SourceSet, "prefetch_imports", recording)
    single = full_outcome(root, 1)
    assert not ahead  # (one process reads nothing ahead)
    codes = {code for code, *_ in single[0]}
    assert "JC101" in codes and ("shop/helper_7.py", "error") not in single[1]
    assert "shop/helper_3.py" not in single[2]  # imported, never called
    assert full_outcome(root, 2) == single
    assert len(ahead) == 24


def test_helpers_read_ahead_are_cached_when_done(tmp_path):
    root = _helper_project(tmp_path / "p")
    cache = tmp_path / "cache"
    cold = full_outcome(root, 2, cache)
    assert full_outcome(root, 2, cache)[:2] == cold[:2]  # (a run served whole keeps no modules)
    (root / "shop" / "helper_5.py").write_text("def send_5(url):\n    return None\n", encoding="utf-8")
    changed = full_outcome(root, 2, cache)
    assert changed != cold and changed == full_outcome(root, 1)


# CPython's pool manager thread fails on the jobs the analysis took back when the pool breaks
# (`InvalidStateError` on a cancelled future): its traceback is expected in these tests
BROKEN_POOL_NOISE = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def _dies_in_a_worker(monkeypatch, victim):
    """A worker process that reads `victim` (rel, cheap) dies there, as one killed for memory."""
    read = engine.read_facts

    def dying(data, rel, module_name, is_package, cheap):
        if engine._files_read_here is not None and (rel, cheap) == victim:
            os._exit(1)
        return read(data, rel, module_name, is_package, cheap)

    monkeypatch.setattr(engine, "read_facts", dying)


@pytest.mark.parametrize(
    "victim",
    [("shop/helper_23.py", True), ("shop/tasks.py", False)],
    ids=["a helper read ahead", "the task module's libcst reading"],
)
@BROKEN_POOL_NOISE
def test_a_worker_that_dies_leaves_the_answer_whole(tmp_path, monkeypatch, victim):
    root = _helper_project(tmp_path / "p")
    single = full_outcome(root, 1)
    _dies_in_a_worker(monkeypatch, victim)
    assert full_outcome(root, 2) == single


@BROKEN_POOL_NOISE
def test_a_worker_that_dies_in_a_batch_leaves_the_answer_whole(tmp_path, monkeypatch):
    files = {"pyproject.toml": "[tool.jobcheck]\n", "app/__init__.py": ""}
    for number in range(20):
        files[f"app/tasks_{number}.py"] = (
            "import requests\nfrom celery import shared_task\n\n\n"
            f"@shared_task(queue='q', expires=60, time_limit=60)\ndef job_{number}(url):\n    requests.post(url)\n"
        )
    root = write_project(tmp_path, files)
    single = full_outcome(root, 1)
    assert len(single[0]) >= 20
    _dies_in_a_worker(monkeypatch, ("app/tasks_5.py", True))
    assert full_outcome(root, 2) == single


@BROKEN_POOL_NOISE
def test_no_worker_outlives_a_run_whose_workers_broke_down(tmp_path, monkeypatch):
    """The interpreter waits for live worker processes at exit: a leftover one would hang it."""
    import multiprocessing

    root = _helper_project(tmp_path / "p")
    _dies_in_a_worker(monkeypatch, ("shop/helper_23.py", True))
    full_outcome(root, 2)
    assert multiprocessing.active_children() == []
