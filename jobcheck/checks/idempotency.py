"""JC101 unguarded-side-effect, JC102 non-idempotent-increment."""

from __future__ import annotations

from typing import Dict, Iterator, List

from jobcheck.analysis.effects import guards_of, possibly_guarded
from jobcheck.checks.common import at_task_body, short
from jobcheck.model import Effect, Finding, Location, Task

CODES = ("JC101", "JC102")

PLAIN_INSERTS = ("insert",)


def unguarded(ctx, task: Task, kinds: tuple) -> List[Effect]:
    """The task's effects of these kinds with no guard on the path to them."""
    effects = ctx.effects(task)
    return [
        e
        for e in effects
        if kinds_match(e, kinds)
        and not guards_of(e, ctx.analysis)
        and not possibly_guarded(e, ctx.analysis)
        and not _replaces(e, effects)
    ]


def _replaces(insert: Effect, effects: List[Effect]) -> bool:
    """`Model.objects.all().delete()` then `Model.objects.bulk_create(...)` in the same function:
    a full replace, which a second run repeats without duplicating anything."""
    if insert.kind != "db-write" or insert.detail != "insert":
        return False
    model = insert.api.split(".")[0]
    return any(
        e.kind == "db-write"
        and e.detail == "delete"
        and e.api.split(".")[0] == model
        and e.scope == insert.scope
        and e.location.span[:2] < insert.location.span[:2]
        for e in effects
    )


def kinds_match(effect: Effect, kinds: tuple) -> bool:
    if effect.kind == "db-write":
        return "insert" in kinds and effect.detail in PLAIN_INSERTS
    if effect.kind == "increment" and effect.detail == "field":
        # `row.n += k`: measured on real projects, most are totals rebuilt earlier in the same job
        # or fields of new rows; only F() updates, redis counters and SQL `c = c + n` are reported
        return False
    return effect.kind in kinds


def check_task(ctx, task: Task) -> Iterator[Finding]:
    yield from _grouped(ctx, task, "JC101", unguarded(ctx, task, ("external", "insert")))
    yield from _grouped(ctx, task, "JC102", unguarded(ctx, task, ("increment",)))


def _grouped(ctx, task: Task, code: str, effects: List[Effect]) -> Iterator[Finding]:
    """One finding per task-body call, naming the first effect it leads to."""
    by_site: Dict[Location, List[Effect]] = {}
    for effect in effects:
        by_site.setdefault(effect.chain[0] if effect.chain else effect.location, []).append(effect)
    for group in by_site.values():
        first = group[0]
        location, related = at_task_body(first, f"{first.api} is here")
        yield Finding(code, message(task, code, first, len(group) - 1), location, task.qualname, related)


def message(task: Task, code: str, effect: Effect, more: int) -> str:
    via = " (through a helper)" if effect.chain else ""
    others = f" and {more} more effect{'s' if more > 1 else ''}" if more else ""
    if code == "JC102":
        return (
            f"`{short(task)}` makes a relative update `{effect.api}`{via}{others} with no guard; a repeated job "
            "counts twice. Make it idempotent (set the value, or record the job in a claim/dedupe table first)."
        )
    if effect.kind == "db-write":
        what, consequence = f"inserts with `{effect.api}`", "a redelivered job creates a duplicate record"
        advice = "Use `get_or_create`/an upsert keyed on the job's input, or check for an existing record first."
    else:
        what, consequence = f"calls `{effect.api}` ({effect.detail})", "a redelivered job does it twice"
        advice = "Pass an idempotency key or check stored state (e.g. a sent-at field) first."
    return f"`{short(task)}` {what}{via}{others} with no idempotency key or dedupe check; {consequence}. {advice}"
