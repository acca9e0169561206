"""Which failures make a job retry, and whether one can happen after a given effect.

Celery's `autoretry_for=(SendGridException,)` retries only those exceptions: an insert made
after the last call that can raise them is never repeated by a retry. A call can raise an
exception when it is a `raise` of it (or of a project subclass), a call into the library that
defines it (`sendgrid.*` for `sendgrid.SendGridException`), a `self.retry(...)`, or a project
function that does one of these. Builtin exceptions (`Exception`, `OSError`...) can come from
anywhere: with them, or with exceptions jobcheck cannot name, every point is a retry point.
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import Dict, FrozenSet, Optional, Tuple

from jobcheck.analysis.index import Where
from jobcheck.model import Collection, Effect, Expr, FunctionFact, Location, ModuleFacts, Name, Unknown, split_method

_BUILTIN_NAMES = frozenset(dir(builtins))
CELERY_TASK_CLASSES = frozenset({"celery.Task", "celery.app.task.Task"})


def retried_exceptions(value: Expr) -> Optional[Tuple[Name, ...]]:
    """The names in `autoretry_for=(A, B)`; None when it is not a plain tuple/list of names."""
    items = value.items if isinstance(value, Collection) and value.kind in ("tuple", "list") else (value,)
    if not items or not all(isinstance(item, Name) for item in items):
        return None
    return tuple(items)


class RetryPoints:
    """Where a task can fail in a way its framework retries."""

    def __init__(self, analysis, task_names: FrozenSet[str], exceptions: Optional[Tuple[Name, ...]]) -> None:
        self.analysis = analysis
        self.index = analysis.index
        self.task_names = task_names  # receivers of `.retry(...)`: "self", the task's names
        self.classes: FrozenSet[str] = frozenset()
        self.packages: FrozenSet[str] = frozenset()
        self.anywhere = exceptions is None
        if exceptions is not None:
            self._read_exceptions(exceptions)
        self._memo: Dict[Tuple[str, str], bool] = {}

    def _read_exceptions(self, exceptions: Tuple[Name, ...]) -> None:
        classes, packages = set(), set()
        for name in exceptions:
            if name.kind == "builtin" or name.qname in _BUILTIN_NAMES:
                self.anywhere = True
                return
            target = self.index.resolve(name.qname)
            if target.kind == "class":
                classes.add(target.qname)
            elif target.kind == "external":
                classes.add(target.qname)
                packages.add(_package(target.qname))
            else:
                self.anywhere = True  # not a class jobcheck can see: assume any call may raise it
                return
        self.classes, self.packages = frozenset(classes), frozenset(packages)

    # ------------------------------------------------------------------ per effect

    def follow(self, effect: Effect) -> bool:
        """Whether a retry point comes after the effect (so the retry runs the effect again)."""
        return self.anywhere or self.point_after(effect) is not None

    def point_after(self, effect: Effect) -> Optional[Location]:
        """The first retry point after the effect, along its chain (its own location when a
        level of the chain cannot be read: the finding is kept)."""
        sites = (*effect.chain, effect.location)
        for scope, site in zip(effect.path, sites):
            found = self._function(scope)
            if found is None:
                return site
            point = self._after(*found, site)
            if point is not None:
                return point
        return None

    def _function(self, scope: str) -> Optional[Tuple[ModuleFacts, FunctionFact]]:
        module_name, _, qualname = scope.partition(":")
        module = self.index.module(module_name)
        function = self.index.function(module_name, qualname) if module is not None else None
        return (module, function) if function is not None else None

    def _after(self, module: ModuleFacts, function: FunctionFact, site: Location) -> Optional[Location]:
        """A retry point in `function` after `site` (anywhere in it, when the site is in a loop)."""
        calls = self.analysis.calls_of(module, function)
        in_loop = any(
            fact.call.span == site.span and any(frame.kind == "loop" for frame in fact.context) for fact in calls
        )
        start = site.span[:2]
        where = Where(module, function)
        points = [
            fact.call.span
            for fact in calls
            if (in_loop or fact.call.span[:2] > start) and self._call_retries(fact.call, where)
        ]
        points += [
            span for exc, span, _ in function.raises if (in_loop or span[:2] > start) and self._raises(exc, where)
        ]
        return Location(module.path, min(points)) if points else None

    # ------------------------------------------------------------------ what can raise

    def _call_retries(self, call, where: Where) -> bool:
        func = call.func
        if self._is_retry(func, where):
            return True
        target = self.index.denote(func, where)
        if target.kind == "external":
            return _package(target.canonical) in self.packages
        found = self.index.function_of(target, constructors=True)
        if found is not None:
            return self._function_raises(*found)
        return any(_package(name) in self.packages for name in self.index.instance_types(target))

    def _is_retry(self, func: Expr, where: Where) -> bool:
        """`self.retry(...)`, `task.retry(...)`, or `.retry` on a value typed as a Celery task."""
        split = split_method(func)
        if split is None or split[1] != "retry":
            return False
        receiver = split[0]
        if isinstance(receiver, Name) and receiver.qname in self.task_names:
            return True
        target = self.index.denote(receiver, where)
        if target.kind == "value" and isinstance(receiver, Name):
            target = self._annotated_parameter(receiver, where) or target
        types = self.index.instance_types(target) if target.kind == "instance" else [target.canonical]
        return any(name in CELERY_TASK_CLASSES for name in types)

    def _annotated_parameter(self, name: Name, where: Where):
        """`celery_task: Task` -> what `Task` names (a class, or an external name)."""
        for param in where.function.params if where.function is not None else ():
            if param.name == name.qname and isinstance(param.annotation, Name):
                found = self.index.denote(param.annotation, where)
                if found.kind == "class" and found.cls is not None and found.module is not None:
                    return replace(found, kind="instance")
                return found
        return None

    def _function_raises(self, module: ModuleFacts, function: FunctionFact) -> bool:
        key = (module.module, function.qualname)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = False  # recursion: what the cycle raises is found on the way out
        where = Where(module, function)
        result = any(self._raises(exc, where) for exc, _, _ in function.raises) or any(
            self._call_retries(fact.call, where) for fact in self.analysis.calls_of(module, function)
        )
        self._memo[key] = result
        return result

    def _raises(self, exc: Expr, where: Where) -> bool:
        if isinstance(exc, Unknown):
            return False  # a bare `raise` re-raises what the handler caught: the try body's calls
        target = self.index.denote(exc, where)
        if target.qname in self.classes:
            return True
        if target.kind == "class" and target.module is not None and target.cls is not None:
            ancestors = self.index.class_ancestors(target.cls, target.module)
            return any(a.qname in self.classes for a in ancestors)
        return False


def _package(qname: str) -> str:
    return qname.split(".", 1)[0]
