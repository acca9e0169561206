"""JC201 lock-without-expiry, JC202 lock-not-released, JC203 unlocked-read-modify-write."""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from jobcheck.analysis.index import Where
from jobcheck.checks.common import short
from jobcheck.model import (
    Attr,
    BinOp,
    Call,
    Collection,
    Const,
    Expr,
    Finding,
    Location,
    ModuleFacts,
    Name,
    Task,
    Unknown,
    leaf,
    split_method,
)

CODES = ("JC201", "JC202", "JC203")

# lock constructors by canonical name: (the keyword that makes it expire, its position, the fix)
LOCKS = {
    "redis_lock.Lock": ("expire", 2, "pass `expire=` (seconds)"),
    "django.core.cache.cache.lock": ("timeout", 1, "pass `timeout=` (seconds)"),
    "huey.Huey.lock_task": ("ttl", 1, "pass `ttl=` (seconds; Huey >= 3.4)"),
    "huey.contrib.djhuey.lock_task": ("ttl", 1, "pass `ttl=` (seconds; Huey >= 3.4)"),
}
REDIS_LOCK = ("timeout", 1, "pass `timeout=` (seconds)")
LOCK_NAMES = {"lock", "lock_task", *(name.rsplit(".", 1)[-1] for name in LOCKS)}


def check_module(ctx, module: ModuleFacts) -> Iterator[Finding]:
    if module.error is not None:
        return
    if "JC202" in ctx.selected:
        yield from _unreleased(ctx, module)
    if "JC201" not in ctx.selected:
        return
    index = ctx.project.index
    held = _held_spans(module)
    for fact in module.calls:
        if leaf(fact.call.func) not in LOCK_NAMES:
            continue  # cheap: most calls are not locks, and resolving them would read more modules
        where = Where(module, index.function(module.module, fact.scope) if fact.scope else None)
        spec = _lock_spec(ctx, fact.call, where)
        if spec is None:
            continue
        ttl_possible = spec[0] != "ttl" or ctx.once("huey ttl", lambda: _huey_lock_ttl_possible(ctx))
        if spec[0] == "ttl" and (fact.call.span not in held or not ttl_possible):
            continue  # a Huey lock object that is not taken here (`.clear()`, `.acquired`), or no `ttl` to set
        keyword, position, fix = spec
        value = fact.call.kwarg(keyword)
        if value is None and len(fact.call.args) > position and not fact.call.star_args:
            value = fact.call.args[position]
        if value is not None and value != Const(None):
            continue
        if value is None and (fact.call.star_kwargs or fact.call.star_args):
            continue  # `lock(name, **options)`: the expiry may be in there
        yield Finding(
            "JC201",
            f"This lock never expires (no `{keyword}`): if the worker holding it dies, it is held forever and "
            f"every later job waits or skips. {fix[0].upper()}{fix[1:]} a little longer than the work takes.",
            Location(module.path, fact.call.span),
        )


def _held_spans(module: ModuleFacts) -> set:
    """Calls used as a context manager or a decorator: where a lock object is taken."""
    return {span for function in module.functions for span in function.decorator_spans} | set(module.managed)


def _huey_lock_ttl_possible(ctx) -> bool:
    """`lock_task(ttl=)` exists from Huey 3.4, and SQLite storage rejects it."""
    version = ctx.project.versions.get("huey")
    if version is not None and version < (3, 4):
        return False
    return not any(_mentions_sqlite_huey(module) for module in ctx.project.index.scanned())


def _mentions_sqlite_huey(module: ModuleFacts) -> bool:
    names = [fact.call.func for fact in module.calls] + [assign.value for assign in module.assigns]
    texts = [n.qname for n in names if isinstance(n, Name)] + [
        v.value for fact in module.calls for _, v in fact.call.kwargs if isinstance(v, Const) and isinstance(v.value, str)
    ]
    return any("SqliteHuey" in text or "SqliteStorage" in text for text in texts)


def _lock_spec(ctx, call: Call, where: Where) -> Optional[Tuple[str, int, str]]:
    split = split_method(call.func)
    if split is not None and split[1] == "lock":
        receiver = ctx.analysis.typer.of(split[0], where)
        if receiver == ("redis", ""):
            return REDIS_LOCK  # `lock(name, timeout=None, ...)`
    target = ctx.project.index.denote(call.func, where)
    for name in (target.canonical, *ctx.project.index.member_names(target)):
        if name in LOCKS:
            return LOCKS[name]
    return None


# ------------------------------------------------------------------ JC202

LOCK_LEAVES = {"lock", "Lock", "Redlock", "RLock", "Semaphore"}


def _unreleased(ctx, module: ModuleFacts) -> Iterator[Finding]:
    """`lock.acquire()` outside `with` whose `lock.release()` is not in a `finally`."""
    for function in module.functions:
        locks = {name for name, value in function.locals if isinstance(value, Call) and leaf(value.func) in LOCK_LEAVES}
        if not locks:
            continue
        calls = [f for f in module.calls if f.scope == function.qualname]
        released = {
            split[0].qname
            for f in calls
            if (split := split_method(f.call.func)) is not None
            and split[1] == "release"
            and isinstance(split[0], Name)
            and any(frame.kind == "finally" for frame in f.context)
        }
        for fact in calls:
            split = split_method(fact.call.func)
            if split is None or split[1] != "acquire" or not isinstance(split[0], Name):
                continue
            name = split[0].qname
            if name in locks and name not in released:
                yield Finding(
                    "JC202",
                    f"`{name}` is acquired here but not released in a `finally`: an exception in between leaves it "
                    "held (until it expires, if ever). Use `with lock:`, or release it in `try: ... finally: "
                    f"{name}.release()`.",
                    Location(module.path, fact.call.span),
                )


