import textwrap
from pathlib import Path
from typing import Dict, List

import pytest

from jobcheck import engine
from jobcheck.catalog import load_catalog
from jobcheck.config import load

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def run_on(path: Path, codes=None):
    config = load([path], None)
    catalog = load_catalog()
    selected = set(codes) if codes is not None else catalog.select(config.select, config.ignore, config.extend_select)
    return engine.run([path], config, catalog, selected)


def write_project(root: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def tasks_of(root: Path) -> List:
    return run_on(root, {"JC001"}).project.tasks


def task_named(root: Path, name: str):
    matches = [t for t in tasks_of(root) if t.qualname.rsplit(".", 1)[-1] == name]
    assert len(matches) == 1, f"expected one task {name}, found {[t.qualname for t in tasks_of(root)]}"
    return matches[0]


@pytest.fixture
def project(tmp_path):
    """Write a small project: project({"pkg/tasks.py": "..."}) -> its root."""

    def make(files: Dict[str, str]) -> Path:
        (tmp_path / "pyproject.toml").write_text("[tool.jobcheck]\n", encoding="utf-8")
        return write_project(tmp_path, files)

    return make


def command_probe(argv, report: str, setup: str = "") -> str:
    """A script that runs `jobcheck *argv` in its own process after `setup`, and prints the
    expression `report` on stderr as the command leaves (through `os._exit`, with no teardown)."""
    return (
        "import os, runpy, sys\n"
        + setup
        + "leave = os._exit\n"
        "def report(code):\n"
        f"    print({report}, file=sys.stderr, flush=True)\n"
        "    leave(code)\n"
        "os._exit = report\n"
        f"sys.argv = {['jobcheck', *argv]!r}\n"
        "runpy.run_module('jobcheck', run_name='__main__')\n"
    )
