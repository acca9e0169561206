"""JC201 lock-without-expiry."""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

from jobcheck.analysis.index import Where
from jobcheck.model import Call, Const, Finding, Location, ModuleFacts, split_method

CODES = ("JC201",)

# lock constructors by canonical name: (the keyword that makes it expire, its position, the fix)
LOCKS = {
    "redis_lock.Lock": ("expire", 2, "pass `expire=` (seconds)"),
    "django.core.cache.cache.lock": ("timeout", 1, "pass `timeout=` (seconds)"),
    "huey.Huey.lock_task": ("ttl", 1, "pass `ttl=` (seconds; Huey >= 3.4)"),
    "huey.contrib.djhuey.lock_task": ("ttl", 1, "pass `ttl=` (seconds; Huey >= 3.4)"),
}
REDIS_LOCK = ("timeout", 1, "pass `timeout=` (seconds)")


def check_module(ctx, module: ModuleFacts) -> Iterator[Finding]:
    if module.error is not None:
        return
    index = ctx.project.index
    for fact in module.calls:
        where = Where(module, index.function(module.module, fact.scope) if fact.scope else None)
        spec = _lock_spec(ctx, fact.call, where)
        if spec is None:
            continue
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
