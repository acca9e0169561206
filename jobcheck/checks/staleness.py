"""JC801 missing-staleness-guard."""

from __future__ import annotations

from typing import Iterator

from jobcheck.checks.common import WORLD_EFFECTS, short
from jobcheck.model import Finding, Task, leaf

CODES = ("JC801",)

CLOCK_LEAVES = {"now", "utcnow", "time", "monotonic", "today", "timestamp"}
SETTING = {
    "celery": "`expires=` on the task (or at every enqueue, or in the beat entry's options)",
    "dramatiq": "`max_age=` on the actor (or an `AgeLimit(max_age=...)` broker middleware)",
    "huey": "`expires=` on the task",
    "rq": "`ttl=` on the job or at every enqueue",
}
SITE_KEYWORD = {"celery": "expires", "rq": "ttl", "dramatiq": "max_age", "huey": "expires"}


def bounded(ctx, task: Task) -> bool:
    expires = task.option("expires")
    if expires is not None and expires.value is not None:
        return True
    sites = [s for s in ctx.project.enqueue_sites if s.task == task.qualname]
    keyword = SITE_KEYWORD[task.framework]
    return bool(sites) and all(s.may_set(keyword) for s in sites)


def checks_deadline(effects) -> bool:
    """An early exit that compares with the clock (`if now() > deadline: return`)."""
    return any(
        frame.kind == "guard" and any(leaf(call.func) in CLOCK_LEAVES for call in frame.exprs)
        for effect in effects
        for frame in effect.frames
    )


def check_task(ctx, task: Task) -> Iterator[Finding]:
    effects = [e for e in ctx.effects(task) if e.kind in WORLD_EFFECTS]
    if not effects or bounded(ctx, task) or checks_deadline(effects):
        return
    first = effects[0]
    periodic = task.option("periodic")
    location = periodic.location if periodic is not None and periodic.location else task.location
    beats = [s for s in ctx.project.enqueue_sites if s.task == task.qualname and s.api == "beat"]
    unbounded_beats = [s for s in beats if dict(s.options).get("expires") is None]
    if unbounded_beats:
        location = unbounded_beats[0].location  # periodic: reported at the schedule entry (reading 7)
    yield Finding(
        "JC801",
        f"`{short(task)}` has effects (`{first.api}`) but nothing bounds how late it may run; a job that waits "
        f"in a backlog still runs days later. Set {SETTING[task.framework]}, or check a deadline in the body.",
        location,
        task.qualname,
    )
