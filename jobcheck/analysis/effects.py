"""Effect summaries: what each function does to the world, followed through project calls.

Receivers are typed only where the code shows it (RULES.md, Vocabulary): a Django model is
a class deriving from `django.db.models.Model`; `Model.objects...` is a manager or a
queryset; `Model(...)`, `Model.objects.get(...)` and `get_object_or_404(Model, ...)` are
rows; a session comes from `sessionmaker`/`Session`. A `.save()` on anything else is not
a write. Summaries are computed once per function, depth-bounded, cycles cut.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from jobcheck.analysis.index import ProjectIndex, Target, Where
from jobcheck.knowledge import data_dir, load_yaml
from jobcheck.model import (
    Attr,
    BinOp,
    Call,
    CallFact,
    Collection,
    Const,
    Effect,
    Expr,
    Frame,
    FunctionFact,
    Location,
    ModuleFacts,
    Name,
    Subscript,
    Unknown,
    leaf,
    split_method,
)

# a value's type as far as the code shows: (kind, detail)
#   ("model", cls) ("manager", cls) ("queryset", cls) ("row", cls) ("related", cls)
#   ("session", "") ("sessionmaker", "") ("redis", "") ("cursor", "") ("type", canonical)
VType = Optional[Tuple[str, str]]
WRITE_SQL = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|REPLACE|UPSERT)\b", re.IGNORECASE)
INCREMENT_SQL = re.compile(r"\bSET\s+(\w+)\s*=\s*\1\s*[+-]", re.IGNORECASE)
FunctionKey = Tuple[str, str]  # (module, qualname)
SENDS = ("delay", "apply_async")
REPLICA_WORDS = re.compile(r"replica|reader|read_?only|\bread\b")


def load_vocabulary(config: Any = None) -> Dict[str, Any]:
    """The shipped vocabularies, extended by `[tool.jobcheck]` effect/guard/transaction-functions."""
    vocabulary = load_yaml(data_dir() / "knowledge" / "effects.yaml")
    if config is not None:
        for name in config.effect_functions:
            vocabulary["external"].setdefault(name, "project effect")
        vocabulary["django"]["transactions"] = [*vocabulary["django"]["transactions"], *config.transaction_functions]
        vocabulary["guards"]["functions"] = list(config.guard_functions)
    return vocabulary


class Typer:
    """Types of receivers, from what the code shows (never guessed)."""

    def __init__(self, index: ProjectIndex, vocabulary: Dict[str, Any]) -> None:
        self.index = index
        self.v = vocabulary
        self._models: Dict[str, Optional[str]] = {}

    def is_model(self, target: Target) -> bool:
        return self.orm_of(target) is not None

    def orm_of(self, target: Target) -> Optional[str]:
        """"django" or "sqlalchemy" for a model class, else None."""
        if target.kind != "class" or target.cls is None or target.module is None:
            return None
        if target.qname not in self._models:
            ancestors = self.index.class_ancestors(target.cls, target.module)
            django = set(self.v["django"]["model_bases"])
            alchemy = set(self.v["sqlalchemy"]["model_bases"])
            if any(a.canonical in django for a in ancestors):
                self._models[target.qname] = "django"
            elif any(a.canonical in alchemy or self._declarative(a) for a in ancestors):
                self._models[target.qname] = "sqlalchemy"
            else:
                self._models[target.qname] = None
        return self._models[target.qname]

    def orm_of_model(self, qname: str) -> Optional[str]:
        return self.orm_of(self.index.resolve(qname))

    def _declarative(self, base: Target) -> bool:
        """`Base = declarative_base()`: the base of SQLAlchemy models made by a factory."""
        if base.kind != "value" or not isinstance(base.expr, Call) or base.module is None:
            return False
        made_by = self.index.denote(base.expr.func, Where(base.module))
        return made_by.canonical in self.v["sqlalchemy"]["base_factories"]

    def of(self, expr: Expr, where: Where, depth: int = 0) -> VType:
        if depth > 8:
            return None
        if isinstance(expr, Name):
            return self._name(expr, where, depth)
        if isinstance(expr, Attr):
            return self.attr(self.of(expr.base, where, depth + 1), expr.attr)
        if isinstance(expr, Call):
            return self._call(expr, where, depth)
        if isinstance(expr, Subscript):
            # an element of a queryset (`qs[0]`, or a loop variable over it) is a row
            base = self.of(expr.base, where, depth + 1)
            if base is not None and base[0] in ("queryset", "manager"):
                return ("row", base[1])
        return None

    def _name(self, name: Name, where: Where, depth: int) -> VType:
        head, _, rest = name.qname.partition(".")
        attrs = rest.split(".") if rest else []
        if name.kind == "local" and where.function is not None:
            bound = where.function.local_values.get(head)
            if bound is not None:
                return self._attrs(self.of(bound, where, depth + 1), attrs)
            for param in where.function.params:
                if param.name == head and param.annotation is not None:
                    return self._attrs(self.annotated(param.annotation, where), attrs)
        target = self.index.denote(name, where)
        return self._target(target, depth)

    def annotated(self, annotation: Expr, where: Where) -> VType:
        """The type an annotation shows: `session: AsyncSession`, `Order | None`, `AsyncIterator[Session]`."""
        if isinstance(annotation, BinOp) and annotation.op == "BitOr":
            return self.annotated(annotation.left, where) or self.annotated(annotation.right, where)
        if isinstance(annotation, Subscript):
            for inner in annotation.index:  # Optional[X], Iterator[X], Annotated[X, ...]: the first that types
                found = self.annotated(inner, where)
                if found is not None:
                    return found
            return None
        if isinstance(annotation, Const) and isinstance(annotation.value, str) and annotation.value.isidentifier():
            imported = dict(where.module.imports).get(annotation.value)
            annotation = Name(imported or f"{where.module.module}.{annotation.value}")
        if not isinstance(annotation, Name) or annotation.kind != "global":
            return None
        target = self.index.denote(annotation, where)
        if target.kind == "class" and not target.attrs and self.is_model(target):
            return ("row", target.qname)
        if target.kind == "external" and self.index.knowledge.is_type(target.canonical):
            return self._external_type(target.canonical)
        return None

    def _target(self, target: Target, depth: int) -> VType:
        if target.kind == "value" and isinstance(target.expr, Call) and target.module is not None:
            # a module-level value made by a call: `client = redis.Redis.from_url(...)`
            return self._attrs(self.of(target.expr, Where(target.module), depth + 1), list(target.attrs))
        if target.kind == "class" and self.is_model(replace(target, attrs=())):
            return self._attrs(("model", target.qname), list(target.attrs))
        if target.kind == "instance":
            attrs = list(target.attrs)
            if attrs and target.cls is not None and target.module is not None:
                bound = self._instance_attr(target.module, target.cls, attrs[0], depth)
                if bound is not None:
                    return self._attrs(bound, attrs[1:])
            return self._attrs(self._instance(target), attrs)
        return None

    def _instance_attr(self, module: ModuleFacts, cls: Any, name: str, depth: int) -> VType:
        """`self.session` where a method did `self.session = session` (typed there)."""
        classes = [(module, cls)] + [
            (a.module, a.cls)
            for a in self.index.class_ancestors(cls, module)
            if a.kind == "class" and a.cls and a.module
        ]
        for owner_module, owner in classes:
            for attr, value, method in owner.instance_attrs:
                if attr == name:
                    function = self.index.function(owner_module.module, method)
                    return self.of(value, Where(owner_module, function), depth + 1)
        return None

    def _instance(self, target: Target) -> VType:
        if target.cls is not None and target.module is not None:
            as_class = Target("class", target.qname, module=target.module, cls=target.cls)
            if self.is_model(as_class):
                return ("row", target.qname)
        for name in self.index.instance_types(replace(target, attrs=())):
            if self.index.module_of(name)[0] is None:  # a framework or library type
                return self._external_type(name)
        return None

    def _external_type(self, canonical: str) -> VType:
        if canonical in self.v["redis"]["types"]:
            return ("redis", "")
        if canonical in self.v["sqlalchemy"]["session_types"]:
            return ("session", "")
        if canonical in self.v["sqlalchemy"]["session_factories"]:
            return ("sessionmaker", "")
        return ("type", canonical)

    def _attrs(self, vtype: VType, attrs: List[str]) -> VType:
        for attr in attrs:
            vtype = self.attr(vtype, attr)
        return vtype

    def attr(self, vtype: VType, attr: str) -> VType:
        if vtype is None:
            return None
        kind, detail = vtype
        if kind == "model" and attr in self.v["django"]["managers"]:
            return ("manager", detail)
        if kind == "row" and not attr.startswith("_") and attr not in ("pk", "id"):
            target = self._foreign_key(detail, attr)
            if target is not None:
                return ("row", target)  # `order.customer`: the row a ForeignKey points to
            return ("related", f"{detail}#{attr}")  # `order.lines`: a related manager, if anything
        if kind == "type":
            typed = self.v["attribute_types"].get(f"{detail}.{attr}")
            return self._external_type(typed) if typed else ("type", f"{detail}.{attr}")
        return None

    def _foreign_key(self, model: str, field: str) -> Optional[str]:
        target = self.index.resolve(model)
        if target.kind != "class" or target.cls is None or target.module is None:
            return None
        for name, value, _ in target.cls.attrs:
            if name == field and isinstance(value, Call) and leaf(value.func) in ("ForeignKey", "OneToOneField"):
                if not value.args:
                    return None
                pointed = value.args[0]
                if isinstance(pointed, Const) and isinstance(pointed.value, str):
                    pointed = Name(f"{target.module.module}.{pointed.value.rsplit('.', 1)[-1]}")
                found = self.index.denote(pointed, Where(target.module))
                if found.kind == "class" and not found.attrs and self.is_model(found):
                    return found.qname
        return None

    def _call(self, call: Call, where: Where, depth: int) -> VType:
        func = call.func
        split = split_method(func)
        if split is not None:
            receiver = self.of(split[0], where, depth + 1)
            if receiver == ("session", "") and split[1] in self.v["sqlalchemy"]["row_methods"] and call.args:
                model = self.of(call.args[0], where, depth + 1)
                return ("row", model[1]) if model and model[0] == "model" else None
            result = self.method_result(receiver, split[1]) if receiver is not None else None
            if result is not None:
                return result
        target = self.index.denote(func, where)
        if target.kind == "class" and not target.attrs and self.is_model(target):
            return ("row", target.qname)
        canonical = target.canonical
        django = self.v["django"]
        if canonical in django["instance_functions"] and call.args:
            model = self.of(call.args[0], where, depth + 1)
            return ("row", model[1]) if model and model[0] in ("model", "manager", "queryset") else None
        factory = self.v["factories"].get(canonical)
        if factory:
            return self._external_type(factory)
        if canonical in self.v["sqlalchemy"]["session_factories"]:
            return ("sessionmaker", "")
        if target.kind == "value" and isinstance(target.expr, Call) and target.module is not None and not target.attrs:
            # calling a module-level value: `Session()` where `Session = sessionmaker(...)`
            made = self.of(target.expr, Where(target.module), depth + 1)
            if made == ("sessionmaker", ""):
                return ("session", "")
        if target.kind == "external" and self.index.knowledge.is_type(canonical):
            return self._external_type(canonical)
        if target.kind == "instance" and self._instance(target) == ("sessionmaker", ""):
            return ("session", "")
        runs = self.index.function_of(target)  # a project function or method: what it returns
        if runs is not None:
            return self._returned(runs[1], runs[0], depth)
        if target.kind in ("function", "class") and target.attrs and target.attrs[-1] in SENDS:
            return ("type", "celery.AsyncResult")  # `task.delay(...)` gives a result handle
        if target.kind in ("function", "class") and target.attrs and target.attrs[-1] in ("send", "send_with_options"):
            return ("type", "dramatiq.Message")  # `actor.send(...)`: the message, whose result can be awaited
        return None

    def _returned(self, function: Optional[FunctionFact], module: ModuleFacts, depth: int) -> VType:
        """What a project function returns, when its annotation or return statements show it."""
        if function is None:
            return None
        if function.return_annotation is not None:
            annotated = self.annotated(function.return_annotation, Where(module, function))
            if annotated is not None:
                return annotated
        for value in function.returns:
            found = self.of(value, Where(module, function), depth + 2)
            if found is not None:
                return found
        return None

    def method_result(self, receiver: Tuple[str, str], method: str) -> VType:
        kind, detail = receiver
        django = self.v["django"]
        if kind in ("manager", "queryset", "related"):
            if method in ("values", "values_list"):
                return ("values", detail)  # dicts or tuples of columns, not rows
            if method in django["queryset_methods"]:
                return ("queryset", detail)
            if method in django["instance_methods"] and "#" not in detail:
                return ("row", detail)  # (the model behind a reverse relation is not known)
        if kind == "sessionmaker":
            return ("session", "")
        if method == "cursor":
            return ("cursor", "")
        if kind == "type":
            produced = self.v["factories"].get(f"{detail}.{method}")
            if produced:
                return self._external_type(produced)
        return None


class EffectAnalysis:
    def __init__(self, project: Any, config: Any = None) -> None:
        self.project = project
        self.index: ProjectIndex = project.index
        self.v = load_vocabulary(config)
        max_depth = config.max_depth if config is not None else 6
        self.typer = Typer(self.index, self.v)
        self.max_depth = max_depth
        self._summaries: Dict[FunctionKey, List[Effect]] = {}
        self._enqueues = {(s.location.path, s.location.span): s for s in project.enqueue_sites}
        self._calls: Dict[str, Dict[str, List[CallFact]]] = {}
        self._transactions: Dict[str, bool] = {}
        self._deciding: Dict[str, int] = {}  # wrappers whose answer is being worked out -> their depth
        self._leaned_on = 0  # the shallowest of those the answer being worked out met again
        self._scope_answers: Dict[Tuple[str, str], bool] = {}  # (question, scope) -> its answer

    # ------------------------------------------------------------------ per task

    def entry(self, task: Any) -> Optional[Tuple[ModuleFacts, FunctionFact]]:
        module = self.index.module(task.module)
        if module is None:
            return None
        local = task.qualname[len(task.module) + 1 :]
        function = self.index.function(task.module, local)
        if function is None:  # class-based: run() / perform()
            for method in ("run", "perform", "handle"):
                function = self.index.function(task.module, f"{local}.{method}")
                if function is not None:
                    break
        return (module, function) if function is not None else None

    def task_effects(self, task: Any) -> List[Effect]:
        """The task's effects, with chains no longer than the max-depth option."""
        entry = self.entry(task)
        if entry is None:
            return []
        effects, _ = self.summary(entry[0], entry[1], [])
        return [e for e in effects if len(e.chain) <= self.max_depth]

    # ------------------------------------------------------------------ summaries

    def calls_of(self, module: ModuleFacts, function: FunctionFact) -> List[CallFact]:
        table = self._calls.get(module.module)
        if table is None:
            table = self._calls[module.module] = {}
            for fact in module.calls:
                table.setdefault(fact.scope, []).append(fact)
        return table.get(function.qualname, [])

    def summary(
        self, module: ModuleFacts, function: FunctionFact, active: List[FunctionKey]
    ) -> Tuple[List[Effect], bool]:
        """(effects, complete): a summary cut short by a cycle is not cached."""
        key = (module.module, function.qualname)
        if key in self._summaries:
            return self._summaries[key], True
        if key in active or len(active) > self.max_depth:
            # recursion (its effects are counted once, above), or deeper than chains are kept
            return [], False
        active.append(key)
        complete = True
        where = Where(module, function)
        outer = self._function_frames(module, function)
        effects: List[Effect] = []
        for fact in self.calls_of(module, function):
            location = Location(module.path, fact.call.span)
            frames = (*outer, *fact.context)
            own = self.classify(fact, where, location)
            if own is not None:
                here = f"{module.module}:{function.qualname}"
                effects.append(replace(own, frames=frames, scope=here, path=(here,)))
                continue
            callee = self.index.denote(fact.call.func, where)
            for callee_module, callee_function in self._project_functions(callee, fact, where):
                inner_effects, inner_complete = self.summary(callee_module, callee_function, active)
                complete = complete and inner_complete
                flags = _constant_flags(fact.call, callee_function, where)
                scope = f"{callee_module.module}:{callee_function.qualname}"
                for inner in inner_effects:
                    if flags and _ruled_out(inner, scope, flags):
                        continue  # `helper(x, save=False)`: the `if save:` arm never runs here
                    effects.append(
                        replace(
                            inner,
                            chain=(location, *inner.chain),
                            frames=(*frames, *inner.frames),
                            path=(f"{module.module}:{function.qualname}", *inner.path),
                        )
                    )
        effects.extend(self._augmented_increments(module, function, where, outer))
        active.pop()
        if complete:
            self._summaries[key] = effects
        return effects, complete

    def _project_functions(
        self, target: Target, fact: CallFact, where: Where
    ) -> Iterable[Tuple[ModuleFacts, FunctionFact]]:
        split = split_method(fact.call.func)
        if target.kind not in ("function", "class", "instance") and split is not None:
            # a method of a model row the code fetched: `media = Media.objects.get(...); media.rename()`
            receiver = self.typer.of(split[0], where)
            if receiver is not None and receiver[0] == "row":
                model = self.index.resolve(receiver[1])
                if model.kind == "class" and model.cls is not None and model.module is not None:
                    method = self.index.find_method(model.module, model.cls, split[1])
                    if method is not None:
                        yield method
            return
        found = self.index.function_of(target, constructors=True)
        if found is not None:
            yield found

    def _function_frames(self, module: ModuleFacts, function: FunctionFact) -> Tuple[Frame, ...]:
        """`@transaction.atomic` (or a project wrapper of it) on a function: its body runs in a transaction."""
        frames = []
        for decorator, span in zip(function.decorators, function.decorator_spans):
            if self.opens_transaction(decorator):
                frames.append(Frame("with", (decorator,), span=span, scope=f"{module.module}:{function.qualname}"))
        return tuple(frames)

    def opens_transaction(self, manager: Expr) -> bool:
        """`transaction.atomic()`, an alias of it, `session.begin()`, or a project function wrapping one."""
        func = manager.func if isinstance(manager, Call) else manager
        if isinstance(manager, Call) and _on_replica(manager):
            return False  # `atomic(using=settings.REPLICA)`: nothing the job writes is in it
        if leaf(func) in self.v["sqlalchemy"]["transactions"]:
            return True
        if not isinstance(func, Name) or func.kind != "global":
            return False
        key = func.qname
        if key in self._transactions:
            return self._transactions[key]
        if key in self._deciding:  # a wrapper reached again through its own calls: no transaction that way
            self._leaned_on = min(self._leaned_on, self._deciding[key])
            return False
        depth = self._deciding[key] = len(self._deciding)
        outer, self._leaned_on = self._leaned_on, depth
        try:
            answer = self._is_transaction_name(func)
        finally:
            del self._deciding[key]
            leaned, self._leaned_on = self._leaned_on, outer
        if answer or leaned >= depth:
            self._transactions[key] = answer
        else:
            # a no that leaned on a wrapper still being decided (`outer` -> `inner` -> `outer`) may
            # be a yes once that one is decided: kept only then, so no answer depends on the order asked
            self._leaned_on = min(self._leaned_on, leaned)
        return answer

    def _is_transaction_name(self, func: Name) -> bool:
        names = set(self.v["django"]["transactions"])
        if self.index.knowledge.canonical(func.qname) in names:
            return True
        target = self.index.resolve(func.qname)
        if target.canonical in names:
            return True
        if target.kind == "function" and target.function is not None and target.module is not None and not target.attrs:
            # a project context manager / decorator that opens one: `traced_atomic_transaction()`
            return self._a_block_opens_one(target.module, target.function) or any(
                self.opens_transaction(fact.call) for fact in self.calls_of(target.module, target.function)
            )
        return False

    def opens_in(self, frame: Frame) -> bool:
        """Whether the frame is a with-block (or a decorator) that opens a transaction."""
        return frame.kind == "with" and any(map(self.opens_transaction, frame.exprs))

    def _a_block_opens_one(self, module: ModuleFacts, function: FunctionFact) -> bool:
        return any(self.opens_in(frame) for fact in self.calls_of(module, function) for frame in fact.context)

    def frame_location(self, frame: Frame) -> Optional[Location]:
        """Where a frame (a with-block, a decorator, a guard) is written."""
        module = self.index.module(frame.scope.partition(":")[0]) if frame.scope else None
        return Location(module.path, frame.span) if module is not None else None

    def opens_a_transaction(self, module: ModuleFacts, function: FunctionFact) -> bool:
        """Whether the function itself opens a transaction anywhere (a decorator, a with-block):
        only then can one of its effects run in a transaction it owns."""
        return bool(self._function_frames(module, function)) or self._a_block_opens_one(module, function)

    def own_transaction(self, module: ModuleFacts, function: FunctionFact, effect: Effect) -> bool:
        """Whether the function itself (not a callee) opens the transaction the effect runs in."""
        own = list(self._function_frames(module, function))
        if effect.chain:
            site = effect.chain[0]
            fact = next((f for f in self.calls_of(module, function) if f.call.span == site.span), None)
            own.extend(fact.context if fact is not None else ())
        else:
            own.extend(effect.frames)
        probe = replace(effect, frames=tuple(own))
        return bool(transaction_frames(probe, self))

    # ------------------------------------------------------------------ guards

    def scope_of(self, frame: Frame) -> Optional[Where]:
        return self._scope(frame.scope) if frame.scope else None

    def _scope(self, scope: str) -> Optional[Where]:
        module_name, _, qualname = scope.partition(":")
        module = self.index.module(module_name)
        if module is None:
            return None
        return Where(module, self.index.function(module_name, qualname))

    def reads_stored_state(self, frame: Frame) -> bool:
        """A guard test that reads stored state (a query, the cache, a field of a fetched row),
        not only the job's arguments."""
        leaves = set(self.v["guards"]["query_leaves"]) | set(self.v["redis"]["claims"])
        prefixes = tuple(self.v["guards"]["query_prefixes"])
        where = self._scope(frame.scope)
        parameters = {p.name for p in where.function.params} if where is not None and where.function else set()
        for call in frame.exprs:
            name = leaf(call.func) or ""
            split = split_method(call.func)
            root = _chain_root(split[0]) if split is not None else None
            on_argument = root is not None and root.kind == "local" and root.qname.split(".")[0] in parameters
            if isinstance(root, Name) and not isinstance(split[0], Name) and root.qname.split(".")[0] in ("self", "cls"):
                on_argument = False  # `self.repo.get(...)`: a lookup through the task's own object
            if (name in leaves or name.startswith(prefixes)) and not on_argument:
                return True  # a query or lookup (not `payload.get(...).get(...)` on the job's own argument)
            if where is not None:
                canonical = self.index.denote(call.func, where).canonical
                if canonical in self.v["guards"]["cache"] or canonical in self.v["guards"].get("functions", ()):
                    return True
        if where is None or where.function is None:
            return False
        locals_ = where.function.local_values
        state = tuple(self.v["guards"]["state_fields"])
        for name in frame.names:
            head, _, field = name.partition(".")
            bound = locals_.get(head)
            if frame.kind == "when" and not field and head not in parameters and isinstance(bound, Call):
                looked_up = leaf(bound.func) or ""
                if looked_up in leaves or looked_up.startswith(prefixes):
                    return True  # `sent = Log.objects.filter(...).exists()` ... `if not sent: send()`
            if not field or not any(word in field.lower() for word in state):
                continue
            if head in parameters:
                if self._stored_parameter(head, where):
                    return True  # `def handle(checkout: Checkout): if checkout.status != ...: raise`
                continue
            vtype = self.typer.of(Name(head, "local"), where)
            if vtype is not None and vtype[0] in ("row", "queryset"):
                return True  # a field of a fetched row: `if order.paid_at: return`
            if isinstance(locals_.get(head), Call) and leaf(locals_[head].func) not in ("dict", "list", "set", "len"):
                return True  # a field of what a lookup returned: `review = await repo.get(...)`
        return False

    def _stored_parameter(self, name: str, where: Where) -> bool:
        """A parameter annotated with a project class (a model row handed in), not an id or a dict."""
        for param in where.function.params if where.function else ():
            if param.name == name and isinstance(param.annotation, Name) and param.annotation.kind == "global":
                target = self.index.denote(param.annotation, where)
                return target.kind == "class" and not target.attrs
        return False

    def is_precondition(self, frame: Frame) -> bool:
        """An early exit that cannot be a dedupe check: it reads only the job's arguments, whether a
        loaded value exists (`if order is None: raise`), or configuration (`settings.X`, CONSTANTS)."""
        where = self._scope(frame.scope)
        if where is None or where.function is None:
            return False
        parameters = {p.name for p in where.function.params}
        pure = {"len", "isinstance", "bool", "str", "int", "get", "startswith", "endswith", "lower", "strip"}
        for call in frame.exprs:
            split = split_method(call.func)
            on_parameter = (
                split is not None and isinstance(split[0], Name) and split[0].qname.split(".")[0] in parameters
            )
            if not (on_parameter or leaf(call.func) in pure):
                return False

        locals_ = where.function.local_values

        def harmless(name: str) -> bool:
            head = name.split(".")[0]
            if "." not in name and head not in parameters and isinstance(locals_.get(head), Call):
                # `if order is None: raise` is a not-found precondition; `if existing is not None:
                # return` after a lookup is a dedupe check
                return not _tests_presence(frame.text, head)
            return head in parameters or "." not in name or head in ("settings", "config", "conf") or head.isupper()

        return all(harmless(name) for name in frame.names)

    def manager_checks_state(self, manager: Expr, where: Optional[Where] = None, depth: int = 0) -> bool:
        """A project context manager that exits early on stored state before it yields
        (`async with events.handle(event_id):` raising when the event was handled)."""
        func = manager.func if isinstance(manager, Call) else manager
        if where is not None:
            target = self.index.denote(func, where)
        elif isinstance(func, Name) and func.kind == "global":
            target = self.index.resolve(func.qname)
        else:
            return False
        found = self.index.function_of(target)
        if found is None:
            return False
        module, function = found
        inner = Where(module, function)
        for fact in self.calls_of(module, function):
            if any(frame.kind == "guard" and self.reads_stored_state(frame) for frame in fact.context):
                return True
            if depth < 3 and self.manager_checks_state(fact.call, inner, depth + 1):
                return True  # delegates to a guarding one (`async with self.handle(...)`)
        return False

    def is_lock(self, manager: Expr, where: Optional[Where] = None) -> bool:
        func = manager.func if isinstance(manager, Call) else manager
        name = leaf(func)
        if name in self.v["redis"]["locks"] or name in ("lock", "lock_task"):
            return True
        if isinstance(func, Name) and func.kind == "global":
            target = self.index.resolve(func.qname)
            return any(name in self.v["locks"]["calls"] for name in self.index.member_names(target))
        return False

    def _answer(self, question: Callable[[str], bool], scope: str) -> bool:
        """A question about one function, asked once: guards are looked for on every effect."""
        key = (question.__name__, scope)
        if key not in self._scope_answers:
            self._scope_answers[key] = question(scope)
        return self._scope_answers[key]

    def claims_rows(self, scope: str) -> bool:
        """Rows picked by a field the same function then sets (`filter(status=NEW)` ...
        `update(status=DONE)`): a rerun finds nothing left to do."""
        return self._answer(self._claims_rows, scope)

    def _claims_rows(self, scope: str) -> bool:
        where = self._scope(scope) if scope else None
        if where is None or where.function is None:
            return False
        updated = set()
        for fact in self.calls_of(where.module, where.function):
            if leaf(fact.call.func) == "update":
                updated |= {key.split("__")[0] for key, _ in fact.call.kwargs}
        updated -= {"id", "pk"}
        return bool(updated) and bool(self._filtered_fields(where.module, where.function, 0) & updated)

    def _filtered_fields(self, module: ModuleFacts, function: FunctionFact, depth: int) -> set:
        """Fields the function (or a helper it calls, e.g. `pending_rows()`) selects rows by."""
        fields = set()
        for fact in self.calls_of(module, function):
            if leaf(fact.call.func) in ("filter", "exclude", "Q"):
                fields |= {key.split("__")[0] for key, _ in fact.call.kwargs}
            elif depth < 2:
                found = self.index.function_of(self.index.denote(fact.call.func, Where(module, function)))
                if found is not None:
                    fields |= self._filtered_fields(*found, depth + 1)
        return fields

    def commits(self, scope: str) -> bool:
        """Whether the function calls `.commit()` itself (a SQLAlchemy session, a DB-API connection)."""
        where = self._scope(scope) if scope else None
        if where is None or where.function is None:
            return False
        return any(leaf(fact.call.func) == "commit" for fact in self.calls_of(where.module, where.function))

    def locks_rows(self, scope: str) -> bool:
        """Whether the function making the effect reads its rows with select_for_update()."""
        return self._answer(self._locks_rows, scope)

    def _locks_rows(self, scope: str) -> bool:
        where = self._scope(scope) if scope else None
        if where is None or where.function is None:
            return False
        return self._locks_rows_in(where.module, where.function, 0)

    def _locks_rows_in(self, module: ModuleFacts, function: FunctionFact, depth: int) -> bool:
        """select_for_update in the function, or in a helper it calls (`checkout_qs_select_for_update()`)."""
        for fact in self.calls_of(module, function):
            if depth and any(frame.kind in ("branch", "guard") for frame in fact.context):
                continue  # a helper that locks only when asked (`if for_update: q = q.with_for_update()`)
            if leaf(fact.call.func) in ("select_for_update", "with_for_update") or any(
                key in ("for_update", "with_for_update") and value == Const(True) for key, value in fact.call.kwargs
            ):
                return True
            if depth < 2:
                found = self.index.function_of(self.index.denote(fact.call.func, Where(module, function)))
                if found is not None and self._locks_rows_in(*found, depth + 1):
                    return True
        return False

    # ------------------------------------------------------------------ one call

    def classify(self, fact: CallFact, where: Where, location: Location) -> Optional[Effect]:
        effect = self._classify(fact, where, location)
        if effect is not None and effect.detail.startswith("http") and self._asks_only(fact.call, where):
            return None
        return effect

    def _sent_by(self, receiver: Expr, where: Where, path: str):
        """The enqueue site that produced a value: `task(x)` itself, or a local bound to it."""
        if isinstance(receiver, Name) and receiver.kind == "local" and where.function is not None:
            receiver = where.function.local_values.get(receiver.qname, receiver)
        if isinstance(receiver, Call):
            return self._enqueues.get((path, receiver.span))
        return None

    def _asks_only(self, call: Call, where: Where) -> bool:
        """An HTTP POST that only asks something: `post(f"{URI}/predict", ...)` or made by `predict_lang()`."""
        http = self.v["http"]
        name = where.function.name.lower() if where.function is not None else ""
        if name.startswith(tuple(http.get("read_only_function_prefixes", ()))):
            return True
        url = call.args[1] if leaf(call.func) == "request" and len(call.args) > 1 else (call.args[0] if call.args else None)
        if url is None:
            url = dict(call.kwargs).get("url")
        text = url.value if isinstance(url, Const) else url.text if isinstance(url, Unknown) else None
        if not isinstance(text, str):
            return False
        path = text.split("?", 1)[0].lower()
        return any(word in path for word in http.get("read_only_paths", ()))

    def _configured(self, value: Optional[Expr], where: Where) -> bool:
        """A value read from the deployment's configuration: `settings.X`, `os.environ[...]`, `env(...)`."""
        if isinstance(value, Name) and value.kind == "local" and where.function is not None:
            value = where.function.local_values.get(value.qname.split(".")[0], value)
        if isinstance(value, Call) and leaf(value.func) in ("float", "int", "Decimal") and value.args:
            value = value.args[0]  # `float(os.environ["PAUSE"])`
        if isinstance(value, Call) and leaf(value.func) in ("env", "getenv", "getattr", "get") and value.args:
            value = value.func if leaf(value.func) != "getattr" else value.args[0]
        if isinstance(value, Subscript):
            value = value.base  # `os.environ["DELAY"]`
        if isinstance(value, (Name, Attr)):
            root = _chain_root(value)
            text = root.qname if isinstance(root, Name) else ""
            return text.startswith(("django.conf.settings.", "os.environ")) or text.split(".")[0] in CONFIG_NAMES
        return False

    def _classify(self, fact: CallFact, where: Where, location: Location) -> Optional[Effect]:
        call = fact.call
        site = self._enqueues.get((location.path, location.span))
        if site is not None:
            return Effect("enqueue", f"{site.api}", site.task or "", location)
        split = split_method(call.func)
        if split is not None and split[1] == "get" and call.kwarg("blocking") == Const(True):
            sent = self._sent_by(split[0], where, location.path)
            if sent is not None and sent.framework == "huey":
                return Effect("wait", "Result.get", "result", location)  # `task(x).get(blocking=True)`
        if split is not None:
            receiver = self.typer.of(split[0], where)
            if receiver is not None:
                found = self._on_receiver(receiver, split[1], call, where, location, split[0])
                if found is not None:
                    return found
        target = self.index.denote(call.func, where)
        if target.kind in ("function", "class") and target.module is not None:
            declared = self.v["external"].get(target.canonical)
            if declared:  # a project function the user declared an effect
                return Effect("external", target.canonical, declared, location, keyed=self._keyed(call))
            return None  # a project function: followed by the summary, not matched by name
        return self._by_name(target.canonical, call, location, where)

    def _on_receiver(
        self, receiver: Tuple[str, str], method: str, call: Call, where: Where, location: Location, receiver_expr: Expr
    ) -> Optional[Effect]:
        kind, detail = receiver
        django, alchemy, redis = self.v["django"], self.v["sqlalchemy"], self.v["redis"]
        owner, _, relation = detail.partition("#")
        model = owner.rsplit(".", 1)[-1]
        source = f"{model}.{relation}" if relation else f"{model}.objects"  # `Source.media_source`
        if kind in ("manager", "queryset", "related") and method in django["writes"]:
            if method == "update" and any(self._is_increment(value) for _, value in call.kwargs):
                return Effect("increment", f"{source}.update", "F() + n", location)
            detail = django["writes"][method]
            if method == "bulk_create" and any(
                key in ("update_conflicts", "ignore_conflicts") and value == Const(True) for key, value in call.kwargs
            ):
                detail = "upsert"  # a row that exists already is updated or skipped, not duplicated
            return Effect("db-write", f"{source}.{method}", detail, location)
        if kind == "row" and django["instance_writes"].get(method):
            detail = django["instance_writes"][method]
            if method == "save" and self._constructed(receiver_expr, where):
                # `Model(...).save()` creates the record; given its primary key, Django updates
                # the row if one exists: no duplicate
                keyed = call.kwarg("force_insert") != Const(True) and self._saved_by_key(receiver_expr, where)
                detail = "upsert" if keyed else "insert"
            return Effect("db-write", f"{model}.{method}", detail, location)
        if kind == "related" and method in django["related_writes"]:
            return Effect("db-write", f"{source}.{method}", "update", location)
        if kind == "session" and method in alchemy["session_writes"]:
            detail = alchemy["session_writes"][method]
            if detail == "insert" and not self._constructed(call.args[0] if call.args else None, where):
                # a loaded row (an update) or a parameter (built by the caller, or loaded): not a
                # plain insert JC101 can vouch for; still a write for JC501/JC801
                detail = "save" if self._loaded(call.args[0] if call.args else None, where) else "add"
            return Effect("db-write", f"session.{method}", detail, location)
        if kind in ("session", "cursor") and method in ("execute", "executemany") and call.args:
            return self._statement(call.args[0], where, location)
        if kind == "redis":
            if method in redis["increments"]:
                return Effect("increment", f"redis.{method}", "counter", location)
            if method in redis["locks"]:
                return Effect("lock", f"redis.{method}", "lock", location)
        if kind == "type":
            return self._typed_method(detail, method, call, location)
        return None

    def _typed_method(self, type_name: str, method: str, call: Call, location: Location) -> Optional[Effect]:
        http = self.v["http"]
        if type_name in http["client_types"]:
            verb = self._verb(method, call)
            if verb in http["effect_verbs"]:
                return Effect(
                    "external",
                    f"{type_name.rsplit('.', 1)[-1]}.{method}",
                    f"http {verb.upper()}",
                    location,
                    keyed=self._keyed(call),
                )
            return None
        waits = self.v["waits"]
        if type_name in waits["types"] and method in waits["methods"]:
            if method == "get_result" and call.kwarg("block") != Const(True):
                return None  # Dramatiq: `get_result()` does not block unless asked to
            return Effect("wait", f"{type_name.rsplit('.', 1)[-1]}.{method}", "result", location)
        canonical = f"{type_name}.{method}"
        kind = self.v["external"].get(canonical)
        if kind:
            return Effect("external", canonical, kind, location, keyed=self._keyed(call))
        return None

    def _by_name(self, canonical: str, call: Call, location: Location, where: Where) -> Optional[Effect]:
        http = self.v["http"]
        module, _, leaf = canonical.rpartition(".")
        if module in http["modules"]:
            verb = self._verb(leaf, call)
            if verb in http["effect_verbs"]:
                return Effect("external", canonical, f"http {verb.upper()}", location, keyed=self._keyed(call))
            return None
        kind = self.v["external"].get(canonical)
        if kind:
            return Effect("external", canonical, kind, location, keyed=self._keyed(call))
        top = canonical.split(".")[0]
        verbs = self.v["external_prefixes"].get(top)
        if verbs and (leaf in verbs or leaf.endswith("_async") and leaf[: -len("_async")] in verbs):
            return Effect(
                "external",
                canonical,
                "payment" if top in ("stripe", "braintree", "paypalrestsdk") else top,
                location,
                keyed=self._keyed(call),
            )
        if canonical in self.v["sleep"]:
            seconds = call.args[0] if call.args else call.kwarg("secs") or call.kwarg("seconds")
            duration = seconds.value if isinstance(seconds, Const) else None
            known = isinstance(duration, (int, float)) and not isinstance(duration, bool)
            if isinstance(seconds, Call) and isinstance(seconds.func, Name) and seconds.func.qname.startswith("random."):
                return Effect("sleep", canonical, "jitter", location)  # `sleep(random.uniform(...))`
            if not known and self._configured(seconds, where):
                return Effect("sleep", canonical, "configured", location)  # `sleep(settings.DELAY)`: 0 unless set
            return Effect("sleep", canonical, repr(duration) if known else "", location)
        if canonical in self.v["locks"]["calls"]:
            return Effect("lock", canonical, "lock", location)
        return None

    def _loaded(self, value: Optional[Expr], where: Where) -> bool:
        """Whether a value is a row the code fetched (a local bound to a lookup, not a constructor).
        A parameter is neither: `Repository.create(self, object)` adds what its caller built."""
        if not (isinstance(value, Name) and value.kind == "local" and where.function is not None):
            return False
        bound = where.function.local_values.get(value.qname.split(".")[0])
        return isinstance(bound, Call) and not self._constructed(bound, where)

    def _constructed(self, value: Optional[Expr], where: Where) -> bool:
        """Whether a value is a new object: `Model(...)`, or a local bound to one."""
        value = _bound(value, where)
        if isinstance(value, (Collection,)) and value.kind in ("list", "tuple"):
            return any(self._constructed(item, where) for item in value.items)
        if not isinstance(value, Call):
            return False
        made = self.index.denote(value.func, where)
        return made.kind == "class" and not made.attrs

    def _saved_by_key(self, value: Optional[Expr], where: Where) -> bool:
        """`Model(pk=key)` / `Model(id=key)` of a Django model whose primary key has no default:
        its `save()` updates the row with that key if there is one, and inserts only if not.
        (With a default, Django inserts, and a repeat fails on the unique key: not a guard.)"""
        value = _bound(value, where)
        if not isinstance(value, Call):
            return False
        key = value.kwarg("pk") or value.kwarg("id")
        if key is None or key == Const(None):
            return False
        made = self.index.denote(value.func, where)
        if self.typer.orm_of(made) != "django":
            return False
        classes = [made, *self.index.class_ancestors(made.cls, made.module)]
        return not any(
            _primary_key_with_default(attr_value) for target in classes if target.cls for _, attr_value, _ in target.cls.attrs
        )

    @staticmethod
    def _verb(method: str, call: Call) -> str:
        if (
            method == "request"
            and call.args
            and isinstance(call.args[0], Const)
            and isinstance(call.args[0].value, str)
        ):
            return call.args[0].value.lower()
        return method

    def _keyed(self, call: Call) -> bool:
        keywords = set(self.v["idempotency"]["keywords"])
        if any(name in keywords for name, _ in call.kwargs):
            return True
        headers = call.kwarg("headers")
        wanted = {h.lower() for h in self.v["idempotency"]["headers"]}
        if isinstance(headers, Const) and isinstance(headers.value, dict):
            return any(str(k).lower() in wanted for k in headers.value)
        if isinstance(headers, Collection) and headers.kind == "dict":
            return any(isinstance(k, Const) and str(k.value).lower() in wanted for k in headers.keys)
        return False

    def _statement(self, statement: Expr, where: Where, location: Location) -> Optional[Effect]:
        if isinstance(statement, Name) and statement.kind == "local" and where.function is not None:
            statement = where.function.local_values.get(statement.qname, statement)  # `stmt = insert(...)`
        if isinstance(statement, Const) and isinstance(statement.value, str):
            match = WRITE_SQL.match(statement.value)
            if match is None:
                return None
            if INCREMENT_SQL.search(statement.value):
                return Effect("increment", "SQL", "SET c = c + n", location)
            return Effect("db-write", f"SQL {match.group(1).upper()}", match.group(1).lower(), location)
        root, methods = statement, []
        while isinstance(root, Call) and isinstance(root.func, Attr):  # insert(T).values(...)
            methods.append(root.func.attr)
            root = root.func.base
        if isinstance(root, Call):
            canonical = self.index.denote(root.func, where).canonical
            kind = self.v["sqlalchemy"]["statement_writes"].get(canonical)
            if kind == "insert" and any(m.startswith("on_conflict_do") for m in methods):
                kind = "upsert"  # insert(...).on_conflict_do_nothing()/do_update()
            if kind:
                return Effect("db-write", canonical, kind, location)
        return None

    def _is_increment(self, value: Expr) -> bool:
        if not isinstance(value, BinOp) or value.op not in ("Add", "Subtract"):
            return False
        return any(isinstance(side, Call) and leaf(side.func) == "F" for side in (value.left, value.right))

    def _augmented_increments(self, module: ModuleFacts, function: FunctionFact, where: Where, outer) -> List[Effect]:
        """`row.count += 1` on a model row: saved later, a repeated job counts twice."""
        found = []
        locals_ = function.local_values
        for target, operator, value, span, frames in function.augmented:
            if "." not in target or operator not in ("AddAssign", "SubtractAssign", "Add", "Subtract"):
                continue
            if isinstance(value, Const) and isinstance(value.value, (str, bytes)):
                continue  # appending text, not counting
            head, _, field = target.rpartition(".")
            bound = locals_.get(head)
            made = self.index.denote(bound.func, where) if isinstance(bound, Call) else None
            if made is not None and made.kind == "class" and not made.attrs:
                continue  # a new row being filled in, not a stored counter
            vtype = self.typer.of(Name(head, "local"), where)
            if vtype is not None and vtype[0] == "row":
                model = vtype[1].rsplit(".", 1)[-1]
                found.append(
                    Effect(
                        "increment",
                        f"{model}.{field} +=",
                        "field",
                        Location(module.path, span),
                        frames=(*outer, *frames),
                        scope=f"{module.module}:{function.qualname}",
                        path=(f"{module.module}:{function.qualname}",),
                    )
                )
        return found


