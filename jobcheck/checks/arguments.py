"""JC902 model-instance-argument, JC904 enqueue-in-loop."""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Tuple

from jobcheck.analysis.index import Where
from jobcheck.checks.common import job_label
from jobcheck.model import CallFact, Collection, Expr, Finding, ModuleFacts, Name

CODES = ("JC902", "JC904")

BULK = {
    "celery": "`group(task.s(x) for x in items).apply_async()` or `task.chunks(...)`",
    "rq": "`queue.enqueue_many([...])`",
}  # Dramatiq's group.run() and Huey's map()/group send one message per item: no bulk form

# where the job's own arguments are, per enqueue API (the rest are options)
FIRST_ARGUMENT = {"enqueue": 1, "enqueue_call": 1, "enqueue_in": 2, "enqueue_at": 2}


def check_project(ctx) -> Iterator[Finding]:
    calls = enqueue_calls(ctx)
    if "JC904" in ctx.selected:
        yield from _in_loops(ctx, calls)
    if "JC902" not in ctx.selected:
        return
    for site in ctx.project.enqueue_sites:
        if site.api in ("beat", "send_task"):
            continue
        found = calls.get((site.location.path, site.location.span))
        if found is None:
            continue
        module, fact = found
        where = Where(module, ctx.project.index.function(module.module, fact.scope) if fact.scope else None)
        for argument in job_arguments(site.api, fact):
            if _maybe_unbound(argument, fact, where):
                continue
            what = _orm_object(ctx, argument, where)
            if what is None:
                continue
            job = job_label(site.task, "A job")
            fix = "Pass its primary key and load it in the task."
            if _on_delete(where):
                fix = "The row is being deleted: pass the values the job needs (its primary key, a file path) instead."
            yield Finding(
                "JC902",
                f"{job} is sent {what}: it is pickled or serialised as it is now, goes stale while the job "
                f"waits, and may not serialise at all. {fix}",
                site.location,
            )
            break


def _on_delete(where: Where) -> bool:
    """A `pre_delete`/`post_delete` signal receiver: there is no row left to load in the job."""
    texts = where.function.decorator_texts if where.function is not None else ()
    return any("post_delete" in text or "pre_delete" in text for text in texts)


def enqueue_calls(ctx) -> Dict[Tuple[str, tuple], Tuple[ModuleFacts, CallFact]]:
    """The call of every enqueue site, by (path, span): built once per run."""
    return ctx.once("enqueue calls", lambda: _calls_by_place(ctx))


def _calls_by_place(ctx) -> Dict[Tuple[str, tuple], Tuple[ModuleFacts, CallFact]]:
    paths = {site.location.path for site in ctx.project.enqueue_sites}
    table = {}
    for module in ctx.project.index.scanned():
        if module.path in paths:
            for fact in module.calls:
                table[(module.path, fact.call.span)] = (module, fact)
    return table


def job_arguments(api: str, fact: CallFact) -> List[Expr]:
    call = fact.call
    if api in ("apply_async", "apply_async_on_commit", "send_with_options"):
        values: List[Expr] = []
        for key in ("args", "kwargs"):
            value = call.kwarg(key)
            if isinstance(value, Collection):
                values.extend(value.items)
        if call.args and isinstance(call.args[0], Collection):
            values.extend(call.args[0].items)
        return values
    skip = FIRST_ARGUMENT.get(api, 0)
    return [*call.args[skip:], *(value for key, value in call.kwargs if not key.startswith(("job_", "queue")))]


def _maybe_unbound(argument: Expr, fact: CallFact, where: Where) -> bool:
    """A name whose value at the enqueue depends on the path: assigned more than once
    (`current = issue` in one branch, `current = json.dumps(...)` later), or a parameter
    rebound in the body and used in an `except`, where the rebinding may be what failed
    (`alert = Alert.create(**alert)`)."""
    if not isinstance(argument, Name) or argument.kind != "local" or where.function is None:
        return False
    head = argument.qname.split(".")[0]
    if head in where.function.rebound:
        return True
    rebound = head in where.function.local_values and any(p.name == head for p in where.function.params)
    return rebound and any(frame.kind == "except" for frame in fact.context)


def _orm_object(ctx, argument: Expr, where: Where) -> Optional[str]:
    if isinstance(argument, Name) and argument.qname.endswith("request.user"):
        return "`request.user` (a model instance)"
    vtype = ctx.analysis.typer.of(argument, where)
    if vtype is None:
        return None
    kind, model = vtype
    short = model.rsplit(".", 1)[-1]
    if kind == "row":
        return f"a `{short}` model instance"
    if kind == "queryset":
        return f"a `{short}` queryset"
    return None



def _in_loops(ctx, calls) -> Iterator[Finding]:
    for site in ctx.project.enqueue_sites:
        found = calls.get((site.location.path, site.location.span))
        if found is None or site.api in ("beat", "map", "enqueue_many") or site.framework not in BULK:
            continue
        if any(frame.kind == "loop" for frame in found[1].context):
            job = job_label(site.task, "a job")
            yield Finding(
                "JC904",
                f"One {job} is sent per loop iteration: each send is a broker round trip. Send them in one go "
                f"with {BULK[site.framework]}.",
                site.location,
            )
