"""JC901 blocking-result-wait, JC903 sleep-in-task."""

from __future__ import annotations

from typing import Iterator

from jobcheck.checks.common import CHAIN, RETRY_LATER, at_task_body, short
from jobcheck.model import Finding, Task

CODES = ("JC901", "JC903")

# sleeps that block the worker; `asyncio.sleep`/`trio.sleep` yield to other work
BLOCKING_SLEEPS = ("time.sleep",)


def check_task(ctx, task: Task) -> Iterator[Finding]:
    configured = ctx.options("JC903").get("max-sleep-seconds")
    limit = 1.0 if configured is None else float(configured)
    for effect in ctx.effects(task):
        if effect.kind == "wait":
            location, related = at_task_body(effect, f"{effect.api} waits here")
            yield Finding(
                "JC901",
                f"`{short(task)}` waits for another job's result (`{effect.api}`): when every worker is busy "
                "running tasks that wait, nothing runs the jobs they wait for, and the pool deadlocks. "
                f"Chain the work instead ({CHAIN[task.framework]}).",
                location,
                task.qualname,
                related,
            )
        elif effect.kind == "sleep" and effect.api in BLOCKING_SLEEPS and _too_long(effect.detail, limit):
            location, related = at_task_body(effect, "time.sleep is here")
            how_long = f"{effect.detail} s" if effect.detail else "a computed time"
            yield Finding(
                "JC903",
                f"`{short(task)}` sleeps for {how_long} (`time.sleep`), holding a worker slot that could run other "
                f"jobs. Retry later instead ({RETRY_LATER[task.framework]}) or poll from a periodic task.",
                location,
                task.qualname,
                related,
            )


def _too_long(detail: str, limit: float) -> bool:
    if detail in ("jitter", "configured"):
        # a random jitter (`random.expovariate(...)`): short by design, measured on tubesync; a delay
        # read from settings or the environment: the deployment decides (DefectDojo's test-only delay)
        return False
    if not detail:
        return True  # a variable or a computed backoff: unknown length
    try:
        return float(detail) > limit
    except ValueError:
        return True