# ---------------------------------------------------------------------- context


def _tests_presence(test: str, name: str) -> bool:
    """Whether an early exit fires when `name` holds something (`x is not None`, `x`, `len(x)`)
    rather than when it is missing (`x is None`, `not x`)."""
    words = " ".join(test.split())
    if re.search(rf"\bnot\s+{re.escape(name)}\b|\b{re.escape(name)}\s+is\s+None\b|\b{re.escape(name)}\s*==\s*None", words):
        return False
    return bool(re.search(rf"\b{re.escape(name)}\b", words))


def _chain_root(expr: Expr) -> Optional[Name]:
    """The name a chain of calls and attributes starts from: `data` in `data.get("a", {}).get("b")`."""
    for _ in range(20):
        if isinstance(expr, Call):
            expr = expr.func
        elif isinstance(expr, Attr):
            expr = expr.base
        else:
            break
    return expr if isinstance(expr, Name) else None


def _on_replica(call: Call) -> bool:
    """`atomic(using=...)` naming a read replica: "replica", "reader", "read_only"..."""
    using = dict(call.kwargs).get("using")
    if isinstance(using, Const) and isinstance(using.value, str):
        words = using.value
    elif isinstance(using, (Name, Attr)):
        words = leaf(using) or ""
    else:
        return False
    return bool(REPLICA_WORDS.search(words.lower()))


