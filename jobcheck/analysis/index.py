"""The project index: what a qualified name or an expression stands for, across modules.

`denote(expr, where)` answers "which object is this?" with a canonical dotted name:
a framework API ("celery.shared_task"), a member of an instance of a framework type
("celery.Celery.task" for `app.task` when `app = Celery(...)`), or a project definition
("proj.tasks.send_email"). Imports, re-exports, aliases, `partial`, module-level
assignments and function locals are followed; what cannot be resolved stays unresolved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from jobcheck.knowledge import Knowledge
from jobcheck.model import (
    AssignFact,
    Attr,
    Call,
    ClassFact,
    Const,
    Expr,
    FunctionFact,
    ModuleFacts,
    Name,
    Subscript,
)

MAX_RESOLVE_DEPTH = 12


@dataclass(frozen=True)
class Where:
    """The place an expression was written: its module and enclosing function."""

    module: ModuleFacts
    function: Optional[FunctionFact] = None


@dataclass(frozen=True)
class Target:
    """What an expression stands for.

    kind: "external" (a name outside the project, canonicalised), "instance" (a value
    whose type is known: `qname` is the type), "function", "class", "module" (project
    definitions), "value" (a module-level value we could not type; `expr` holds it).
    `attrs` are attribute accesses left over after the object.
    """

    kind: str
    qname: str
    attrs: Tuple[str, ...] = ()
    module: Optional[ModuleFacts] = None
    function: Optional[FunctionFact] = None
    cls: Optional[ClassFact] = None
    expr: Optional[Expr] = None
    bound: Tuple[Tuple[str, Expr], ...] = ()  # keywords bound by functools.partial
    origin: Optional[str] = None  # the module-level name a value was bound to
    receiver: Optional[Tuple[ModuleFacts, ClassFact]] = None  # the class a method was looked up on

    @property
    def canonical(self) -> str:
        return ".".join((self.qname, *self.attrs))

    def with_attrs(self, attrs: Iterable[str]) -> "Target":
        attrs = tuple(attrs)
        if not attrs:
            return self
        copy = object.__new__(Target)  # `replace` costs three times as much, on the resolver's hot path
        copy.__dict__.update(self.__dict__, attrs=(*self.attrs, *attrs))
        return copy


class ProjectIndex:
    """Facts of the modules read so far; others are read on demand through `loader`.

    `known` holds every module name of the project (from file paths, nothing read): a
    qualified name that falls into an unread module makes the loader parse it, so helper
    and settings modules cost only when something reaches them.
    """

    def __init__(
        self,
        modules: Iterable[ModuleFacts],
        knowledge: Knowledge,
        known: Iterable[str] = (),
        loader: Optional[Callable[[str], Optional[ModuleFacts]]] = None,
    ) -> None:
        self.knowledge = knowledge
        self.modules: Dict[str, ModuleFacts] = {}
        self.known: Set[str] = set(known)
        self.loader = loader
        self._functions: Dict[Tuple[str, str], FunctionFact] = {}
        self._classes: Dict[Tuple[str, str], ClassFact] = {}
        self._assigns: Dict[Tuple[str, str], AssignFact] = {}
        self._imports: Dict[str, Dict[str, str]] = {}
        self._resolved: Dict[str, Tuple[Target, int]] = {}  # qname -> (answer, levels it took)
        self._cut_short = 0  # answers the depth limit cut short (they are not kept)
        self._deepest = 0  # the deepest level the answer being computed has reached
        self._expanding: Set[Tuple[str, str]] = set()  # classes whose ancestors are being listed
        # Memos of name resolution. Loading a module on demand never changes an answer: every
        # project module is known from the start and lookups load what they need.
        self._module_of: Dict[str, Tuple[Optional[str], List[str]]] = {}
        self._ancestors: Dict[int, Tuple[ClassFact, Tuple[Target, ...]]] = {}  # top-level class_ancestors answers
        for facts in sorted(modules, key=lambda m: m.path):
            self.add(facts)
        self._scanned = list(self.modules.values())

    def add(self, facts: ModuleFacts) -> None:
        name = facts.module
        self.known.add(name)

        if facts.error is not None or name in self.modules:
            return
        self.modules[name] = facts
        for function in facts.functions:
            self._functions.setdefault((name, function.qualname), function)
        for cls in facts.classes:
            self._classes.setdefault((name, cls.qualname), cls)
        for assign in facts.assigns:
            if "." not in assign.target:
                # the first binding: later rebinding (`app = app` patterns) is rare
                self._assigns.setdefault((name, assign.target), assign)
        self._imports[name] = dict(facts.imports)

    def scanned(self) -> List[ModuleFacts]:
        """The modules selected for scanning (job-related); modules read later on demand
        serve name resolution only."""
        return self._scanned

    def frameworks_present(self) -> Set[str]:
        """The job frameworks the scanned modules import."""
        found = {self.knowledge.framework_of_module(q) for m in self._scanned for _, q in m.imports}
        return {f for f in found if f}

    def framework_modules(self) -> List[ModuleFacts]:
        """Scanned modules that import a job framework (where apps and brokers are made)."""
        return [m for m in self._scanned if any(self.knowledge.framework_of_module(q) for _, q in m.imports)]

    def submodules(self, package: str) -> List[str]:
        """The names of the project's modules directly inside `package`, loaded or not."""
        prefix = package + "."
        return sorted(n for n in {*self.known, *self.modules} if n.startswith(prefix) and "." not in n[len(prefix) :])

    def module(self, name: str) -> Optional[ModuleFacts]:
        facts = self.modules.get(name)
        if facts is None and name in self.known and self.loader is not None:
            self.known.discard(name)  # read once, even when it fails
            loaded = self.loader(name)
            if loaded is not None:
                self.add(loaded)
                facts = self.modules.get(name)
        return facts

    # ------------------------------------------------------------------ lookups

    def function(self, module: str, qualname: str) -> Optional[FunctionFact]:
        return self._functions.get((module, qualname))

    def cls(self, module: str, qualname: str) -> Optional[ClassFact]:
        return self._classes.get((module, qualname))

    def module_of(self, qname: str) -> Tuple[Optional[str], List[str]]:
        """The longest project module prefix of `qname`, and the remaining parts."""
        found = self._module_of.get(qname)
        if found is None:
            found = self._module_of[qname] = self._find_module_of(qname)
        return found[0], list(found[1])

    def _find_module_of(self, qname: str) -> Tuple[Optional[str], List[str]]:
        parts = qname.split(".")
        for cut in range(len(parts), 0, -1):
            candidate = ".".join(parts[:cut])
            if candidate in self.modules or self.module(candidate) is not None:
                return candidate, parts[cut:]
        return None, parts

    def resolve(self, qname: str, depth: int = 0) -> Target:
        """Follow a qualified name through project modules to what it names. An answer the depth
        limit did not cut short is kept with the levels it took, and reused wherever those levels
        fit under the limit: the same answer as computing it again, whatever was asked first."""
        known = self._resolved.get(qname)
        if known is not None and depth + known[1] <= MAX_RESOLVE_DEPTH:
            self._deepest = max(self._deepest, depth + known[1])
            return known[0]
        cut_short, deepest = self._cut_short, self._deepest
        self._deepest = depth
        found = self._resolve(qname, depth)
        reached, self._deepest = self._deepest, max(deepest, self._deepest)
        if self._cut_short == cut_short:
            self._resolved[qname] = (found, reached - depth)
        return found

    def _resolve(self, qname: str, depth: int) -> Target:
        self._deepest = max(self._deepest, depth)
        if depth > MAX_RESOLVE_DEPTH:
            self._cut_short += 1
            return Target("external", self.knowledge.canonical(qname))
        module_name, rest = self.module_of(qname)
        if module_name is None:
            return self._external(qname)
        facts = self.modules[module_name]
        if not rest:
            return Target("module", module_name, module=facts)
        head, tail = rest[0], rest[1:]
        # a class first, then its attribute chain (Class.method)
        cls = self._classes.get((module_name, head))
        while cls is not None and tail and (module_name, f"{cls.qualname}.{tail[0]}") in self._classes:
            cls = self._classes[(module_name, f"{cls.qualname}.{tail[0]}")]  # a nested class: `Outer.Meta`
            head, tail = cls.qualname, tail[1:]
        if cls is not None:
            found = self.find_method(facts, cls, tail[0]) if tail else None
            if found is not None:
                owner_module, method = found
                owner = method.class_qualname or head
                return Target(
                    "function",
                    f"{owner_module.module}.{owner}.{tail[0]}",
                    tuple(tail[1:]),
                    owner_module,
                    method,
                    self.cls(owner_module.module, owner),
                    receiver=(facts, cls),
                )
            return Target("class", f"{module_name}.{head}", tuple(tail), facts, cls=cls)
        function = self._functions.get((module_name, head))
        if function is not None:
            return Target("function", f"{module_name}.{head}", tuple(tail), facts, function)
        assign = self._assigns.get((module_name, head))
        if assign is not None:
            value = self._value(assign.value, Where(facts), depth + 1)
            if value.origin is None:
                value = replace(value, origin=f"{module_name}.{head}")
            return value.with_attrs(tail)
        imported = self._imports[module_name].get(head)
        if imported is not None and imported != f"{module_name}.{head}":
            return self.resolve(".".join((imported, *tail)), depth + 1)
        if facts.is_package:
            submodule = f"{module_name}.{head}"
            if self.module(submodule) is not None:
                return self.resolve(".".join((submodule, *tail)), depth + 1)
        for star in facts.star_imports:
            target = self.resolve(".".join((star, *rest)), depth + 1)
            if target.kind != "external" or not target.qname.startswith(star):
                return target
        return Target("external", self.knowledge.canonical(qname))

    def _external(self, qname: str) -> Target:
        canonical = self.knowledge.canonical(qname)
        if canonical.endswith("()"):
            return Target("instance", canonical[:-2])
        if "()." in canonical:
            type_name, _, rest = canonical.partition("().")
            return Target("instance", type_name, tuple(rest.split(".")))
        return Target("external", canonical)

    def _value(self, value: Expr, where: Where, depth: int) -> Target:
        """What a bound value is: the object it names, or an instance of what it calls."""
        self._deepest = max(self._deepest, depth)
        if depth > MAX_RESOLVE_DEPTH:
            self._cut_short += 1
            return Target("value", "", module=where.module, expr=value)
        if isinstance(value, Name):
            return self._name(value, where, depth)
        if isinstance(value, Call):
            return self.call_result(value, where, depth)
        if isinstance(value, Attr):
            return self._value(value.base, where, depth + 1).with_attrs([value.attr])
        return Target("value", "", module=where.module, expr=value)

    def call_result(self, call: Call, where: Where, depth: int = 0) -> Target:
        """The value a call returns, when the code shows its type."""
        self._deepest = max(self._deepest, depth)
        if depth > MAX_RESOLVE_DEPTH:
            self._cut_short += 1
            func = Target("value", "")
        else:
            func = self._value(call.func, where, depth + 1)
        if func.kind == "class" and not func.attrs:
            return Target("instance", func.qname, module=func.module, cls=func.cls)
        if func.kind == "external" and func.canonical == "typing.NewType" and len(call.args) == 2:
            return self._value(call.args[1], where, depth + 1)  # NewType("S", Base) stands for Base
        if func.kind == "external" and func.canonical == "functools.partial" and call.args:
            # partial(f, ...) stands for f with bound keywords
            inner = self._value(call.args[0], where, depth + 1)
            return replace(inner, bound=(*inner.bound, *call.kwargs))
        if func.kind == "external":
            produced = self.knowledge.factory_type(func.canonical)
            if produced:
                return Target("instance", produced, module=where.module, expr=call)
            if self.knowledge.is_type(func.canonical):
                return Target("instance", func.canonical, module=where.module, expr=call)
        if func.kind == "function" and not func.attrs and func.receiver is not None and self._returns_own_class(func):
            # `Repository.from_session(s)` returning `cls(s)` / `-> Self`: an instance of the class it was called on
            module, cls = func.receiver
            return Target("instance", f"{module.module}.{cls.qualname}", module=module, cls=cls)
        if func.kind == "function" and not func.attrs and func.function is not None and func.module is not None:
            for returned in func.function.returns:
                result = self._value(returned, Where(func.module, func.function), depth + 2)
                if result.kind == "instance":
                    return result
        return Target("value", "", module=where.module, expr=call)

    @staticmethod
    def _returns_own_class(func: Target) -> bool:
        function = func.function
        if function is None:
            return False
        annotation = function.return_annotation
        if isinstance(annotation, Name) and annotation.qname.rsplit(".", 1)[-1] == "Self":
            return True
        return any(
            isinstance(value, Call)
            and isinstance(value.func, Name)
            and value.func.qname == "cls"
            and value.func.kind == "local"
            for value in function.returns
        )

    def _name(self, name: Name, where: Where, depth: int) -> Target:
        if name.kind == "local":
            head, _, rest = name.qname.partition(".")
            attrs = tuple(rest.split(".")) if rest else ()
            if where.function is not None:
                bound = where.function.local_values.get(head)
                if bound is not None:
                    return self._value(bound, where, depth + 1).with_attrs(attrs)
                if head in ("self", "cls") and where.function.class_qualname:
                    cls = self.cls(where.module.module, where.function.class_qualname)
                    if cls is not None:
                        qname = f"{where.module.module}.{cls.qualname}"
                        found = self.find_method(where.module, cls, attrs[0]) if attrs else None
                        if found is not None:
                            module, method = found
                            owner = method.class_qualname or cls.qualname
                            return Target(
                                "function",
                                f"{module.module}.{owner}.{attrs[0]}",
                                attrs[1:],
                                module,
                                method,
                                self.cls(module.module, owner),
                                receiver=(where.module, cls),
                            )
                        kind = "class" if head == "cls" and not attrs else "instance"
                        return Target(kind, qname, attrs, where.module, cls=cls)
            return Target("value", name.qname, module=where.module, expr=name)
        if name.kind == "builtin":
            return Target("external", name.qname)
        return self.resolve(name.qname, depth + 1)

    def denote(self, expr: Expr, where: Where) -> Target:
        return self._value(expr, where, 0)

    # ------------------------------------------------------------------ classes

    def class_ancestors(self, cls: ClassFact, module: ModuleFacts, depth: int = 0) -> List[Target]:
        """Every base of `cls`, transitively: project classes and external names."""
        result: List[Target] = []
        key = (module.module, cls.qualname)
        if depth > MAX_RESOLVE_DEPTH or key in self._expanding:
            return result  # (`class A(A.run)`: a base that names the class itself)
        if not self._expanding:  # a whole answer, not one cut by an expansion in progress
            # (by the class itself: a module may define two classes of one name, `try: class A(B)`...)
            known = self._ancestors.get(id(cls))
            if known is None or known[0] is not cls:
                known = self._ancestors[id(cls)] = (cls, tuple(self._list_ancestors(cls, module, key, depth)))
            return list(known[1])
        return self._list_ancestors(cls, module, key, depth)

    def _list_ancestors(self, cls: ClassFact, module: ModuleFacts, key: Tuple[str, str], depth: int) -> List[Target]:
        result: List[Target] = []
        self._expanding.add(key)
        try:
            for base in cls.bases:
                if isinstance(base, Subscript):  # a generic base: `Repository[Order]`
                    base = base.base
                target = self.denote(base, Where(module))
                result.append(target)
                if target.kind == "class" and not target.attrs and target.cls is not None and target.module is not None:
                    result.extend(self.class_ancestors(target.cls, target.module, depth + 1))
        finally:
            self._expanding.discard(key)
        return result

    def find_method(self, module: ModuleFacts, cls: ClassFact, name: str) -> Optional[Tuple[ModuleFacts, FunctionFact]]:
        """A method of a project class, looked up through its project base classes."""
        function = self.function(module.module, f"{cls.qualname}.{name}")
        if function is not None:
            return module, function
        for ancestor in self.class_ancestors(cls, module):
            if ancestor.kind == "class" and ancestor.cls is not None and ancestor.module is not None:
                function = self.function(ancestor.module.module, f"{ancestor.cls.qualname}.{name}")
                if function is not None:
                    return ancestor.module, function
        return None

    def function_of(self, target: Target, constructors: bool = False) -> Optional[Tuple[ModuleFacts, FunctionFact]]:
        """The project function a call on this target runs: a function, a method looked up on an
        instance (`self.helper()`, `Service(...).run()`), or with `constructors` a class's `__init__`."""
        if target.module is None:
            return None
        if target.kind == "function" and not target.attrs and target.function is not None:
            return target.module, target.function
        if target.kind == "instance" and target.cls is not None and len(target.attrs) == 1:
            return self.find_method(target.module, target.cls, target.attrs[0])
        if constructors and target.kind == "class" and not target.attrs and target.cls is not None:
            init = self.function(target.module.module, f"{target.cls.qualname}.__init__")
            return (target.module, init) if init is not None else None
        return None

    def instance_types(self, target: Target) -> List[str]:
        """Canonical names an instance target is an instance of (project class, then bases)."""
        if target.kind != "instance":
            return []
        names = [target.qname]
        if target.cls is not None and target.module is not None:
            names.extend(t.canonical for t in self.class_ancestors(target.cls, target.module))
        return names

    def member_names(self, target: Target) -> List[str]:
        """Canonical names a target may be known by: `app.task` -> ["proj.App.task", "celery.Celery.task"]."""
        if target.kind == "instance":
            suffix = ".".join(target.attrs)
            return [f"{name}.{suffix}" if suffix else name for name in self.instance_types(target)]
        return [target.canonical]


def literal(expr: Optional[Expr]) -> object:
    """The Python value of a literal expression, or None."""
    return expr.value if isinstance(expr, Const) else None
