"""JC802 eta-beyond-visibility-timeout."""

from __future__ import annotations

from typing import Any, Iterator, Optional

from jobcheck.model import Call, Const, Finding, Location, Name, split_method

CODES = ("JC802",)

DEFAULT_VISIBILITY = 3600  # seconds: kombu's Redis and SQS default
REDELIVERING = ("redis", "rediss", "sqs", "redis+socket")


def check_project(ctx) -> Iterator[Finding]:
    timeout = _visibility_timeout(ctx)
    if timeout is None:
        return
    for site in ctx.project.enqueue_sites:
        if site.framework != "celery" or site.api == "beat":
            continue
        countdown = _seconds(dict(site.options).get("countdown"))
        if countdown is not None and countdown > timeout:
            yield _finding(site.location, countdown, timeout)
    for module in ctx.project.index.scanned():
        for fact in module.calls:
            split = split_method(fact.call.func)
            if split is None or split[1] != "retry" or not isinstance(split[0], Name) or split[0].qname != "self":
                continue
            countdown = _seconds(fact.call.kwarg("countdown"))
            if countdown is not None and countdown > timeout:
                yield _finding(Location(module.path, fact.call.span), countdown, timeout)


def _visibility_timeout(ctx) -> Optional[float]:
    """The visibility timeout of the project's Celery broker, when it redelivers (Redis, SQS)."""
    for app in getattr(ctx.project, "celery_apps", ()):
        url = app.setting("broker_url")
        scheme = url.value.split("://", 1)[0] if url is not None and isinstance(url.value, str) else None
        if scheme not in REDELIVERING:
            continue
        options = app.setting("broker_transport_options")
        if options is None:
            return DEFAULT_VISIBILITY
        if not isinstance(options.value, dict):
            return None  # set, but not readable here: the timeout is unknown
        if "visibility_timeout" not in options.value:
            return DEFAULT_VISIBILITY
        return _seconds(options.value["visibility_timeout"])  # None when computed: stay silent
    return None


def _seconds(value: Any) -> Optional[float]:
    if isinstance(value, Const):
        value = value.value
    if isinstance(value, Call) and isinstance(value.func, Name) and value.func.qname.endswith("timedelta"):
        units = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
        total = 0.0
        for key, amount in value.kwargs:
            if key not in units or not isinstance(amount, Const) or not isinstance(amount.value, (int, float)):
                return None
            total += units[key] * amount.value
        return total if not value.args else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _finding(location: Location, countdown: float, timeout: float) -> Finding:
    return Finding(
        "JC802",
        f"This job waits {_human(countdown)} before it runs, longer than the broker's visibility timeout "
        f"({_human(timeout)}): Redis/SQS hand the message to another worker meanwhile, so it runs more than "
        "once. Keep countdowns under the timeout (raise `broker_transport_options['visibility_timeout']`), "
        "or store the due time and let a periodic task send due jobs.",
        location,
    )


def _human(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{int(seconds)} s"