def transaction_frames(effect: Effect, analysis: EffectAnalysis) -> List[Frame]:
    """The frames of an effect that open a transaction (with-blocks and decorators)."""
    return [frame for frame in effect.frames if analysis.opens_in(frame)]


def guard_frames(effect: Effect) -> List[Frame]:
    return [frame for frame in effect.frames if frame.kind == "guard"]


def in_loop(effect: Effect) -> bool:
    return any(frame.kind == "loop" for frame in effect.frames)


def in_callback(effect: Effect) -> bool:
    return any(frame.kind == "callback" for frame in effect.frames)


def _constant_flags(call: Call, function: FunctionFact, where: Where) -> Dict[str, Expr]:
    """The value of each parameter a call fixes with a literal or a module constant (`Mode.UPDATE`),
    or leaves at such a default."""
    params = list(function.params)
    if function.class_qualname and params and params[0].name in ("self", "cls"):
        params = params[1:]
    flags: Dict[str, Expr] = {}
    for param, value in zip(params, call.args):
        if _fixed(value):
            flags[param.name] = value
    passed = dict(call.kwargs)
    for param in params:
        value = passed.get(param.name)
        if _fixed(value):
            flags[param.name] = value
        elif param.name not in passed and _fixed(param.default) and not call.star_kwargs:
            flags.setdefault(param.name, param.default)
    return flags


