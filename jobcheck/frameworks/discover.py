"""Find task definitions, project wrappers and enqueue sites, for every framework.

The names come from rules/knowledge/frameworks.yaml; this module only says how they are
used: as decorators (plain, called, or through a project wrapper), as base classes, and
as methods that send a job.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, Optional, Tuple

from jobcheck.analysis.index import ProjectIndex, Target, Where
from jobcheck.model import (
    Call,
    CallFact,
    ClassFact,
    Const,
    Expr,
    FunctionFact,
    Location,
    ModuleFacts,
    Name,
    OptionValue,
    Param,
    Span,
    Unknown,
    leaf,
    split_method,
)

UNKNOWN = Unknown("computed")


@dataclass(frozen=True)
class DecoratorUse:
    """A decorator that makes a task, with the keywords that apply to the task."""

    framework: str
    api: str  # the canonical framework decorator in the end
    written: str  # how the decorator is spelled at the use site (e.g. "tasks.task")
    args: Tuple[Expr, ...]
    options: Tuple[Tuple[str, OptionValue], ...]
    owner: Optional[Target] = None  # the app/huey/queue instance the decorator belongs to


@dataclass(frozen=True)
class Wrapper:
    """A project function that applies a framework task decorator to what it decorates."""

    framework: str
    api: str
    function: FunctionFact
    module: ModuleFacts
    inner: Call  # the framework decorator call inside the wrapper
    owner: Optional[Target] = None
    is_class: bool = False  # a subclass of a decorator class takes the same keywords


@dataclass
class TaskDef:
    framework: str
    module: ModuleFacts
    name_span: Span
    qualname: str  # module-relative
    how: str
    api: str
    function: Optional[FunctionFact] = None
    cls: Optional[ClassFact] = None
    decorator: Optional[DecoratorUse] = None
    enqueued_at: List[Location] = field(default_factory=list)
    decorator_span: Optional[Span] = None  # the decorator line (periodic tasks report there)


def written(expr: Expr) -> str:
    if isinstance(expr, Call):
        return written(expr.func)
    if isinstance(expr, Name):
        return expr.qname.rsplit(".", 2)[-1] if expr.kind == "global" else expr.qname
    return type(expr).__name__


class Discovery:
    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self.knowledge = index.knowledge
        self.wrappers: Dict[Tuple[str, str], Wrapper] = {}
        self._calls_by_scope: Dict[str, Dict[str, List[CallFact]]] = {}
        self._nested: Dict[str, Dict[str, List[FunctionFact]]] = {}
        # resolving a name may read a module: only names that can matter are resolved
        self.decorator_leaves = {
            name.rsplit(".", 1)[-1]
            for name in (
                *self.knowledge.decorator_names(),
                *(n for spec in self.knowledge.frameworks.values() for n in spec.get("decorator_classes", ())),
            )
        }
        self.task_method_leaves = {"delay", "apply_async", "s", "si", "signature"} | {
            name for spec in self.knowledge.frameworks.values() for name in spec.get("enqueue_methods", ())
        } - {"enqueue", "enqueue_call", "enqueue_in", "enqueue_at", "enqueue_many"}
        self._task_names: set = set()
        self._huey_task_names: set = set()
        self._declared_leaves = {name.rsplit(".", 1)[-1] for name in self.knowledge.enqueue_functions}
        self.enqueue_wrappers: Dict[Tuple[str, str], EnqueueWrapper] = {}
        # only the APIs of frameworks the project imports (`broker.enqueue` is not RQ's)
        present = index.frameworks_present()
        self.enqueue_leaves = {"delay", "apply_async", "s", "si", "signature"} | {
            name.rsplit(".", 1)[-1]
            for framework, spec in self.knowledge.frameworks.items()
            if framework in present
            for key in ("enqueue_methods", "send_task", "module_enqueue")
            for name in spec.get(key, ())
        }
        if "rq" in present:
            self.enqueue_leaves.add("create")  # Job.create

    # ------------------------------------------------------------------ decorators

    def framework_decorator(self, target: Target) -> Optional[Tuple[str, str]]:
        for name in self.index.member_names(target):
            framework = self.knowledge.decorator_framework(name)
            if framework:
                return framework, name
        return None

    def classify_decorator(self, expr: Expr, where: Where) -> Optional[DecoratorUse]:
        call = expr if isinstance(expr, Call) else None
        func = call.func if call is not None else expr
        target = self.index.denote(func, where)
        site_kwargs = dict(target.bound)
        if call is not None:
            site_kwargs.update(call.kwargs)
        args = call.args if call is not None else ()
        found = self.framework_decorator(target)
        if found is not None:
            framework, api = found
            options = tuple((k, self._option(v, "decorator", where, call)) for k, v in site_kwargs.items())
            owner = target if target.kind == "instance" else None
            return DecoratorUse(framework, api, written(func), args, options, owner)
        wrapper = self.wrapper_for(target)
        if wrapper is not None:
            options = self._wrapper_options(wrapper, site_kwargs, where, call)
            return DecoratorUse(wrapper.framework, wrapper.api, written(func), args, options, wrapper.owner)
        if call is None and target.kind == "value" and isinstance(target.expr, Call) and target.module is not None:
            # a configured decorator kept in a name: `retrying_task = shared_task(autoretry_for=...)`
            made = self.classify_decorator(target.expr, Where(target.module))
            if made is not None:
                return replace(made, written=written(func))
        return None

    def _option(self, value: Expr, source: str, where: Where, call: Optional[Call]) -> OptionValue:
        location = Location(where.module.path, call.span) if call is not None else None
        resolved = self.constant(value, where)
        return OptionValue(resolved, source, location)

    def constant(self, value: Expr, where: Where) -> object:
        """A literal value, following module-level constants (QUEUE = "high")."""
        if isinstance(value, Const):
            return value.value
        if isinstance(value, Name) and value.kind == "global":
            target = self.index.resolve(value.qname)
            if target.kind == "value" and isinstance(target.expr, Const) and not target.attrs:
                return target.expr.value
            if target.kind == "class" and target.attrs and target.cls is not None:
                # Enum-like constant: TaskQueue.HIGH = "high"
                for name, expr, _ in target.cls.attrs:
                    if (name,) == target.attrs and isinstance(expr, Const):
                        return expr.value
        return value

    # ------------------------------------------------------------------ wrappers

    def wrapper_for(self, target: Target) -> Optional[Wrapper]:
        if target.kind == "function" and target.function is not None and target.module is not None and not target.attrs:
            return self.wrappers.get((target.module.module, target.function.qualname))
        if target.kind == "class" and target.cls is not None and target.module is not None and not target.attrs:
            return self.wrappers.get((target.module.module, target.cls.qualname))
        return None

    def find_wrappers(self) -> None:
        """Project functions that apply a task decorator, and classes that extend one (to a fixpoint)."""
        for _ in range(4):
            changed = False
            for module in self.index.scanned():
                for function in module.functions:
                    key = (module.module, function.qualname)
                    if key in self.wrappers or function.parent is not None or function.class_qualname is not None:
                        continue
                    wrapper = self._wrapper_function(module, function)
                    if wrapper is not None:
                        self.wrappers[key] = wrapper
                        self.decorator_leaves.add(function.name)
                        changed = True
                for cls in module.classes:
                    key = (module.module, cls.qualname)
                    if key in self.wrappers:
                        continue
                    wrapper = self._wrapper_class(module, cls)
                    if wrapper is not None:
                        self.wrappers[key] = wrapper
                        self.decorator_leaves.add(cls.name)
                        changed = True
            if not changed:
                break

    def _functions_within(self, module: ModuleFacts, qualname: str) -> List[FunctionFact]:
        """A top-level function and the functions nested in it."""
        table = self._nested.get(module.module)
        if table is None:
            table = self._nested[module.module] = {}
            for function in module.functions:
                table.setdefault(function.qualname.split(".")[0], []).append(function)
        top = qualname.split(".")[0]
        return [f for f in table.get(top, ()) if f.qualname == qualname or f.qualname.startswith(qualname + ".")]

    def _scopes_within(self, module: ModuleFacts, qualname: str) -> Iterator[Tuple[FunctionFact, CallFact]]:
        for function in self._functions_within(module, qualname):
            for fact in self._calls_in(module).get(function.qualname, ()):
                yield function, fact

    def _calls_in(self, module: ModuleFacts) -> Dict[str, List[CallFact]]:
        table = self._calls_by_scope.get(module.module)
        if table is None:
            table = self._calls_by_scope[module.module] = {}
            for fact in module.calls:
                table.setdefault(fact.scope, []).append(fact)
        return table

    def _wrapper_function(self, module: ModuleFacts, function: FunctionFact) -> Optional[Wrapper]:
        imports_framework = {self.knowledge.framework_of_module(q) for _, q in module.imports} - {None}
        for inner_function, fact in self._scopes_within(module, function.qualname):
            if leaf(fact.call.func) not in self.decorator_leaves:
                continue
            where = Where(module, inner_function)
            target = self.index.denote(fact.call.func, where)
            found = self.framework_decorator(target)
            if found is not None:
                return Wrapper(
                    found[0], found[1], function, module, fact.call, target if target.kind == "instance" else None
                )
            inner = self.wrapper_for(target)
            if inner is not None:
                return Wrapper(inner.framework, inner.api, function, module, fact.call, inner.owner)
            # `registry["celery.app"].task(**kwargs)(wrapped)` in a module importing celery:
            # the receiver cannot be typed statically, the shape and the import tell.
            if (
                target.kind == "value"
                and target.attrs == ("task",)
                and "celery" in imports_framework
                and fact.call.star_kwargs
            ):
                return Wrapper("celery", "celery.Celery.task", function, module, fact.call)
        return None

    def _wrapper_class(self, module: ModuleFacts, cls: ClassFact) -> Optional[Wrapper]:
        call = self.index.function(module.module, f"{cls.qualname}.__call__")
        if call is not None:
            # a decorator class: `@retryable_task(name=..., max_retries=10)` whose __call__ applies
            # `shared_task(*self.args, **self.kwargs)` to the function
            found = self._wrapper_function(module, call)
            if found is not None:
                return found
        for ancestor in self.index.class_ancestors(cls, module):
            framework = self.knowledge.decorator_framework(ancestor.canonical)
            if framework and ancestor.canonical in self.knowledge.names(framework, "decorator_classes"):
                return Wrapper(
                    framework,
                    ancestor.canonical,
                    FunctionFact(cls.qualname, cls.name, cls.span),
                    module,
                    Call(Name(ancestor.canonical)),
                    is_class=True,
                )
        return None

    def _wrapper_options(
        self, wrapper: Wrapper, site_kwargs: Dict[str, Expr], where: Where, call: Optional[Call]
    ) -> Tuple[Tuple[str, OptionValue], ...]:
        """Options a wrapper passes to the framework: its own keywords, and the use site's."""
        inner_where = Where(wrapper.module, wrapper.function)
        params: Dict[str, Param] = {}
        for function in self._functions_within(wrapper.module, wrapper.function.qualname):
            for param in function.params:
                params.setdefault(param.name, param)
        reassigned = {name for name, _ in wrapper.function.locals}
        wrapper_location = Location(wrapper.module.path, wrapper.inner.span)
        site_location = Location(where.module.path, call.span) if call is not None else None
        options: Dict[str, OptionValue] = {}
        for key, value in wrapper.inner.kwargs:
            if isinstance(value, Name) and value.kind == "local" and value.qname in params:
                param = params[value.qname]
                if value.qname in reassigned:
                    options[key] = OptionValue(
                        UNKNOWN, f"computed by wrapper {wrapper.function.name}", wrapper_location
                    )
                elif value.qname in site_kwargs:
                    options[key] = OptionValue(
                        self.constant(site_kwargs[value.qname], where), "decorator", site_location
                    )
                elif param.default is not None:
                    options[key] = OptionValue(
                        self.constant(param.default, inner_where),
                        f"default of wrapper {wrapper.function.name}",
                        wrapper_location,
                    )
            else:
                options[key] = OptionValue(
                    self.constant(value, inner_where), f"wrapper {wrapper.function.name}", wrapper_location
                )
        named = {p for p, param in params.items() if param.kind in ("positional", "keyword")}
        if wrapper.inner.star_kwargs or wrapper.is_class:
            for key, value in site_kwargs.items():
                if key not in named or key in dict(wrapper.inner.kwargs):
                    options.setdefault(key, OptionValue(self.constant(value, where), "decorator", site_location))
        return tuple(options.items())

    # ------------------------------------------------------------------ definitions

    def task_definitions(self) -> List[TaskDef]:
        tasks: List[TaskDef] = []
        for module in self.index.scanned():
            functions = {f.qualname: f for f in module.functions}
            for function in module.functions:
                where = Where(module, functions.get(function.parent) if function.parent else None)
                for decorator, text, span in zip(
                    function.decorators, function.decorator_texts, function.decorator_spans
                ):
                    use = self.classify_decorator(decorator, where)
                    if use is not None:
                        tasks.append(
                            TaskDef(
                                use.framework,
                                module,
                                function.span,
                                function.qualname,
                                "@" + text,
                                use.api,
                                function=function,
                                decorator=use,
                                decorator_span=span,
                            )
                        )
                        break
            for cls in module.classes:
                found = self._class_task(module, cls)
                if found is not None:
                    framework, api = found
                    tasks.append(TaskDef(framework, module, cls.span, cls.qualname, f"subclass of {api}", api, cls=cls))
        return tasks

    def task_base_classes(self) -> List[Tuple[ModuleFacts, ClassFact]]:
        """Project classes deriving from a framework task class (abstract bases included)."""
        found = []
        bases = {name for spec in self.knowledge.frameworks.values() for name in spec.get("task_base_classes", ())}
        for module in self.index.framework_modules():
            for cls in module.classes:
                if any(a.canonical in bases for a in self.index.class_ancestors(cls, module)):
                    found.append((module, cls))
        return found

    def _class_task(self, module: ModuleFacts, cls: ClassFact) -> Optional[Tuple[str, str]]:
        if (module.module, cls.qualname) in self.wrappers:
            return None
        attrs = {name: expr for name, expr, _ in cls.attrs}
        if isinstance(attrs.get("abstract"), Const) and attrs["abstract"].value is True:
            return None
        meta = self.index.cls(module.module, f"{cls.qualname}.Meta")
        if meta is not None and any(n == "abstract" and isinstance(e, Const) and e.value for n, e, _ in meta.attrs):
            return None
        for ancestor in self.index.class_ancestors(cls, module):
            for framework, spec in self.knowledge.frameworks.items():
                if ancestor.canonical in spec.get("task_base_classes", ()) and spec.get("task_method") in cls.methods:
                    return framework, ancestor.canonical
        return None

    # ------------------------------------------------------------------ enqueue sites

    def enqueue_sites(self, tasks: List[TaskDef]) -> List[Tuple["SiteDraft", Optional[TaskDef]]]:
        """Every call that sends a job, with the task it sends when that is known.

        Functions that RQ enqueues by reference or dotted path become tasks here.
        """
        by_qname: Dict[str, TaskDef] = {f"{t.module.module}.{t.qualname}": t for t in tasks}
        self._task_names = {t.qualname.rsplit(".", 1)[-1] for t in tasks}
        self._huey_task_names = {t.qualname.rsplit(".", 1)[-1] for t in tasks if t.framework == "huey"}
        found: List[Tuple[SiteDraft, Optional[TaskDef]]] = []
        for _ in range(4):  # until no new enqueue wrapper turns up
            known_wrappers = len(self.enqueue_wrappers)
            found = []
            for module in self.index.scanned():
                functions = {f.qualname: f for f in module.functions}
                for fact in module.calls:
                    where = Where(module, functions.get(fact.scope))
                    site = self._site(fact.call, where, by_qname, tasks)
                    if site is not None:
                        found.append(site)
            if len(self.enqueue_wrappers) == known_wrappers:
                break
        return found

    def _enqueued_param(self, func: Optional[Expr], where: Where) -> Optional[int]:
        """The parameter of the enclosing function that is the job being sent, if any."""
        if not isinstance(func, Name) or func.kind != "local" or "." in func.qname or where.function is None:
            return None
        for position, param in enumerate(where.function.params):
            if param.name == func.qname:
                return position
        return None

    def _record_enqueue_wrapper(self, func: Optional[Expr], where: Where, queue: Optional[Target]) -> None:
        position = self._enqueued_param(func, where)
        if position is not None and where.function is not None:
            key = (where.module.module, where.function.qualname)
            if key not in self.enqueue_wrappers:
                self.enqueue_wrappers[key] = EnqueueWrapper(
                    where.function.params[position].name, position, queue, where
                )
                self.enqueue_leaves.add(where.function.name)

    def _wrapped_enqueue(self, call: Call, where: Where, by_qname: Dict[str, TaskDef], tasks: List[TaskDef]):
        """A call to a project function that enqueues its argument (`enqueue_job(func, ...)`)."""
        target = self.index.denote(call.func, where)
        if target.kind != "function" or target.attrs or target.function is None or target.module is None:
            return None
        wrapper = self.enqueue_wrappers.get((target.module.module, target.function.qualname))
        if wrapper is None:
            return None
        name, position = wrapper.param, wrapper.position
        bound_method = (
            target.function.class_qualname is not None
            and target.function.params[:1]
            and target.function.params[0].name in ("self", "cls")
        )
        index = position - 1 if bound_method else position
        func = call.kwarg(name) or (call.args[index] if 0 <= index < len(call.args) else None)
        self._record_enqueue_wrapper(func, where, wrapper.queue)
        draft = SiteDraft(
            "rq", target.function.name, call, where, queue_target=wrapper.queue, queue_where=wrapper.where
        )
        return draft, self._rq_task(func, where, by_qname, tasks, call)

    def _declared_enqueue(self, call: Call, where: Where, tasks: List[TaskDef]):
        """A call to a function the user declared in `enqueue-functions`: the first argument is the job."""
        declared = self.knowledge.enqueue_functions
        if not declared or leaf(call.func) not in self._declared_leaves:
            return None
        target = self.index.denote(call.func, where)
        framework = declared.get(target.canonical)
        if framework is None:
            return None
        job = call.args[0] if call.args else None
        name = self.constant(job, where) if job is not None else None
        task = self._task_named(name, tasks) if isinstance(name, str) else None
        if task is None and job is not None and not isinstance(name, str):
            found = self.index.denote(job, where)
            task = next((t for t in tasks if f"{t.module.module}.{t.qualname}" == found.qname), None)
        return SiteDraft(framework, leaf(call.func) or "enqueue", call, where, task_name=name), task

    @staticmethod
    def _task_named(name: str, tasks: List[TaskDef]) -> Optional[TaskDef]:
        for task in tasks:
            options = dict(task.decorator.options) if task.decorator else {}
            explicit = options.get("name") or options.get("actor_name")
            if (explicit is not None and explicit.value == name) or name in (
                task.qualname,
                f"{task.module.module}.{task.qualname}",
            ):
                return task
        return None

    def _enqueue_wrapper_names(self) -> set:
        return {qualname.rsplit(".", 1)[-1] for _, qualname in self.enqueue_wrappers}

    def _may_enqueue(self, func: Expr) -> bool:
        """A cheap test on names before anything is resolved (resolving may read modules)."""
        name = leaf(func)
        if name in self._huey_task_names:  # calling a Huey task enqueues it
            return True
        if name not in self.enqueue_leaves:
            return False
        split = split_method(func)
        receiver = leaf(split[0]) if split else None
        if isinstance(split[0] if split else None, Call):
            receiver = leaf(split[0].func)
        if name in self._enqueue_wrapper_names():
            return True
        if name in self.task_method_leaves:
            return receiver in self._task_names or receiver in ("s", "si", "signature")
        if name == "create":
            return receiver == "Job"
        return True

    def _task_of(self, expr: Expr, where: Where, by_qname: Dict[str, TaskDef]) -> Optional[TaskDef]:
        if isinstance(expr, Call):  # task.s(...), task.signature(...)
            split = split_method(expr.func)
            if split is not None and split[1] in ("s", "si", "signature", "message"):
                return self._task_of(split[0], where, by_qname)
            return None
        target = self.index.denote(expr, where)
        if target.kind in ("function", "class") and not target.attrs:
            return by_qname.get(target.qname)
        return None

    def _site(
        self, call: Call, where: Where, by_qname: Dict[str, TaskDef], tasks: List[TaskDef]
    ) -> Optional[Tuple["SiteDraft", Optional[TaskDef]]]:
        if leaf(call.func) == "partial" and call.args and self._may_enqueue(call.args[0]):
            # partial(queue.enqueue, func, ...) / partial(task.delay, ...): sent when called
            if self.index.denote(call.func, where).canonical == "functools.partial":
                deferred = Call(call.args[0], call.args[1:], call.kwargs, call.star_args, call.star_kwargs, call.span)
                return self._site(deferred, where, by_qname, tasks)
        declared = self._declared_enqueue(call, where, tasks)
        if declared is not None:
            return declared
        if not self._may_enqueue(call.func):
            return None
        if leaf(call.func) in self._enqueue_wrapper_names():
            wrapped = self._wrapped_enqueue(call, where, by_qname, tasks)
            if wrapped is not None:
                return wrapped
        # calling a Huey task enqueues it
        target = self.index.denote(call.func, where)
        if target.kind == "function" and not target.attrs:
            task = by_qname.get(target.qname)
            if task is not None and task.framework == "huey":
                return SiteDraft("huey", "call", call, where), task
        split = split_method(call.func)
        if split is None:
            return None
        receiver, method = split
        task = self._task_of(receiver, where, by_qname)
        if task is not None:
            spec = self.knowledge.spec(task.framework)
            if method in spec.get("enqueue_methods", ()) or method in ("delay", "apply_async"):
                return SiteDraft(task.framework, method, call, where), task
            return None
        names = self.index.member_names(target)
        if any(n in self.knowledge.names("celery", "send_task") for n in names):
            return SiteDraft(
                "celery", method, call, where, task_name=self.constant(call.args[0], where) if call.args else None
            ), None
        rq = self.knowledge.spec("rq")
        is_queue = any(n.rsplit(".", 1)[0] in rq["queue_types"] for n in names) or any(
            n in rq["module_enqueue"] for n in names
        )
        if (is_queue and method in rq["enqueue_methods"]) or any(n in rq["job_create"] for n in names):
            func = call.kwarg("func") or (call.args[0] if call.args else None)
            if method in ("enqueue_in", "enqueue_at") and len(call.args) > 1:
                func = call.args[1]
            self._record_enqueue_wrapper(func, where, target)
            return SiteDraft("rq", method, call, where, queue_target=target), self._rq_task(
                func, where, by_qname, tasks, call
            )
        return None

    def _rq_task(
        self, func: Optional[Expr], where: Where, by_qname: Dict[str, TaskDef], tasks: List[TaskDef], call: Call
    ) -> Optional[TaskDef]:
        if func is None:
            return None
        value = self.constant(func, where)
        target = self.index.resolve(value) if isinstance(value, str) else self.index.denote(func, where)
        if target.kind != "function" or target.attrs or target.function is None or target.module is None:
            return None
        task = by_qname.get(target.qname)
        if task is None:
            task = TaskDef(
                "rq",
                target.module,
                target.function.span,
                target.function.qualname,
                "enqueued",
                "rq.Queue.enqueue",
                function=target.function,
            )
            by_qname[target.qname] = task
            tasks.append(task)
        task.enqueued_at.append(Location(where.module.path, call.span))
        return task


@dataclass
class SiteDraft:
    framework: str
    api: str
    call: Call
    where: Where
    task_name: object = None
    queue_target: Optional[Target] = None
    queue_where: Optional[Where] = None  # where the queue expression was written, if elsewhere


@dataclass(frozen=True)
class EnqueueWrapper:
    """A project function that enqueues one of its parameters (`enqueue_job(func, ...)`)."""

    param: str
    position: int
    queue: Optional[Target]
    where: Where
