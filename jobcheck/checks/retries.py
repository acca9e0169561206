"""JC301 retried-unguarded-task."""

from __future__ import annotations

from typing import Iterator, Optional

from jobcheck.analysis.raises import RetryPoints, retried_exceptions
from jobcheck.checks import idempotency
from jobcheck.checks.common import short
from jobcheck.model import Finding, RelatedLocation, Task

CODES = ("JC301",)

UNIT_OF_WORK_APIS = ("session.", "sqlalchemy.")


def retried_by(task: Task) -> Optional[str]:
    """Why the framework runs this task again after a failure, or None."""
    retries = task.option("retries")
    acks_late = task.option("acks_late")
    if task.framework == "celery" and acks_late is not None and acks_late.value is True:
        return f"acks_late from {acks_late.source}: a worker crash redelivers it"
    if retries is None:
        return None
    value = retries.value
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
        count = "without limit" if value is None else f"up to {value} times"
        return f"{count}, from {retries.source}"
    if not isinstance(value, (int, float, bool, str)):
        # a count the code computes (`Retries(max_retries=settings.MAX)`): not 0 as written
        return f"a configured number of times, from {retries.source}"
    return None


def retry_points(ctx, task: Task) -> RetryPoints:
    """Where a failure leads to a retry: anywhere, except for a Celery task that retries only
    on `autoretry_for` exceptions and at its `self.retry(...)` calls (and is not acks_late)."""
    acks_late = task.option("acks_late")
    exceptions = None
    if task.framework == "celery" and not (acks_late is not None and acks_late.value is True):
        autoretry = task.option("autoretry_for")
        exceptions = retried_exceptions(autoretry.value) if autoretry is not None else ()
    entry = ctx.analysis.entry(task)
    bound = entry[1].params[0].name if entry is not None and entry[1].params else "self"
    return RetryPoints(ctx.analysis, frozenset(("self", bound, task.qualname)), exceptions)


def rolled_back_on_failure(ctx, effect) -> bool:
    """A SQLAlchemy write with no `commit()` on its path: the failure that triggers the retry
    rolls it back (the session commits at the end of the unit of work), so the retry cannot
    repeat it. A redelivery after the commit still can: that is JC101's finding."""
    if effect.kind != "db-write" or not effect.api.startswith(UNIT_OF_WORK_APIS):
        return False
    return not any(ctx.analysis.commits(scope) for scope in effect.path or (effect.scope,))


def check_task(ctx, task: Task) -> Iterator[Finding]:
    why = retried_by(task)
    if why is None:
        return
    points = retry_points(ctx, task)
    effects = [
        e
        for e in idempotency.unguarded(ctx, task, ("external", "insert", "increment"))
        if points.follow(e) and not rolled_back_on_failure(ctx, e)
    ]
    if not effects:
        return
    # the effect a retry costs most: a message, call or payment before a database row
    first = next((e for e in effects if e.kind == "external"), effects[0])
    related = tuple(RelatedLocation(e.location, f"{e.api} has no guard") for e in effects[:5])
    setting = "max_retries=0" if task.framework in ("dramatiq", "celery") else "retries=0"
    point = None if points.anywhere else points.point_after(first)
    if point is not None:
        count = why.split(", from ")[0]
        failure = f"a retry triggered at {point} comes after it and repeats it"
        why = f"{count}, from {task.option('retries').source.split(';')[0]}"
    elif why.startswith("acks_late"):
        failure = "a worker crash after it redelivers the job, which repeats it"
    else:
        failure = "a failure after it makes the retry repeat it"
    yield Finding(
        "JC301",
        f"`{short(task)}` is retried ({why}), but `{first.api}` has no guard: {failure}. "
        f"Guard the effect (idempotency key, dedupe check) or set {setting} for this task.",
        task.location,
        task.qualname,
        related,
    )