def _fixed(value: Optional[Expr]) -> bool:
    return isinstance(value, Const) or (isinstance(value, Name) and value.kind == "global" and "." in value.qname)


def _ruled_out(effect: Effect, scope: str, flags: Dict[str, Expr]) -> bool:
    for frame in effect.frames:
        if frame.kind == "branch" and frame.scope == scope:
            for name, wanted in zip(frame.names, frame.exprs):
                if name in flags and not _can_hold(flags[name], wanted):
                    return True  # the arm needs `name` to be `wanted`, the caller fixed it otherwise
    return False


def _can_hold(value: Expr, wanted: Expr) -> bool:
    """Whether an arm that needs `wanted` can run with the parameter fixed to `value`."""
    if isinstance(wanted, Collection) and wanted.kind in ("eq", "ne"):
        if not _fixed(wanted.items[0]):
            return True
        same = value == wanted.items[0]
        if isinstance(value, Name) and isinstance(wanted.items[0], Name) and not same:
            # two members of one enum differ; names from different places may be aliases
            same = None if value.qname.rsplit(".", 1)[0] != wanted.items[0].qname.rsplit(".", 1)[0] else False
        if same is None:
            return True
        return same if wanted.kind == "eq" else not same
    if isinstance(wanted, Const) and isinstance(value, Const):
        return bool(value.value) == wanted.value
    return True


