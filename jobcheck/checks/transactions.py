"""JC501 multi-write-without-transaction, JC502 enqueue-in-transaction, JC503 side-effect-in-transaction."""

from __future__ import annotations

from typing import Iterator, List

from jobcheck.analysis.effects import in_callback, in_loop, transaction_frames
from jobcheck.checks.common import at_task_body, short
from jobcheck.model import Call, Effect, Finding, ModuleFacts, RelatedLocation, Task, leaf

CODES = ("JC501", "JC502", "JC503")

ON_COMMIT_APIS = ("delay_on_commit", "apply_async_on_commit")


def check_task(ctx, task: Task) -> Iterator[Finding]:
    effects = ctx.effects(task)
    yield from _multi_write(ctx, task, effects)
    for effect in effects:
        frames = transaction_frames(effect, ctx.analysis) if effect.kind == "external" else []
        if frames and not in_callback(effect):
            location, related = at_task_body(effect, f"{effect.api} is here")
            yield Finding(
                "JC503",
                f"`{short(task)}` calls `{effect.api}` ({effect.detail}) inside a database transaction; a rollback "
                f"cannot take it back. {_after_commit(frames)}",
                location,
                task.qualname,
                related,
            )


SQLALCHEMY_WRITES = ("session.", "sqlalchemy", "SQL")


def _after_commit(frames) -> str:
    managers = [m.func if isinstance(m, Call) else m for frame in frames for m in frame.exprs]
    if any(leaf(m) in ("begin", "begin_nested") for m in managers):
        return "Make the call after the `session.begin()` block has committed."
    return "Make the call after the commit (`transaction.on_commit`) or outside the block."


def _django_writes(effects: List[Effect]) -> List[Effect]:
    # SQLAlchemy writes are a unit of work flushed at commit: one transaction per commit
    return [e for e in effects if e.kind == "db-write" and not e.api.startswith(SQLALCHEMY_WRITES)]


def _split_by_commit(ctx, task: Task, effects: List[Effect]):
    """Two SQLAlchemy writes of the task body with a `commit()` between them: two transactions."""
    entry = ctx.analysis.entry(task)
    if entry is None:
        return None
    module, function = entry
    writes = [
        e
        for e in effects
        if e.kind == "db-write" and e.api.startswith(SQLALCHEMY_WRITES) and not e.chain and not _compensating(e)
        and e.location.path == module.path and e.scope.endswith(f":{function.qualname}")
    ]
    commits = [
        fact.call.span[:2]
        for fact in ctx.analysis.calls_of(module, function)
        if leaf(fact.call.func) == "commit" and not any(frame.kind in ("except", "finally") for frame in fact.context)
    ]
    writes.sort(key=lambda e: e.location.span)
    for first, second in zip(writes, writes[1:]):
        between = any(first.location.span[:2] < at < second.location.span[:2] for at in commits)
        if between and not exclusive(first, second):
            return first, second
    return None


def exclusive(a: Effect, b: Effect) -> bool:
    """Whether two effects never run in one job: other arms of one `if`, or the first ends the job."""
    arms_a = {frame.span: frame.text for frame in a.frames if frame.kind == "branch"}
    for frame in b.frames:
        if frame.kind == "branch" and arms_a.get(frame.span, frame.text) != frame.text:
            return True
        if frame.kind == "guard" and arms_a.get(frame.span) == "then":
            return True  # `if x: write(); return` ... write()
    return False


def _compensating(effect: Effect) -> bool:
    return any(frame.kind == "except" for frame in effect.frames)


def _multi_write(ctx, task: Task, effects: List[Effect]) -> Iterator[Finding]:
    writes = [w for w in _django_writes(effects) if not _compensating(w)]
    pair = _unprotected_pair(ctx, writes)
    fix = "Wrap them in `transaction.atomic()`."
    if pair is None:
        pair = _split_by_commit(ctx, task, effects)
        fix = "Commit once, after the last write (or make them in one `with session.begin():` block)."
    if pair is None:
        return
    first, second = pair
    location, related = at_task_body(second, f"{second.api} is here")
    what = f"`{first.api}` in a loop" if first is second else f"`{first.api}` and `{second.api}`"
    yield Finding(
        "JC501",
        f"`{short(task)}` makes several database writes ({what}) outside one transaction; a failure between "
        f"them leaves half-written data and a retry repeats the first. {fix}",
        location,
        task.qualname,
        (RelatedLocation(first.location, f"first write: {first.api}"), *related),
    )


def _unprotected_pair(ctx, writes: List[Effect]):
    """Two writes that can both run, not inside one transaction (a write in a loop pairs with itself)."""
    keys = [set(_frame_keys(w, ctx)) for w in writes]
    for j, later in enumerate(writes):
        if in_loop(later) and not keys[j]:
            return later, later
        for i in range(j):
            if not (keys[i] & keys[j]) and not exclusive(writes[i], later):
                return writes[i], later
    return None


def _frame_keys(effect: Effect, ctx) -> List[tuple]:
    """Which transactions an effect runs in: a with-block or decorator is its function and position."""
    return [(frame.scope, frame.span) for frame in transaction_frames(effect, ctx.analysis)]


def _django_rq_defers(ctx) -> bool:
    """django-rq >= 4 enqueues after commit; the newest is assumed (RULES reading 11)."""
    return any(q.startswith("django_rq") for m in ctx.project.index.scanned() for _, q in m.imports)


def check_module(ctx, module: ModuleFacts) -> Iterator[Finding]:
    analysis = ctx.analysis
    for function in module.functions:
        if not analysis.opens_a_transaction(module, function):
            continue  # (no effect of it can run in a transaction it owns: its summary is not needed)
        effects, _ = analysis.summary(module, function, [])
        for effect in effects:
            if effect.kind != "enqueue" or in_callback(effect) or effect.api in ON_COMMIT_APIS:
                continue
            if not analysis.own_transaction(module, function, effect):
                continue
            if _exempt(ctx, effect):
                continue
            location, related = at_task_body(effect, f"{effect.api} of {effect.detail or 'a job'} is here")
            task = effect.detail.rsplit(".", 1)[-1] if effect.detail else "the job"
            yield Finding(
                "JC502",
                f"`{task}` is enqueued inside a database transaction; the worker can run it before the commit, "
                f"or for data that is rolled back. {_fix(effect)}",
                location,
                None,
                related,
            )


def _exempt(ctx, effect: Effect) -> bool:
    task = next((t for t in ctx.project.tasks if t.qualname == effect.detail), None)
    if task is not None and "on_commit_task" in task.how:
        return True  # djhuey's on_commit_task runs after the commit
    return task is not None and task.framework == "rq" and _django_rq_defers(ctx)


def _fix(effect: Effect) -> str:
    after_commit = {"delay": "delay_on_commit", "apply_async": "apply_async_on_commit"}.get(effect.api)
    if after_commit is not None:
        return f"Use `{after_commit}` or `transaction.on_commit(...)`."
    return "Enqueue it after the commit: `transaction.on_commit(lambda: ...)`."
