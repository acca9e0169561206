"""Fixture projects are real code: each imports cleanly with its framework installed."""

import subprocess
import sys

import pytest

from conftest import FIXTURES

PROJECTS = {
    "celery": [
        "shop.base",
        "shop.settings",
        "shop.models",
        "shop.orders",
        "shop.services",
        "shop.celery",
        "shop.payments",
        "shop.emails",
        "shop.reports",
        "shop.views",
        "shop.wrappers",
    ],
    "dramatiq": ["worker", "worker.tasks", "worker.billing"],
    "rq": ["jobs.queues", "jobs.work", "jobs.api", "jobs.reports"],
    "huey": ["store.hueyapp", "store.tasks", "store.mail"],
}


@pytest.mark.parametrize("framework", sorted(PROJECTS))
def test_fixture_project_imports(framework):
    pytest.importorskip(framework)
    modules = PROJECTS[framework]
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    if framework == "celery":  # its models need Django set up, as the worker would
        code = "import os, django\nos.environ['DJANGO_SETTINGS_MODULE'] = 'shop.settings'\ndjango.setup()\n" + code
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=FIXTURES / framework, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_every_fixture_module_is_imported():
    """A fixture module left out of PROJECTS would not be checked for importability."""
    for framework, modules in PROJECTS.items():
        root = FIXTURES / framework
        on_disk = set()
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            on_disk.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
        on_disk = {m for m in on_disk if m and not m.endswith("__init__")}
        packages = {m for m in on_disk if (root / m.replace(".", "/") / "__init__.py").exists()}
        assert on_disk - packages - set(modules) == set(), framework