def guards_of(effect: Effect, analysis: EffectAnalysis) -> List[Tuple[str, str]]:
    """What makes an effect safe to repeat (RULES.md reading 2): (kind, how it shows)."""
    found: List[Tuple[str, str]] = []
    if effect.keyed:
        found.append(("idempotency key", effect.api))
    if effect.detail == "upsert":
        found.append(("upsert", effect.api))
    for frame in effect.frames:
        if frame.kind == "guard" and analysis.reads_stored_state(frame):
            found.append(("dedupe check", f"if {frame.text}: exit"))
        elif frame.kind == "when" and _tests_absence(frame.text) and analysis.reads_stored_state(frame):
            found.append(("dedupe check", f"only if {frame.text}"))
        elif frame.kind == "try" and frame.text == "conflict" and effect.kind == "external":
            found.append(("dedupe check", "a repeat is refused with 409 Conflict, which the job treats as done"))
        elif frame.kind in ("except", "notfound") and _not_found_of_own_model(frame, effect):
            found.append(("dedupe check", "only when a lookup found no record (`except ...DoesNotExist`)"))
        elif frame.kind == "with" and any(analysis.is_lock(manager) for manager in frame.exprs):
            found.append(("lock", "with lock"))
        elif frame.kind == "with" and any(
            analysis.manager_checks_state(manager, analysis.scope_of(frame)) for manager in frame.exprs
        ):
            found.append(("dedupe check", "in the context manager"))
    path = effect.path or (effect.scope,)
    if any(analysis.locks_rows(scope) for scope in path):
        found.append(("row lock", "select_for_update()"))
    if any(analysis.claims_rows(scope) for scope in path):
        found.append(("claim", "rows selected by a field the job then updates"))
    return found


