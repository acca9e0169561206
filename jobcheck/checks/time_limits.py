"""JC803 missing-time-limit."""

from __future__ import annotations

import math
from typing import Iterator

from jobcheck.checks.common import short
from jobcheck.model import Call, Const, Finding, Name, Task, leaf

CODES = ("JC803",)

FIX = {
    "celery": "Set `time_limit=` (and `soft_time_limit=` to clean up) on the task, or `task_time_limit` for the app",
    "huey": "Set `timeout=` on the task",
    "rq": "Give the job a finite `job_timeout`",
    "dramatiq": "Give the actor a finite `time_limit` (milliseconds)",
}


def check_task(ctx, task: Task) -> Iterator[Finding]:
    if not _unlimited(task):
        return
    huey = ctx.project.versions.get("huey")
    if task.framework == "huey" and huey is not None and huey < (3,):
        return  # Huey 2 has no task timeout: nothing to set
    yield Finding(
        "JC803",
        f"`{short(task)}` has no time limit: a call that hangs (a socket with no timeout, a lock) holds a "
        f"worker forever, and the queue behind it stops. {FIX[task.framework]}.",
        task.location,
        task.qualname,
    )


def _unlimited(task: Task) -> bool:
    limit = task.option("time_limit")
    value = limit.value if limit is not None else None
    if task.framework == "celery":
        soft = task.option("soft_time_limit")
        return value is None and (soft is None or soft.value is None)
    if task.framework == "huey":
        return value is None
    if task.framework == "rq":
        return value == -1
    if task.framework == "dramatiq":
        return limit is not None and (value is None or _infinite(value))
    return False


def _infinite(value) -> bool:
    """`float("inf")`, `math.inf`, or an infinite constant."""
    if isinstance(value, float):
        return math.isinf(value)
    if isinstance(value, Call) and leaf(value.func) == "float" and value.args:
        return isinstance(value.args[0], Const) and str(value.args[0].value).lower().lstrip("+") in ("inf", "infinity")
    return isinstance(value, Name) and value.qname in ("math.inf", "numpy.inf")
