"""JC302 retry-without-backoff, JC303 unbounded-retries, JC304 broad-autoretry.

Reported at the setting (the decorator, `Retry(...)`, the broker middleware or the
`self.retry(...)` call that sets it; the task's name when the setting has no place)."""

from __future__ import annotations

from typing import Any, Iterator, Optional

from jobcheck.checks.common import BROAD_EXCEPTIONS, job_label, short
from jobcheck.model import Call, Collection, Const, Finding, Location, Name, OptionValue, Task, split_method

CODES = ("JC302", "JC303", "JC304")



def check_task(ctx, task: Task) -> Iterator[Finding]:
    if "JC304" in ctx.selected:
        yield from _broad_autoretry(ctx, task)
    limit = _limit(ctx)
    yield from _unbounded(ctx, task, limit)
    yield from _without_backoff(ctx, task)
    yield from _retry_calls(ctx, task, limit)


def check_project(ctx) -> Iterator[Finding]:
    """Retry settings passed at an enqueue: `queue.enqueue(f, retry=Retry(max=5))`,
    `task.schedule(retries=3)`, `actor.send_with_options(max_retries=None)`."""
    limit = _limit(ctx)
    for site in ctx.project.enqueue_sites:
        options = dict(site.options)
        retry = options.get("retry")
        if site.framework == "rq" and isinstance(retry, Call):
            yield from _rq_retry(retry, site.location, _task_label(site.task), limit)
        key = "retries" if site.framework == "huey" else "max_retries"
        count = options.get(key)
        if key in options and site.framework in ("huey", "dramatiq"):
            finding = _count_finding(count, site.location, _task_label(site.task), limit, site.framework)
            if finding is not None:
                yield finding
        if site.framework == "huey" and _positive(count) and not _positive(options.get("retry_delay")):
            yield _no_backoff(site.location, _task_label(site.task), "`retries` without `retry_delay`", "huey")


def _limit(ctx) -> int:
    value = ctx.options("JC303").get("max-retries")
    return 25 if value is None else int(value)


# ------------------------------------------------------------------ JC304


def _broad_autoretry(ctx, task: Task) -> Iterator[Finding]:
    option = task.option("autoretry_for")
    if task.framework != "celery" or option is None:
        return
    retries = task.option("retries")
    if retries is not None and retries.value == 0:
        return  # `max_retries=0`: Celery gives up at once, nothing is retried
    broad = sorted(_exception_names(ctx, option.value) & BROAD_EXCEPTIONS)
    if broad:
        yield Finding(
            "JC304",
            f"`{short(task)}` retries on `{broad[0]}` (`autoretry_for`): a bug (a `KeyError`, a `TypeError`) is "
            "retried as if it were transient, and its effects repeat. List the transient errors instead "
            "(`ConnectionError`, `requests.Timeout`, your client's errors).",
            _where(option, task),
            task.qualname,
        )


def _exception_names(ctx, value: Any) -> set:
    """The exception names in an `autoretry_for` value, through a tuple bound to a module name."""
    if isinstance(value, Name) and value.kind == "global":
        target = ctx.project.index.resolve(value.qname)
        if target.kind == "value" and target.expr is not None:
            return _exception_names(ctx, target.expr)
        return {target.canonical.rsplit(".", 1)[-1]} if target.canonical.startswith("builtins.") else set()
    if isinstance(value, Name):
        return {value.qname} if value.kind == "builtin" else set()
    if isinstance(value, Collection):
        return set().union(*(_exception_names(ctx, item) for item in value.items)) if value.items else set()
    if isinstance(value, (tuple, list)):
        return set().union(*(_exception_names(ctx, item) for item in value)) if value else set()
    return set()


# ------------------------------------------------------------------ JC303


def _unbounded(ctx, task: Task, limit: int) -> Iterator[Finding]:
    retries = task.option("retries")
    if retries is None or retries.source.startswith("default") or not _is_retried(task, retries):
        return
    if task.framework == "rq":
        retry = task.option("retry")
        if retry is not None and isinstance(retry.value, Call):
            yield from _rq_retry(retry.value, _where(retry, task), f"`{short(task)}`", limit)
        return
    finding = _count_finding(retries.value, _where(retries, task), f"`{short(task)}`", limit, task.framework)
    if finding is not None:
        yield finding


def _is_retried(task: Task, retries: OptionValue) -> bool:
    """Celery's max_retries only matters when something retries the task."""
    return task.framework != "celery" or "retried by" in retries.source