# ------------------------------------------------------------------ JC203

MUTATORS = {"append", "extend", "insert", "update", "add", "remove", "pop", "setdefault", "discard", "clear"}


def check_task(ctx, task: Task) -> Iterator[Finding]:
    """JC203: a field rebuilt from its old value on a row read without a lock, then saved."""
    if "JC203" not in ctx.selected:
        return
    entry = ctx.analysis.entry(task)
    if entry is None:
        return
    module, function = entry
    where = Where(module, function)
    scope = f"{module.module}:{function.qualname}"
    if ctx.analysis.locks_rows(scope) or ctx.analysis.claims_rows(scope):
        return
    calls = ctx.analysis.calls_of(module, function)
    changed = {}  # row name -> (field, span) of the first read-modify-write
    for target, value, span, frames in function.attr_assigns:
        row, _, field = target.partition(".")
        if _locked(ctx, frames) or not _rebuilt_from(value, target):
            continue
        if _is_row(ctx, row, where):
            changed.setdefault(row, (field, span))
    for fact in calls:
        split = split_method(fact.call.func)
        if split is None or split[1] not in MUTATORS or not isinstance(split[0], Name) or _locked(ctx, fact.context):
            continue
        row, _, field = split[0].qname.partition(".")
        if field and "." not in field and _is_row(ctx, row, where):
            changed.setdefault(row, (field, fact.call.span))
    for fact in calls:
        row = _saved_row(ctx, fact, changed, where)
        if row is None:
            continue
        field, span = changed[row]
        if fact.call.span[:2] < span[:2]:
            continue
        lock = "`select_for_update()` inside `transaction.atomic()`"
        if _orm(ctx, row, where) == "sqlalchemy":
            lock = "`with_for_update()` inside `session.begin()`"
        yield Finding(
            "JC203",
            f"`{short(task)}` reads `{row}`, rebuilds `{field}` from its old value and saves it with no "
            "row lock: two copies of the job running at once each save their own version, and one change is "
            f"lost. Read it with {lock}, or update it in the database in one statement.",
            Location(module.path, fact.call.span),
            task.qualname,
        )
        changed.pop(row)


def _saved_row(ctx, fact, changed, where: Where) -> Optional[str]:
    """The changed row a call writes back: `row.save()` (Django), a session's `commit()`/`flush()`
    (SQLAlchemy rows are flushed by their session)."""
    split = split_method(fact.call.func)
    if split is None:
        return None
    if split[1] == "save" and isinstance(split[0], Name) and split[0].qname in changed:
        return split[0].qname
    if split[1] in ("commit", "flush"):
        for row in changed:
            if _orm(ctx, row, where) == "sqlalchemy":
                return row
    return None


def _orm(ctx, row: str, where: Where) -> Optional[str]:
    vtype = ctx.analysis.typer.of(Name(row, "local"), where)
    return ctx.analysis.typer.orm_of_model(vtype[1]) if vtype and vtype[0] == "row" else None


def _rebuilt_from(value: Expr, target: str) -> bool:
    """`row.tags + [tag]`, `row.name + " (old)"`, `{**row.data, ...}`: not a numeric increment (JC102)."""
    if isinstance(value, BinOp) and value.op == "Add":
        sides = _summands(value)
        reads = any(isinstance(s, Name) and s.qname == target for s in sides)
        other = [s for s in sides if not (isinstance(s, Name) and s.qname == target)]
        return reads and any(isinstance(s, Collection) or (isinstance(s, Const) and isinstance(s.value, (str, list, tuple))) for s in other)
    if isinstance(value, Collection) and value.kind == "dict":
        return any(isinstance(k, Unknown) and k.text == "**" for k in value.keys) and _mentions(value, target)
    return False


def _summands(value: Expr) -> List[Expr]:
    """`a + "x" + b` -> [a, "x", b]."""
    if isinstance(value, BinOp) and value.op == "Add":
        return _summands(value.left) + _summands(value.right)
    return [value]


def _mentions(expr: Expr, target: str) -> bool:
    if isinstance(expr, Name):
        return expr.qname == target
    if isinstance(expr, Collection):
        return any(_mentions(item, target) for item in expr.items)
    if isinstance(expr, Attr):
        return _mentions(expr.base, target)
    return False


def _is_row(ctx, name: str, where: Where) -> bool:
    vtype = ctx.analysis.typer.of(Name(name, "local"), where)
    return vtype is not None and vtype[0] == "row"


def _locked(ctx, frames) -> bool:
    return any(
        frame.kind == "with" and any(ctx.analysis.is_lock(manager) for manager in frame.exprs) for frame in frames
    )