# names a deployment's configuration is read through (`settings.DELAY`, `config.PAUSE`)
CONFIG_NAMES = {"settings", "config", "conf", "CONFIG", "SETTINGS"}

# a handler for these runs only when the lookup in its `try` found no existing record
NOT_FOUND = {"DoesNotExist", "ObjectDoesNotExist", "NoResultFound"}


def _not_found_of_own_model(frame: Frame, effect: Effect) -> bool:
    """`except Receipt.DoesNotExist: Receipt.objects.create(...)`: the record is written only when
    looking it up found none (a lookup of another model is not a record of this work). In a
    method of the model, `cls.DoesNotExist` and `self.DoesNotExist` name the model too."""
    model = effect.api.split(".")[0]
    for handled in frame.exprs:
        split = split_method(handled)
        if split is None or split[1] not in NOT_FOUND:
            continue
        owner = split[0]
        if leaf(owner) == model or (_names_own_class(owner) and _class_of(frame.scope) == model):
            return True
    return False


def _bound(value: Optional[Expr], where: Where) -> Optional[Expr]:
    """What a local name is bound to in its function (first binding), else the value itself."""
    if isinstance(value, Name) and value.kind == "local" and where.function is not None:
        return where.function.local_values.get(value.qname)
    return value


def _primary_key_with_default(field: Expr) -> bool:
    """`models.UUIDField(primary_key=True, default=uuid.uuid4)`."""
    return (
        isinstance(field, Call)
        and field.kwarg("primary_key") == Const(True)
        and (field.kwarg("default") is not None or field.kwarg("db_default") is not None)
    )