def _count_finding(value: Any, location: Location, label: str, limit: int, framework: str) -> Optional[Finding]:
    keyword = {"huey": "retries", "rq": "Retry(max=...)"}.get(framework, "max_retries")
    if isinstance(value, Const):
        value = value.value
    if value is None:
        what = f"{label} retries without limit (`{keyword}=None`)"
    elif isinstance(value, int) and not isinstance(value, bool) and value > limit:
        what = f"{label} retries up to {value} times (`{keyword}`), more than the {limit} this project accepts"
    else:
        return None
    return Finding(
        "JC303",
        f"{what}: a job that can never succeed keeps a worker busy and repeats its effects for hours or days. "
        f"Set a ceiling (`{keyword}=5`...) and handle the final failure.",
        location,
    )


def _rq_retry(retry: Call, location: Location, label: str, limit: int) -> Iterator[Finding]:
    maximum = retry.kwarg("max") or (retry.args[0] if retry.args else None)
    if isinstance(maximum, Const):
        finding = _count_finding(maximum.value, location, label, limit, "rq")
        if finding is not None:
            yield finding
    interval = retry.kwarg("interval") or (retry.args[1] if len(retry.args) > 1 else None)
    if interval is None or (isinstance(interval, Const) and interval.value in (0, 0.0, [], ())):
        yield _no_backoff(location, label, "`Retry(max=...)` without `interval`", "rq")


# ------------------------------------------------------------------ JC302


def _without_backoff(ctx, task: Task) -> Iterator[Finding]:
    retries = task.option("retries")
    if retries is None or not _positive(retries.value):
        return
    label = f"`{short(task)}`"
    if task.framework == "huey":
        if not _has_backoff(task):
            yield _no_backoff(_where(retries, task), label, "`retries` without `retry_delay`", "huey")
    elif task.framework == "celery" and "retried by autoretry_for" in retries.source:
        delay, backoff = task.option("retry_delay"), task.option("retry_backoff")
        no_delay = delay is not None and not delay.source.startswith("default") and delay.value in (0, 0.0)
        if no_delay and not (backoff is not None and backoff.value not in (None, False, 0)):
            yield _no_backoff(_where(delay, task), label, "`default_retry_delay=0` without `retry_backoff`", "celery")


def _has_backoff(task: Task) -> bool:
    """A positive `retry_delay`, or any backoff option (`retry_backoff`, a project's `backoff_class=`)."""
    for key, option in task.options:
        if key == "retry_delay" and _positive(option.value):
            return True
        if "backoff" in key and option.value not in (None, False, 0):
            return True
    return False


def _positive(value: Any) -> bool:
    if isinstance(value, Const):
        value = value.value
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _no_backoff(location: Location, label: str, what: str, framework: str) -> Finding:
    fix = {
        "huey": "set `retry_delay=` (seconds between tries)",
        "rq": "pass `interval=` (seconds, or a list that grows: `[10, 60, 300]`)",
        "celery": "set `retry_backoff=True` or a `countdown`",
    }[framework]
    return Finding(
        "JC302",
        f"{label} retries with no delay ({what}): every try hits the same outage within milliseconds "
        f"and the retries are spent before it ends. {fix[0].upper()}{fix[1:]}.",
        location,
    )


# ------------------------------------------------------------------ self.retry(...)


def _retry_calls(ctx, task: Task, limit: int) -> Iterator[Finding]:
    """`self.retry(countdown=0)` (JC302) and `self.retry(max_retries=None)` (JC303) in the body."""
    if task.framework != "celery":
        return
    entry = ctx.analysis.entry(task)
    if entry is None:
        return
    module, function = entry
    backoff = task.option("retry_backoff")
    bind = task.option("bind")
    names = {"self"}
    if bind is not None and bind.value is True and function.params:
        names.add(function.params[0].name)  # a bound task may name itself anything (`task.retry(...)`)
    for fact in ctx.analysis.calls_of(module, function):
        split = split_method(fact.call.func)
        if split is None or split[1] != "retry" or not (isinstance(split[0], Name) and split[0].qname in names):
            continue
        location = Location(module.path, fact.call.span)
        countdown = fact.call.kwarg("countdown")
        if isinstance(countdown, Const) and countdown.value in (0, 0.0) and not (backoff and backoff.value):
            yield _no_backoff(location, f"`{short(task)}`", "`self.retry(countdown=0)`", "celery")
        max_retries = fact.call.kwarg("max_retries")
        if max_retries is not None:
            finding = _count_finding(max_retries, location, f"`{short(task)}`", limit, "celery")
            if finding is not None:
                yield finding


def _where(option: OptionValue, task: Task) -> Location:
    return option.location if option.location is not None else task.location


def _task_label(qualname: Optional[str]) -> str:
    return job_label(qualname, "this job")
