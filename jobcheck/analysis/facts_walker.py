"""What the two readings of a module share: scopes, name resolution, and the facts they
collect. `extract` walks libcst's tree, `extract_ast` CPython's `ast`; each supplies the
node access (the hooks at the end of `FactsWalker`) and both give identical facts.

Names are resolved with the module's own import and definition table (no libcst
metadata providers): `shared_task` imported from `celery` becomes `celery.shared_task`,
a function-local name stays local. Nothing here imports libcst.
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from jobcheck.model import (
    AssignFact,
    BinOp,
    Call,
    CallFact,
    ClassFact,
    Collection,
    Const,
    Expr,
    Frame,
    FunctionFact,
    ModuleFacts,
    Name,
    Param,
    Subscript,
    SyntaxErrorFact,
    Unknown,
)

MAX_EXPR_DEPTH = 40
BUILTINS = frozenset(dir(builtins))
DEVELOPMENT_SWITCHES = {"DEBUG", "TESTING", "TEST", "IS_TESTING", "DEVELOPMENT", "LOCAL"}
CONFLICT_NAMES = {"CONFLICT", "HTTP_409_CONFLICT", "HTTPConflict", "Conflict"}


class Scope:
    def __init__(self, qualname: str, kind: str, local_names: Set[str]) -> None:
        self.qualname = qualname
        self.kind = kind  # "function" or "class"
        self.local_names = local_names
        self.locals: Dict[str, Expr] = {}
        self.rebound: Set[str] = set()
        self.returns: List[Expr] = []
        self.raises: List[Tuple[Expr, Any, Tuple[Frame, ...]]] = []
        self.handlers: List[Tuple[Tuple[Expr, ...], Any]] = []
        self.handler_returns: List[Any] = []
        self.attr_assigns: List[Tuple[str, Expr, Any, Tuple[Frame, ...]]] = []


class RawParam:
    """A parameter before its default and annotation become expressions."""

    def __init__(self, name: str, kind: str, default: Any, annotation: Any) -> None:
        self.name, self.kind, self.default, self.annotation = name, kind, default, annotation


def opposite(wanted: Expr) -> Expr:
    """What the else arm needs: the other truth value, or anything but the compared value."""
    if isinstance(wanted, Collection):
        return Collection("ne", wanted.items)
    return Const(not wanted.value)


def negated(test: str) -> str:
    """The condition under which an `else` arm runs, as text: `not (a and b)`, `sent` for `not sent`."""
    if test.startswith("not ") and " and " not in test and " or " not in test:
        return test[4:]
    return f"not ({test})"


def fold_binary(operator: str, left: Expr, right: Expr) -> Expr:
    """`a <operator> b` (libcst's operator names), computed when both sides are constants."""
    if not (isinstance(left, Const) and isinstance(right, Const)):
        return BinOp(operator, left, right)
    a, b = left.value, right.value
    try:
        if operator == "Add" and type(a) is type(b) and isinstance(a, (int, float, str)):
            return Const(a + b)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        if numeric and operator == "Multiply":
            return Const(a * b)
        if numeric and operator == "Subtract":
            return Const(a - b)
        if numeric and operator == "Divide" and b:
            return Const(a / b)
        if numeric and operator == "FloorDivide" and b:
            return Const(a // b)
        if numeric and operator == "Power" and abs(b) < 64:
            return Const(a**b)
    except Exception:
        pass
    return Unknown("binary")


def negative(inner: Expr) -> Expr:
    """`-x`: a negative number when `x` is one, else unknown."""
    if isinstance(inner, Const) and isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
        return Const(-inner.value)
    return Unknown("unary")


def collection(kind: str, items: Tuple[Expr, ...], starred: bool) -> Expr:
    """A list, tuple or set display: a constant when every item is one."""
    if all(isinstance(i, Const) for i in items) and not starred:
        values = tuple(i.value for i in items)
        return Const(list(values) if kind == "list" else values if kind == "tuple" else frozenset(values))
    return Collection(kind, items)


def dictionary(keys: List[Expr], values: List[Expr]) -> Expr:
    if all(isinstance(k, Const) for k in keys) and all(isinstance(v, Const) for v in values):
        try:
            return Const({k.value: v.value for k, v in zip(keys, values)})
        except TypeError:
            pass
    return Collection("dict", tuple(values), tuple(keys))


def dotted_name(parts: List[str], resolve) -> Expr:
    if len(parts) == 1 and parts[0] in ("True", "False", "None"):
        return Const({"True": True, "False": False, "None": None}[parts[0]])
    head = resolve(parts[0])
    return Name(".".join([head.qname, *parts[1:]]), head.kind)


class FactsWalker:
    """The state of one walk over a module, and what does not depend on the tree's shape."""

    def __init__(self, module_name: str, is_package: bool) -> None:
        self.module_name = module_name
        self.package = module_name if is_package else module_name.rpartition(".")[0]
        self.imports: Dict[str, str] = {}
        self.star_imports: List[str] = []
        self.module_names: Set[str] = set()
        self.assigns: List[AssignFact] = []
        self.functions: List[FunctionFact] = []
        self.classes: List[ClassFact] = []
        self.calls: List[Any] = []
        self.dict_keys: List[Tuple[str, Any]] = []
        self.managed: List[Any] = []
        self.scopes: List[Scope] = []
        self._augmented: Dict[str, List[Any]] = {}
        self.frames: List[Frame] = []
        self._calls: List[Any] = []  # the calls being walked, innermost last
        self._awaited: Any = None
        self._function_stack: List[Tuple[Any, FunctionFact]] = []
        self._class_stack: List[Tuple[Any, Dict[str, Any]]] = []

    def module_facts(self, path: str, is_package: bool) -> ModuleFacts:
        return ModuleFacts(
            path=path,
            module=self.module_name,
            is_package=is_package,
            imports=tuple(self.imports.items()),
            star_imports=tuple(self.star_imports),
            assigns=tuple(self.assigns),
            functions=tuple(self.functions),
            classes=tuple(self.classes),
            calls=tuple(self.calls),
            dict_keys=tuple(self.dict_keys),
            managed=tuple(self.managed),
        )

    # -------------------------------------------------------------- names

    def relative_module(self, module: str, level: int) -> str:
        """The module a `from ..module import x` names, from this module's package."""
        if not level:
            return module
        base = self.package.split(".") if self.package else []
        if level > 1:
            base = base[: len(base) - (level - 1)] if len(base) >= level - 1 else []
        prefix = ".".join(base)
        return ".".join(p for p in (prefix, module) if p)

    def resolve_name(self, name: str) -> Name:
        for scope in reversed(self.scopes):
            if scope.kind != "function":
                continue
            if (
                name in scope.locals
                and isinstance(scope.locals[name], Name)
                and scope.locals[name].kind == "global"
                and name not in scope.local_names
            ):
                return scope.locals[name]
            if name in scope.local_names:
                return Name(name, "local")
        if name in self.imports:
            return Name(self.imports[name])
        if name in self.module_names:
            return Name(f"{self.module_name}.{name}" if self.module_name else name)
        if name in BUILTINS:
            return Name(name, "builtin")
        return Name(f"{self.module_name}.{name}" if self.module_name else name)

    def current_scope(self) -> str:
        for scope in reversed(self.scopes):
            if scope.kind == "function":
                return scope.qualname
        return ""

    def qualname(self, name: str) -> str:
        return f"{self.scopes[-1].qualname}.{name}" if self.scopes else name

    def scope_key(self) -> str:
        return f"{self.module_name}:{self.current_scope()}"

    # -------------------------------------------------------------- frames

    def _framed(self, frame: Frame, nodes) -> None:
        self.frames.append(frame)
        for child in nodes:
            if child is not None:
                self.walk(child)
        self.frames.pop()

    def walk_statements(self, statements: Any) -> None:
        """A statement block: an early exit (`if ...: return`) guards what follows it."""
        depth = len(self.frames)
        for statement in statements:
            self.walk(statement)
            frame = self.frame_after(statement)
            if frame is not None:
                self.frames.append(frame)
        del self.frames[depth:]

    def not_found(self, handler_types: List[Any]) -> Optional[Frame]:
        """After `try: X.objects.get(...); continue` / `except X.DoesNotExist: ...`, what follows
        runs only when the lookup found nothing."""
        handled = tuple(self.expr(t) for t in handler_types)
        return Frame("notfound", handled, scope=self.scope_key()) if handled else None

    def branch_frames(self, single, conjuncts, test_span) -> Tuple[Frame, Optional[Frame]]:
        """The frames of an `if`'s then and else arms, from what the test needs of parameters."""
        then_flags = [single] if single else conjuncts
        scope = self.scope_key()
        wanted, names = tuple(w for _, w in then_flags), tuple(n for n, _ in then_flags)
        then = Frame("branch", wanted, names, "then", test_span, scope)
        names, exprs = ((single[0],), (opposite(single[1]),)) if single else ((), ())
        return then, Frame("branch", exprs, names, "else", test_span, scope)

    def walk_if_arms(self, condition: Frame, then: Frame, otherwise: Frame, body, orelse) -> None:
        self.frames.append(replace(condition, kind="when"))
        self.walk_arm(then, body)
        self.frames.pop()
        if orelse:
            self.frames.append(replace(condition, kind="when", text=negated(condition.text)))
            self.walk_arm(otherwise, orelse)
            self.frames.pop()

    def comparison_arm(self, name: str, compared: Expr) -> Optional[Tuple[str, Expr]]:
        """`if mode == Mode.INSERT:` -> ("mode", Collection("eq", (Mode.INSERT,)))."""
        if isinstance(compared, Const) or (isinstance(compared, Name) and compared.kind == "global"):
            return name, Collection("eq", (compared,))
        return None

    def record_handler(self, handled: Tuple[Expr, ...], span: Any) -> None:
        if self.scopes and self.scopes[-1].kind == "function":
            self.scopes[-1].handlers.append((handled, span))

    def bind_with_target(self, name: str, manager: Expr) -> None:
        """`with Session() as session:` binds what the manager yields; typed as the manager."""
        scope = self.scopes[-1] if self.scopes else None
        if scope is not None and scope.kind == "function":
            scope.locals.setdefault(name, manager)

    def bind_loop_target(self, name: str, iterable: Expr) -> None:
        """`for order in Order.objects.filter(...)`: the loop variable is an element of it."""
        scope = self.scopes[-1] if self.scopes else None
        if scope is not None and scope.kind == "function":
            scope.locals.setdefault(name, Subscript(iterable, (Unknown("element"),)))

    # -------------------------------------------------------------- handlers both walks share

    def _walk_call(self, node: Any) -> None:
        self.record_call(node, self.dotted(self.call_func(node)))
        self._calls.append(node)
        self.walk_children(node)
        self._calls.pop()

    def _walk_comprehension(self, node: Any) -> None:
        self.frames.append(Frame("loop"))
        self.walk_children(node)
        self.frames.pop()

    def _walk_lambda(self, node: Any) -> None:
        owner = self.call_func(self._calls[-1]) if self._calls else None
        frame = Frame("callback", (self.expr(owner),) if owner is not None else ())
        self._framed(frame, [node.body])

    def _skip(self, node: Any) -> None:
        pass

    # -------------------------------------------------------------- definitions

    def _bind_imports(self, table: Dict[str, str]) -> None:
        scope = self.scopes[-1]
        if scope.kind == "function":
            for local, target in table.items():
                scope.locals.setdefault(local, Name(target))
                scope.local_names.discard(local)

    def visit_Import(self, node: Any) -> None:
        if self.scopes:
            table: Dict[str, str] = {}
            self._record_import(node, table)
            self._bind_imports(table)

    def visit_ImportFrom(self, node: Any) -> None:
        if self.scopes:
            table: Dict[str, str] = {}
            self._record_import_from(node, table)
            self._bind_imports(table)

    def call_fact(self, node: Any, func: Any, arguments: Iterable[Tuple[str, Optional[str], Any]], depth: int) -> Call:
        """A call from its arguments in source order, each as (star: "", "*" or "**", keyword, value)."""
        args: List[Expr] = []
        kwargs: List[Tuple[str, Expr]] = []
        star_args = star_kwargs = False
        for star, keyword, value in arguments:
            if star == "*":
                star_args = True
            elif star == "**":
                star_kwargs = True
            elif keyword is not None:
                kwargs.append((keyword, self.expr(value, depth + 1)))
            else:
                args.append(self.expr(value, depth + 1))
        return Call(
            func=self.expr(func, depth + 1),
            args=tuple(args),
            kwargs=tuple(kwargs),
            star_args=star_args,
            star_kwargs=star_kwargs,
            span=self.span(node),
        )

    def param_fact(self, param: RawParam) -> Param:
        return Param(
            param.name,
            param.kind,
            self.expr(param.default) if param.default is not None else None,
            self.expr(param.annotation) if param.annotation is not None else None,
        )

    def enter_function(self, node: Any, fact: FunctionFact, names: Set[str]) -> None:
        self._function_stack.append((node, fact))
        self._pending_scope = Scope(fact.qualname, "function", names)
        if fact.class_qualname is not None and self._class_stack:
            self._class_stack[-1][1]["methods"].append(fact.name)

    def enclosing_class(self) -> Optional[str]:
        return self.scopes[-1].qualname if self.scopes and self.scopes[-1].kind == "class" else None

    def visit_FunctionDef_body(self, node: Any) -> None:
        # decorators and defaults are evaluated outside the function: enter its scope here
        self.scopes.append(self._pending_scope)

    def leave_FunctionDef_body(self, node: Any) -> None:
        self._finished_scope = self.scopes.pop()

    def leave_FunctionDef(self, original_node: Any) -> None:
        scope = self._finished_scope
        _, fact = self._function_stack.pop()
        self.functions.append(
            replace(
                fact,
                locals=tuple(scope.locals.items()),
                rebound=tuple(sorted(scope.rebound)),
                returns=tuple(scope.returns),
                augmented=tuple(self._augmented.pop(scope.qualname, ())),
                raises=tuple(scope.raises),
                handlers=tuple(scope.handlers),
                handler_returns=tuple(scope.handler_returns),
                attr_assigns=tuple(scope.attr_assigns),
            )
        )

    def enter_class(self, node: Any, name: str, span: Any, bases, decorators) -> None:
        info: Dict[str, Any] = {
            "qualname": self.qualname(name),
            "name": name,
            "span": span,
            "bases": bases,
            "keywords": (),  # (libcst's walk looked for keywords among the bases, where there are none)
            "decorators": decorators,
            "attrs": [],
            "methods": [],
            "instance_attrs": {},
            "parent": self.current_scope() or None,
        }
        self._class_stack.append((node, info))

    def visit_ClassDef_body(self, node: Any) -> None:
        self.scopes.append(Scope(self._class_stack[-1][1]["qualname"], "class", set()))

    def leave_ClassDef_body(self, node: Any) -> None:
        self.scopes.pop()

    def leave_ClassDef(self, original_node: Any) -> None:
        _, info = self._class_stack.pop()
        info["attrs"] = tuple(info["attrs"])
        info["methods"] = tuple(info["methods"])
        info["instance_attrs"] = tuple(
            (name, value, method) for name, (value, method) in info["instance_attrs"].items()
        )
        self.classes.append(ClassFact(**info))

    # -------------------------------------------------------------- statements

    def record_call(self, call_node: Any, func_parts: Optional[List[str]]) -> None:
        awaited = self._awaited is call_node
        frames = tuple(self.frames)
        if func_parts and func_parts[-1] == "partial" and self._calls:
            # `on_commit(partial(task.delay, x))`: the partial runs when the outer call invokes it
            frames = (*frames, Frame("callback", (self.expr(self.call_func(self._calls[-1])),)))
        self.calls.append(CallFact(self.call(call_node), self.current_scope(), frames, awaited))

    def visit_Return(self, node: Any) -> None:
        if self.scopes and self.scopes[-1].kind == "function" and node.value is not None:
            value = self.expr(node.value)
            self.scopes[-1].returns.append(value)
            if value != Const(None):
                handlers = [f.span for f in self.frames if f.kind == "except"]
                if handlers:
                    self.scopes[-1].handler_returns.append(handlers[-1])

    def visit_Raise(self, node: Any) -> None:
        if self.scopes and self.scopes[-1].kind == "function":
            if node.exc is None:
                exc: Expr = Unknown("reraise")
            else:
                exc = self.expr(self.call_func(node.exc) if self.is_call(node.exc) else node.exc)
            self.scopes[-1].raises.append((exc, self.span(node), tuple(self.frames)))

    def record_augmented(self, node: Any, operator: str) -> None:
        scope = self.current_scope()
        parts = self.dotted(node.target)
        if scope and parts is not None:
            record = (".".join(parts), operator, self.expr(node.value), self.span(node), tuple(self.frames))
            self._augmented.setdefault(scope, []).append(record)

    def visit_AnnAssign(self, node: Any) -> None:
        if node.value is not None:
            self._assign(node.target, node.value, node)

    def visit_NamedExpr(self, node: Any) -> None:
        if self.scopes and self.scopes[-1].kind == "function":  # `if (delay := settings.DELAY) > 0:`
            self._assign(node.target, node.value, node)

    def _assign(self, target: Any, value: Any, node: Any) -> None:
        if not self.scopes:
            parts = self.dotted(target)
            if parts is None:
                return
            text = ".".join(parts)
            if len(parts) == 1:
                qname = f"{self.module_name}.{text}" if self.module_name else text
            else:
                qname = ".".join([self.resolve_name(parts[0]).qname, *parts[1:]])
            self.assigns.append(AssignFact(text, qname, self.expr(value), self.span(target)))
            return
        scope = self.scopes[-1]
        name = self.plain_name(target)
        attribute = self.name_attribute(target) if name is None else None
        if scope.kind == "class":
            if name is not None and self._class_stack:
                self._class_stack[-1][1]["attrs"].append((name, self.expr(value), self.span(target)))
        elif name is not None and name not in scope.locals:
            scope.locals[name] = self.expr(value)
        elif name is not None:
            scope.rebound.add(name)
        elif attribute is not None and attribute[0] != "self":
            # `order.tags = order.tags + [tag]`: a field of a local value set from the code
            record = (f"{attribute[0]}.{attribute[1]}", self.expr(value), self.span(node), tuple(self.frames))
            scope.attr_assigns.append(record)
        elif attribute is not None and self._class_stack and len(self.scopes) >= 2 and self.scopes[-2].kind == "class":
            attrs = self._class_stack[-1][1]["instance_attrs"]
            attrs.setdefault(attribute[1], (self.expr(value), scope.qualname))

    # -------------------------------------------------------------- hooks (per tree)

    def walk(self, node: Any) -> None:
        raise NotImplementedError

    def walk_arm(self, frame: Frame, arm: Any) -> None:
        raise NotImplementedError

    def walk_children(self, node: Any) -> None:
        raise NotImplementedError

    def frame_after(self, statement: Any) -> Optional[Frame]:
        """The frame a statement puts over the ones after it in its block (an early exit)."""
        raise NotImplementedError

    def span(self, node: Any) -> Any:
        raise NotImplementedError

    def expr(self, node: Any, depth: int = 0) -> Expr:
        raise NotImplementedError

    def call(self, node: Any, depth: int = 0) -> Any:
        raise NotImplementedError

    def dotted(self, node: Any) -> Optional[List[str]]:
        raise NotImplementedError

    def plain_name(self, node: Any) -> Optional[str]:
        """The name of a `Name` target, else None."""
        raise NotImplementedError

    def name_attribute(self, node: Any) -> Optional[Tuple[str, str]]:
        """`x.attr` as ("x", "attr") when `x` is a plain name, else None."""
        raise NotImplementedError

    def is_call(self, node: Any) -> bool:
        raise NotImplementedError

    def call_func(self, node: Any) -> Any:
        raise NotImplementedError

    def _record_import(self, node: Any, table: Dict[str, str]) -> None:
        raise NotImplementedError

    def _record_import_from(self, node: Any, table: Dict[str, str]) -> None:
        raise NotImplementedError


def syntax_error_facts(path: str, module_name: str, is_package: bool, error: Exception) -> ModuleFacts:
    line = getattr(error, "raw_line", None) or getattr(error, "lineno", None) or 1
    col = getattr(error, "raw_column", None) or getattr(error, "offset", None) or 0
    message = getattr(error, "message", None) or str(error).splitlines()[0]
    return ModuleFacts(
        path=path,
        module=module_name,
        is_package=is_package,
        error=SyntaxErrorFact(message=str(message), line=int(line), col=int(col)),
    )
