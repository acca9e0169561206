"""Declared package versions decide some verdicts (Huey 2 has no timeout; lock ttl needs 3.4)."""

from conftest import run_on
from jobcheck.versions import declared_versions

HUEY_TASKS = """
from huey import RedisHuey

huey = RedisHuey("h")


@huey.task()
def sync(x):
    with huey.lock_task("sync"):
        return x


def inspect():
    return huey.lock_task("sync").is_locked()
"""


def test_versions_from_locks_and_specs(tmp_path):
    (tmp_path / "uv.lock").write_text('[[package]]\nname = "huey"\nversion = "2.5.5"\n')
    assert declared_versions(tmp_path, ["huey"]) == {"huey": (2, 5, 5)}
    (tmp_path / "uv.lock").unlink()
    (tmp_path / "requirements.txt").write_text("celery==5.3.1\nhuey<3.4\n")
    assert declared_versions(tmp_path, ["huey", "celery", "rq"]) == {"huey": (3, 3, 999), "celery": (5, 3, 1)}
    (tmp_path / "requirements.txt").write_text('huey = "*"\n')
    assert declared_versions(tmp_path, ["huey"]) == {}


def codes(root):
    return sorted((f.code, f.location.line) for f in run_on(root, {"JC201", "JC803"}).findings)


def test_huey_versions_change_the_verdict(project):
    root = project({"h/__init__.py": "", "h/tasks.py": HUEY_TASKS})
    assert codes(root) == [("JC201", 8), ("JC803", 7)]  # newest Huey assumed; the lock object at :13 is not taken
    (root / "requirements.txt").write_text("huey==3.2.0\n")
    assert codes(root) == [("JC803", 7)]  # no ttl before 3.4
    (root / "requirements.txt").write_text("huey==2.5.5\n")
    assert codes(root) == []  # no task timeout in Huey 2


def test_sqlite_huey_cannot_take_a_lock_ttl(project):
    root = project({"h/__init__.py": "", "h/tasks.py": HUEY_TASKS.replace("RedisHuey", "SqliteHuey")})
    assert codes(root) == [("JC803", 7)]