def _names_own_class(expr: Expr) -> bool:
    return isinstance(expr, Name) and expr.kind == "local" and expr.qname in ("cls", "self")


def _class_of(scope: str) -> Optional[str]:
    """The class of a method's "module:Class.method" scope."""
    parts = scope.partition(":")[2].split(".")
    return parts[-2] if len(parts) >= 2 else None


def _tests_absence(text: str) -> bool:
    """`if not sent:`, `if existing is None:`, `if not X.objects.filter(...).exists():`: the arm runs
    only when no record of the work is found (a positive test such as `if order.paid:` is a
    precondition, not a dedupe check)."""
    if text.startswith("not (") and text.endswith(")"):
        # the else arm of `if latest and latest.recent:`: it runs when no such record was found
        return not _tests_absence(text[5:-1])
    return any(
        part.startswith(("not ", "not(")) or part.endswith((" is None", "== None", " == 0", "== False"))
        for part in text.split(" and ")  # `if channel is not None and not messages.exists():`
    )


def possibly_guarded(effect: Effect, analysis: EffectAnalysis) -> bool:
    """Whether an early exit before the effect tests more than the job's own arguments.

    The checks that claim "no guard" (JC101, JC102, JC301) stay silent then: measured on real
    projects, most such exits were dedupe checks written in ways a static reader cannot
    certify (timestamps, helper booleans, existence of a service lookup)."""
    return any(frame.kind == "guard" and not analysis.is_precondition(frame) for frame in effect.frames)
