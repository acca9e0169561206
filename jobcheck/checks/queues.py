"""JC401 implicit-default-queue, JC402 missing-priority."""

from __future__ import annotations

import functools
from typing import Iterator

from jobcheck.checks.common import short
from jobcheck.model import Finding, Task
from jobcheck.workers import unnamed_queues

CODES = ("JC401", "JC402", "JC403")


def _queue_unchosen(ctx, task: Task) -> bool:
    queue = task.option("queue")
    if queue is None:
        return False
    if task.framework == "celery":
        if queue.source != "default" and not queue.source.startswith("task_default_queue"):
            return False
        sites = [s for s in ctx.project.enqueue_sites if s.task == task.qualname]
        return not (sites and all(s.may_set("queue") for s in sites))
    if task.framework == "dramatiq":
        return queue.source == "default"
    if task.framework == "rq":  # a bare django-rq @job, or only ever sent to an unnamed queue
        return queue.source == "default" or queue.source.startswith("unnamed queue")
    return False  # Huey has one queue per instance


def check_task(ctx, task: Task) -> Iterator[Finding]:
    if _queue_unchosen(ctx, task):
        queue = task.option("queue")
        if task.framework == "celery":
            advice = (
                f"Route it with a `task_routes` entry for `{task.name}` "
                "(the `queue=` task option is deprecated in recent Celery)."
            )
        elif task.framework == "dramatiq":
            advice = "Set `queue_name=` on the actor."
        else:
            advice = 'Enqueue it on a named queue (`Queue("name")`, `get_queue("name")`, `@job("name")`).'
        named = f"the default queue `{queue.value}`" if isinstance(queue.value, str) else "the default queue"
        if queue.source == "default" and task.framework == "celery":
            named = f"the default queue (`{queue.value}` unless `task_default_queue` says otherwise)"
        yield Finding(
            "JC401",
            f"`{short(task)}` goes to {named} because nothing routes it; "
            f"a backlog of any other job delays it. {advice}",
            task.location,
            task.qualname,
        )
    priority = task.option("priority")
    if task.framework in ("celery", "dramatiq", "huey") and priority is not None and priority.source == "default":
        yield Finding(
            "JC402",
            f"`{short(task)}` has no priority; set `priority=` so urgent jobs are not queued behind bulk work.",
            task.location,
            task.qualname,
        )


def check_project(ctx) -> Iterator[Finding]:
    """JC403: queues that tasks are routed or sent to and no declared worker consumes."""
    workers = ctx.project.workers
    if workers is None or "JC403" not in ctx.selected:
        return
    unnamed = functools.lru_cache(maxsize=None)(functools.partial(unnamed_queues, ctx.project))
    for task in ctx.project.tasks:
        queue = task.option("queue")
        if queue is None or queue.source == "default" or not isinstance(queue.value, str):
            continue
        if not workers.declared(task.framework):
            continue
        for name in queue.value.split(", "):  # an RQ function sent to several queues lists them all
            if not workers.consumes(task.framework, name, functools.partial(unnamed, task.framework)):
                yield _unconsumed(task.framework, name, queue.location or task.location, workers)
    for site in ctx.project.enqueue_sites:
        queue = dict(site.options).get("queue")
        if not isinstance(queue, str) or not workers.declared(site.framework):
            continue
        if not workers.consumes(site.framework, queue, functools.partial(unnamed, site.framework)):
            yield _unconsumed(site.framework, queue, site.location, workers)


CONSUME = {
    "celery": "`celery worker -Q ...,{queue}`",
    "rq": "`rq worker ... {queue}`",
    "dramatiq": "`dramatiq ... -Q ... {queue}`",
}


def _unconsumed(framework: str, queue: str, location, workers) -> Finding:
    consume = CONSUME.get(framework, "its queues").format(queue=queue)
    return Finding(
        "JC403",
        f"Queue `{queue}` has no worker: the {framework} workers declared in {', '.join(workers.sources_of(framework)[:3])} do "
        f"not consume it, so jobs sent there wait forever. Add it to a worker's queues ({consume}) or send the "
        "job to a consumed queue.",
        location,
    )
