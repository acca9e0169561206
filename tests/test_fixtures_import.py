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
        "shop.inventory",
        "shop.integrations",
    ],
    "dramatiq": ["worker", "worker.tasks", "worker.billing", "worker.db", "worker.customers"],
    "rq": ["jobs.queues", "jobs.work", "jobs.api", "jobs.reports", "jobs.settings", "jobs.models", "jobs.accounts"],
    "huey": ["store.hueyapp", "store.tasks", "store.mail", "store.settings", "store.models", "store.products"],
}
# fixture projects whose models need Django set up, as the worker would
DJANGO_SETTINGS = {"celery": "shop.settings", "rq": "jobs.settings", "huey": "store.settings"}


@pytest.mark.parametrize("framework", sorted(PROJECTS))
def test_fixture_project_imports(framework):
    pytest.importorskip(framework)
    modules = PROJECTS[framework]
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    if framework in DJANGO_SETTINGS:
        settings = DJANGO_SETTINGS[framework]
        code = f"import os, django\nos.environ['DJANGO_SETTINGS_MODULE'] = {settings!r}\ndjango.setup()\n" + code
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
