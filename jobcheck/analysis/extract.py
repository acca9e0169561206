"""One libcst walk per module -> ModuleFacts (plain, picklable data).

Names are resolved with the module's own import and definition table (no libcst
metadata providers): `shared_task` imported from `celery` becomes `celery.shared_task`,
a function-local name stays local.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import fields, is_dataclass, replace
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst

from jobcheck.analysis.positions import node_spans
from jobcheck.model import (
    AssignFact,
    Attr,
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
    Span,
    Subscript,
    SyntaxErrorFact,
    Unknown,
)

MAX_EXPR_DEPTH = 40
_BUILTINS = frozenset(dir(builtins))


class _Pending:
    """Stands for the span of a node until positions are computed."""

    __slots__ = ("node",)

    def __init__(self, node: cst.CSTNode) -> None:
        self.node = node


def extract(module: cst.Module, path: str, module_name: str, is_package: bool) -> ModuleFacts:
    walker = _Walker(module_name, is_package, module)
    walker.collect_module_names(module)
    walker.walk(module)
    pending_nodes = walker.pending_nodes
    spans = node_spans(module, pending_nodes)
    facts = ModuleFacts(
        path=path,
        module=module_name,
        is_package=is_package,
        imports=tuple(walker.imports.items()),
        star_imports=tuple(walker.star_imports),
        assigns=tuple(walker.assigns),
        functions=tuple(walker.functions),
        classes=tuple(walker.classes),
        calls=tuple(walker.calls),
        dict_keys=tuple(walker.dict_keys),
        managed=tuple(walker.managed),
    )
    return _fill_spans(facts, spans)


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


# ----------------------------------------------------------------- span filling


def _fill_spans(value: Any, spans: Dict[int, Span]) -> Any:
    if isinstance(value, _Pending):
        return spans.get(id(value.node), (1, 0, 1, 0))
    if isinstance(value, tuple):
        return tuple(_fill_spans(item, spans) for item in value)
    if is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in fields(value):
            old = getattr(value, f.name)
            if isinstance(old, (tuple, _Pending)) or is_dataclass(old):
                new = _fill_spans(old, spans)
                if new is not old:
                    changes[f.name] = new
        return replace(value, **changes) if changes else value
    return value


# ----------------------------------------------------------------- the walk


def _dotted_parts(node: cst.BaseExpression) -> Optional[List[str]]:
    parts: List[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        parts.reverse()
        return parts
    return None


def _import_target(node: cst.BaseExpression) -> str:
    parts = _dotted_parts(node)
    return ".".join(parts) if parts else ""


def _local_names(body: cst.BaseSuite) -> Tuple[Set[str], Set[str]]:
    """Names bound in a function body, and names it declares global/nonlocal.

    A walk over statements only (expressions are not entered): walrus targets inside
    expressions are missed, which only makes a name resolve as global.
    """
    names: Set[str] = set()
    declared: Set[str] = set()

    def bind(target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            names.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                bind(element.value)
        elif isinstance(target, cst.StarredElement):
            bind(target.value)

    def small(statement: cst.BaseSmallStatement) -> None:
        if isinstance(statement, cst.Assign):
            for target in statement.targets:
                bind(target.target)
        elif isinstance(statement, (cst.AnnAssign, cst.AugAssign)):
            bind(statement.target)
        elif isinstance(statement, cst.Import):
            for alias in statement.names:
                if alias.asname is not None:
                    bind(alias.asname.name)
                else:
                    names.add(_import_target(alias.name).split(".")[0])
        elif isinstance(statement, cst.ImportFrom) and not isinstance(statement.names, cst.ImportStar):
            for alias in statement.names:
                if alias.asname is not None:
                    bind(alias.asname.name)
                else:
                    names.add(_import_target(alias.name))
        elif isinstance(statement, (cst.Global, cst.Nonlocal)):
            declared.update(n.name.value for n in statement.names)

    stack: List[cst.CSTNode] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.IndentedBlock):
            stack.extend(node.body)
        elif isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for statement in node.body:
                small(statement)
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            names.add(node.name.value)
        elif isinstance(node, cst.For):
            bind(node.target)
            stack.extend(b for b in (node.body, node.orelse) if b is not None)
        elif isinstance(node, (cst.While, cst.Else, cst.Finally)):
            stack.append(node.body)
            if isinstance(node, cst.While) and node.orelse is not None:
                stack.append(node.orelse)
        elif isinstance(node, cst.If):
            stack.append(node.body)
            if node.orelse is not None:
                stack.append(node.orelse)
        elif isinstance(node, cst.With):
            for item in node.items:
                if item.asname is not None:
                    bind(item.asname.name)
            stack.append(node.body)
        elif isinstance(node, (cst.Try, cst.TryStar)):
            stack.append(node.body)
            for handler in node.handlers:
                if handler.name is not None:
                    bind(handler.name.name)
                stack.append(handler.body)
            stack.extend(b for b in (node.orelse, node.finalbody) if b is not None)
        elif isinstance(node, cst.Match):
            for case in node.cases:
                stack.append(case.body)
    return names, declared


class _Scope:
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


_SKIPPED_FIELDS = frozenset(
    {
        "header",
        "footer",
        "leading_lines",
        "lines_after_decorators",
        "lpar",
        "rpar",
        "comma",
        "semicolon",
        "operator",
        "equal",
        "colon",
        "dot",
        "whitespace_before",
        "whitespace_after",
        "annotation",
        "returns",
        "trailing_whitespace",
        "first_line",
        "empty_lines",
        "asynchronous",
        "star_tok",
        "whitespace",
    }
)
_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _child_fields(node_type: type) -> Tuple[str, ...]:
    names = _FIELDS.get(node_type)
    if names is None:
        names = _FIELDS[node_type] = tuple(
            f.name for f in fields(node_type) if f.name not in _SKIPPED_FIELDS and not f.name.startswith("whitespace")
        )
    return names


class _Walker:
    def __init__(self, module_name: str, is_package: bool, module: cst.Module) -> None:
        self.module = module
        self.module_name = module_name
        self.package = module_name if is_package else module_name.rpartition(".")[0]
        self.imports: Dict[str, str] = {}
        self.star_imports: List[str] = []
        self.module_names: Set[str] = set()
        self.assigns: List[AssignFact] = []
        self.functions: List[FunctionFact] = []
        self.classes: List[ClassFact] = []
        self.calls: List[CallFact] = []
        self.dict_keys: List[Tuple[str, Any]] = []
        self.managed: List[Any] = []
        self.scopes: List[_Scope] = []
        self._augmented: Dict[str, List[Any]] = {}
        self.pending_nodes: List[cst.CSTNode] = []
        self.frames: List[Frame] = []
        self._calls: List[cst.Call] = []
        self._awaited: Optional[cst.Call] = None
        self._function_stack: List[Tuple[cst.FunctionDef, FunctionFact]] = []
        self._class_stack: List[Tuple[cst.ClassDef, Dict[str, Any]]] = []

    # -------------------------------------------------------------- helpers

    def span(self, node: cst.CSTNode) -> Any:
        self.pending_nodes.append(node)
        return _Pending(node)

    def resolve_relative(self, node: cst.ImportFrom) -> str:
        module = _import_target(node.module) if node.module else ""
        level = len(node.relative)
        if not level:
            return module
        base = self.package.split(".") if self.package else []
        if level > 1:
            base = base[: len(base) - (level - 1)] if len(base) >= level - 1 else []
        prefix = ".".join(base)
        return ".".join(p for p in (prefix, module) if p)

    def collect_module_names(self, module: cst.Module) -> None:
        """Top-level imports and definitions, so that later names resolve in one walk."""
        for statement in _flatten_top_level(module.body):
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                self.module_names.add(statement.name.value)
            elif isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                for small in statement.body:
                    if isinstance(small, cst.Import):
                        self._record_import(small, self.imports)
                    elif isinstance(small, cst.ImportFrom):
                        self._record_import_from(small, self.imports)
                    elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                        for target in targets:
                            for name in _bound_names(target):
                                self.module_names.add(name)

    def _record_import(self, node: cst.Import, table: Dict[str, str]) -> None:
        for alias in node.names:
            target = _import_target(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                table[alias.asname.name.value] = target
            else:
                head = target.split(".")[0]
                table[head] = head

    def _record_import_from(self, node: cst.ImportFrom, table: Dict[str, str]) -> None:
        source = self.resolve_relative(node)
        if isinstance(node.names, cst.ImportStar):
            if table is self.imports and source:
                self.star_imports.append(source)
            return
        for alias in node.names:
            name = _import_target(alias.name)
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            table[local] = f"{source}.{name}" if source else name

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
        if name in _BUILTINS:
            return Name(name, "builtin")
        return Name(f"{self.module_name}.{name}" if self.module_name else name)

    def expr(self, node: Optional[cst.BaseExpression], depth: int = 0) -> Expr:
        if node is None:
            return Const(None)
        if depth > MAX_EXPR_DEPTH:
            return Unknown(type(node).__name__)
        parts = _dotted_parts(node)
        if parts is not None:
            if len(parts) == 1 and parts[0] in ("True", "False", "None"):
                return Const({"True": True, "False": False, "None": None}[parts[0]])
            head = self.resolve_name(parts[0])
            qname = ".".join([head.qname, *parts[1:]])
            return Name(qname, head.kind)
        if isinstance(node, (cst.FormattedString, cst.ConcatenatedString)) and _has_fstring(node):
            # an f-string: its literal text, with `{}` for each substitution (URLs, for their paths)
            return Unknown(f"f-string:{_fstring_text(node)}")
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            try:
                return Const(node.evaluated_value)
            except Exception:
                return Unknown("string")
        if isinstance(node, cst.Integer):
            return Const(node.evaluated_value)
        if isinstance(node, cst.Float):
            return Const(node.evaluated_value)
        if isinstance(node, cst.Call):
            return self.call(node, depth)
        if isinstance(node, cst.Attribute):
            return Attr(self.expr(node.value, depth + 1), node.attr.value)
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            items = tuple(self.expr(e.value, depth + 1) for e in node.elements)
            kind = {cst.List: "list", cst.Tuple: "tuple", cst.Set: "set"}[type(node)]
            if all(isinstance(i, Const) for i in items) and not any(
                isinstance(e, cst.StarredElement) for e in node.elements
            ):
                values = tuple(i.value for i in items)
                return Const(list(values) if kind == "list" else values if kind == "tuple" else frozenset(values))
            return Collection(kind, items)
        if isinstance(node, cst.Dict):
            keys, values = [], []
            for element in node.elements:
                if isinstance(element, cst.DictElement):
                    keys.append(self.expr(element.key, depth + 1))
                    values.append(self.expr(element.value, depth + 1))
                else:
                    keys.append(Unknown("**"))
                    values.append(self.expr(element.value, depth + 1))
            if all(isinstance(k, Const) for k in keys) and all(isinstance(v, Const) for v in values):
                try:
                    return Const({k.value: v.value for k, v in zip(keys, values)})
                except TypeError:
                    pass
            return Collection("dict", tuple(values), tuple(keys))
        if isinstance(node, cst.Await):
            return self.expr(node.expression, depth + 1)  # `row = await repo.get(...)` binds what the call gives
        if isinstance(node, cst.IfExp) and _development_switch(node.test):
            # `max_retries=1 if settings.DEBUG else None`: what production runs with
            return self.expr(node.orelse, depth + 1)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            inner = self.expr(node.expression, depth + 1)
            if isinstance(inner, Const) and isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
                return Const(-inner.value)
            return Unknown("unary")
        if isinstance(node, cst.BinaryOperation):
            return self._binary(node, depth)
        if isinstance(node, cst.Subscript):
            index = tuple(
                self.expr(element.slice.value, depth + 1)
                for element in node.slice
                if isinstance(element.slice, cst.Index)
            )
            return Subscript(self.expr(node.value, depth + 1), index)
        return Unknown(type(node).__name__)

    def _binary(self, node: cst.BinaryOperation, depth: int) -> Expr:
        left = self.expr(node.left, depth + 1)
        right = self.expr(node.right, depth + 1)
        if not (isinstance(left, Const) and isinstance(right, Const)):
            return BinOp(type(node.operator).__name__, left, right)
        a, b = left.value, right.value
        try:
            if isinstance(node.operator, cst.Add) and type(a) is type(b) and isinstance(a, (int, float, str)):
                return Const(a + b)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
            if numeric and isinstance(node.operator, cst.Multiply):
                return Const(a * b)
            if numeric and isinstance(node.operator, cst.Subtract):
                return Const(a - b)
            if numeric and isinstance(node.operator, cst.Divide) and b:
                return Const(a / b)
            if numeric and isinstance(node.operator, cst.FloorDivide) and b:
                return Const(a // b)
            if numeric and isinstance(node.operator, cst.Power) and abs(b) < 64:
                return Const(a**b)
        except Exception:
            pass
        return Unknown("binary")

    def call(self, node: cst.Call, depth: int = 0) -> Call:
        args: List[Expr] = []
        kwargs: List[Tuple[str, Expr]] = []
        star_args = star_kwargs = False
        for arg in node.args:
            if arg.star == "*":
                star_args = True
            elif arg.star == "**":
                star_kwargs = True
            elif arg.keyword is not None:
                kwargs.append((arg.keyword.value, self.expr(arg.value, depth + 1)))
            else:
                args.append(self.expr(arg.value, depth + 1))
        return Call(
            func=self.expr(node.func, depth + 1),
            args=tuple(args),
            kwargs=tuple(kwargs),
            star_args=star_args,
            star_kwargs=star_kwargs,
            span=self.span(node),
        )

    def current_scope(self) -> str:
        for scope in reversed(self.scopes):
            if scope.kind == "function":
                return scope.qualname
        return ""

    def qualname(self, name: str) -> str:
        return f"{self.scopes[-1].qualname}.{name}" if self.scopes else name

    # -------------------------------------------------------------- the walk
    # A hand-written walk: libcst's visitor rebuilds every node it passes, which costs
    # more than parsing; this one only reads fields that can hold code of interest.

    def walk(self, node: cst.CSTNode) -> None:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(self, node)
        else:
            self.walk_children(node)

    def walk_children(self, node: cst.CSTNode) -> None:
        walk = self.walk
        for name in _child_fields(type(node)):
            value = getattr(node, name)
            if isinstance(value, cst.CSTNode):
                walk(value)
            elif isinstance(value, (tuple, list)):
                for item in value:
                    if isinstance(item, cst.CSTNode):
                        walk(item)

    def _walk_function(self, node: cst.FunctionDef) -> None:
        self.visit_FunctionDef(node)
        for decorator in node.decorators:
            self.walk(decorator)
        self.walk(node.params)
        self.visit_FunctionDef_body(node)
        outer_frames, self.frames = self.frames, []
        self.walk(node.body)
        self.frames = outer_frames
        self.leave_FunctionDef_body(node)
        self.leave_FunctionDef(node)

    # context frames: what encloses a call inside its function

    def _framed(self, frame: Frame, nodes) -> None:
        self.frames.append(frame)
        for child in nodes:
            if child is not None:
                self.walk(child)
        self.frames.pop()

    def _walk_block(self, node: cst.CSTNode) -> None:
        """A statement block: an early exit (`if ...: return`) guards what follows it."""
        depth = len(self.frames)
        for statement in node.body:
            self.walk(statement)
            if isinstance(statement, cst.If) and statement.orelse is None and _exits(statement.body):
                self.frames.append(self._guard(statement))
            elif isinstance(statement, (cst.Try, cst.TryStar)) and _exits(statement.body):
                # `try: X.objects.get(...); continue` / `except X.DoesNotExist: ...`: what follows
                # runs only when the lookup found nothing
                handled = tuple(
                    self.expr(h.type) for h in statement.handlers if h.type is not None and not _exits(h.body)
                )
                if handled:
                    self.frames.append(Frame("notfound", handled))
        del self.frames[depth:]

    def _guard(self, statement: cst.If) -> Frame:
        calls = tuple(self.call(c) for c in _calls_in(statement.test))
        names = tuple(sorted({".".join(p) for p in _names_in(statement.test)}))
        scope = f"{self.module_name}:{self.current_scope()}"
        return Frame("guard", calls, names, _text(self.module, statement.test, 80), self.span(statement.test), scope)

    def _walk_if(self, node: cst.If) -> None:
        """Each arm of an `if` is a branch: writes in different arms never both run."""
        self.walk(node.test)
        test = self.span(node.test)
        # `if flag:` / `if not flag:` on a plain name: a caller passing a constant decides the arm;
        # in `if x and flag:` the flag decides only that the then-arm cannot run
        scope = f"{self.module_name}:{self.current_scope()}"
        single = self._arm_test(node.test)
        conjuncts = [] if single else [f for f in map(self._arm_test, _conjuncts(node.test)) if f]
        then_flags = [single] if single else conjuncts
        then = Frame("branch", tuple(w for _, w in then_flags), tuple(n for n, _ in then_flags), "then", test, scope)
        condition = self._guard(node)
        self.frames.append(replace(condition, kind="when"))
        self._framed(then, [node.body])
        self.frames.pop()
        if node.orelse is not None:
            arm = node.orelse.body if isinstance(node.orelse, cst.Else) else node.orelse
            names, exprs = ((single[0],), (_opposite(single[1]),)) if single else ((), ())
            self.frames.append(replace(condition, kind="when", text=_negated(condition.text)))
            self._framed(Frame("branch", exprs, names, "else", test, scope), [arm])
            self.frames.pop()

    def _arm_test(self, test: cst.BaseExpression) -> Optional[Tuple[str, Expr]]:
        """What an arm needs of a parameter, for callers that fix it: `if flag:` -> Const(True),
        `if not flag:` -> Const(False), `if mode == Mode.INSERT:` -> Collection("eq", (Mode.INSERT,))."""
        flag = _flag_test(test)
        if flag is not None:
            return flag[0], Const(flag[1])
        if (
            isinstance(test, cst.Comparison)
            and isinstance(test.left, cst.Name)
            and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, (cst.Equal, cst.Is))
        ):
            value = self.expr(test.comparisons[0].comparator)
            if isinstance(value, Const) or (isinstance(value, Name) and value.kind == "global"):
                return test.left.value, Collection("eq", (value,))
        return None

    def _walk_with(self, node: cst.With) -> None:
        for item in node.items:
            self.walk(item.item)
            if item.asname is not None and isinstance(item.asname.name, cst.Name):
                # `with Session() as session:` binds what the manager yields; typed as the manager
                scope = self.scopes[-1] if self.scopes else None
                if scope is not None and scope.kind == "function":
                    scope.locals.setdefault(item.asname.name.value, self.expr(item.item))
        managers = tuple(self.expr(item.item) for item in node.items)
        self.managed.extend(self.span(item.item) for item in node.items if isinstance(item.item, cst.Call))
        scope = f"{self.module_name}:{self.current_scope()}"
        self._framed(Frame("with", managers, span=self.span(node.items[0].item), scope=scope), [node.body])

    def _walk_loop(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.For):
            self.walk(node.iter)
            scope = self.scopes[-1] if self.scopes else None
            if scope is not None and scope.kind == "function" and isinstance(node.target, cst.Name):
                # `for order in Order.objects.filter(...)`: the loop variable is an element of it
                scope.locals.setdefault(node.target.value, Subscript(self.expr(node.iter), (Unknown("element"),)))
        elif isinstance(node, cst.While):
            self.walk(node.test)
        self._framed(Frame("loop"), [node.body])
        if node.orelse is not None:
            self.walk(node.orelse)

    def _walk_comprehension(self, node: cst.CSTNode) -> None:
        self.frames.append(Frame("loop"))
        self.walk_children(node)
        self.frames.pop()

    def _walk_try(self, node: cst.CSTNode) -> None:
        types = tuple(self.expr(h.type) for h in node.handlers if h.type is not None)
        # a handler that treats "409 Conflict" as done: the server refuses a repeat of the call
        conflict = "conflict" if any(_mentions_conflict(h.body) for h in node.handlers) else ""
        self._framed(Frame("try", types, text=conflict), [node.body])
        for handler in node.handlers:
            handled = (self.expr(handler.type),) if handler.type is not None else ()
            span = self.span(handler)
            if self.scopes and self.scopes[-1].kind == "function":
                self.scopes[-1].handlers.append((handled, span))
            self._framed(Frame("except", handled, span=span), [handler.body])
        if node.orelse is not None:
            self.walk(node.orelse)
        if node.finalbody is not None:
            self._framed(Frame("finally"), [node.finalbody])

    def _walk_lambda(self, node: cst.Lambda) -> None:
        owner = self._calls[-1].func if self._calls else None
        frame = Frame("callback", (self.expr(owner),) if owner is not None else ())
        self._framed(frame, [node.body])

    def _walk_await(self, node: cst.Await) -> None:
        if isinstance(node.expression, cst.Call):
            self._awaited = node.expression
        self.walk(node.expression)

    def _walk_class(self, node: cst.ClassDef) -> None:
        self.visit_ClassDef(node)
        for decorator in node.decorators:
            self.walk(decorator)
        for base in (*node.bases, *node.keywords):
            self.walk(base)
        self.visit_ClassDef_body(node)
        self.walk(node.body)
        self.leave_ClassDef_body(node)
        self.leave_ClassDef(node)

    def _walk_call(self, node: cst.Call) -> None:
        self.visit_Call(node)
        self._calls.append(node)
        self.walk_children(node)
        self._calls.pop()

    def _walk_dict(self, node: cst.Dict) -> None:
        if not any(scope.kind == "function" for scope in self.scopes):
            for element in node.elements:
                if isinstance(element, cst.DictElement) and isinstance(
                    element.key, (cst.SimpleString, cst.ConcatenatedString)
                ):
                    value = element.key.evaluated_value
                    if isinstance(value, str):
                        self.dict_keys.append((value, self.span(element.key)))
        self.walk_children(node)

    def _walk_then_children(self, node: cst.CSTNode) -> None:
        getattr(self, "visit_" + type(node).__name__)(node)
        self.walk_children(node)

    def _skip(self, node: cst.CSTNode) -> None:
        pass

    # -------------------------------------------------------------- handlers

    def visit_Import(self, node: cst.Import) -> None:
        if self.scopes:
            table: Dict[str, str] = {}
            self._record_import(node, table)
            self._bind_imports(table)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if self.scopes:
            table: Dict[str, str] = {}
            self._record_import_from(node, table)
            self._bind_imports(table)

    def _bind_imports(self, table: Dict[str, str]) -> None:
        scope = self.scopes[-1]
        if scope.kind == "function":
            for local, target in table.items():
                scope.locals.setdefault(local, Name(target))
                scope.local_names.discard(local)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        bound, declared = _local_names(node.body)
        params = _params(node.params)
        names = (bound | {p.name for p in params}) - declared
        enclosing_class = self.scopes[-1].qualname if self.scopes and self.scopes[-1].kind == "class" else None
        parent = self.current_scope() or None
        qualname = self.qualname(node.name.value)
        decorators = tuple(self.expr(d.decorator) for d in node.decorators)
        decorator_spans = tuple(self.span(d.decorator) for d in node.decorators)
        resolved_params = tuple(
            Param(
                p.name,
                p.kind,
                self.expr(p.default) if p.default is not None else None,
                self.expr(p.annotation) if p.annotation is not None else None,
            )
            for p in params
        )
        fact = FunctionFact(
            qualname=qualname,
            name=node.name.value,
            span=self.span(node.name),
            decorators=decorators,
            decorator_spans=decorator_spans,
            decorator_texts=tuple(_text(self.module, d.decorator) for d in node.decorators),
            params=resolved_params,
            class_qualname=enclosing_class,
            parent=parent,
            is_async=node.asynchronous is not None,
            return_annotation=self.expr(node.returns.annotation) if node.returns is not None else None,
        )
        self._function_stack.append((node, fact))
        self._pending_scope = _Scope(qualname, "function", names)
        if enclosing_class is not None and self._class_stack:
            self._class_stack[-1][1]["methods"].append(node.name.value)

    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        # decorators and defaults are evaluated outside the function: enter its scope here
        self.scopes.append(self._pending_scope)

    def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self._finished_scope = self.scopes.pop()

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
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

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        qualname = self.qualname(node.name.value)
        info: Dict[str, Any] = {
            "qualname": qualname,
            "name": node.name.value,
            "span": self.span(node.name),
            "bases": tuple(self.expr(a.value) for a in node.bases if a.keyword is None and not a.star),
            "keywords": tuple((a.keyword.value, self.expr(a.value)) for a in node.bases if a.keyword is not None),
            "decorators": tuple(self.expr(d.decorator) for d in node.decorators),
            "attrs": [],
            "methods": [],
            "instance_attrs": {},
            "parent": self.current_scope() or None,
        }
        self._class_stack.append((node, info))

    def visit_ClassDef_body(self, node: cst.ClassDef) -> None:
        self.scopes.append(_Scope(self._class_stack[-1][1]["qualname"], "class", set()))

    def leave_ClassDef_body(self, node: cst.ClassDef) -> None:
        self.scopes.pop()

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        _, info = self._class_stack.pop()
        info["attrs"] = tuple(info["attrs"])
        info["methods"] = tuple(info["methods"])
        info["instance_attrs"] = tuple(
            (name, value, method) for name, (value, method) in info["instance_attrs"].items()
        )
        self.classes.append(ClassFact(**info))

    def visit_Call(self, node: cst.Call) -> None:
        awaited = self._awaited is node
        frames = tuple(self.frames)
        parts = _dotted_parts(node.func)
        if parts and parts[-1] == "partial" and self._calls:
            # `on_commit(partial(task.delay, x))`: the partial runs when the outer call invokes it
            frames = (*frames, Frame("callback", (self.expr(self._calls[-1].func),)))
        self.calls.append(CallFact(self.call(node), self.current_scope(), frames, awaited))

    def visit_Return(self, node: cst.Return) -> None:
        if self.scopes and self.scopes[-1].kind == "function" and node.value is not None:
            value = self.expr(node.value)
            self.scopes[-1].returns.append(value)
            if value != Const(None):
                handlers = [f.span for f in self.frames if f.kind == "except"]
                if handlers:
                    self.scopes[-1].handler_returns.append(handlers[-1])

    def visit_Raise(self, node: cst.Raise) -> None:
        if self.scopes and self.scopes[-1].kind == "function":
            if node.exc is None:
                exc: Expr = Unknown("reraise")
            else:
                exc = self.expr(node.exc.func if isinstance(node.exc, cst.Call) else node.exc)
            self.scopes[-1].raises.append((exc, self.span(node), tuple(self.frames)))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        scope = self.current_scope()
        parts = _dotted_parts(node.target)
        if scope and parts is not None:
            operator = type(node.operator).__name__.replace("Assign", "")
            record = (".".join(parts), operator, self.expr(node.value), self.span(node), tuple(self.frames))
            self._augmented.setdefault(scope, []).append(record)

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        for target in node.targets:
            self._assign(target.target, value, node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._assign(node.target, node.value, node)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if self.scopes and self.scopes[-1].kind == "function":  # `if (delay := settings.DELAY) > 0:`
            self._assign(node.target, node.value, node)

    def _assign(self, target: cst.BaseExpression, value: cst.BaseExpression, node: cst.CSTNode) -> None:
        if not self.scopes:
            parts = _dotted_parts(target)
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
        if scope.kind == "class":
            if isinstance(target, cst.Name) and self._class_stack:
                self._class_stack[-1][1]["attrs"].append((target.value, self.expr(value), self.span(target)))
        elif isinstance(target, cst.Name) and target.value not in scope.locals:
            scope.locals[target.value] = self.expr(value)
        elif isinstance(target, cst.Name):
            scope.rebound.add(target.value)
        elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value != "self":
            # `order.tags = order.tags + [tag]`: a field of a local value set from the code
            record = (f"{target.value.value}.{target.attr.value}", self.expr(value), self.span(node), tuple(self.frames))
            scope.attr_assigns.append(record)
        elif (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == "self"
            and self._class_stack
            and len(self.scopes) >= 2
            and self.scopes[-2].kind == "class"
        ):
            attrs = self._class_stack[-1][1]["instance_attrs"]
            attrs.setdefault(target.attr.value, (self.expr(value), scope.qualname))


_HANDLERS = {
    cst.FunctionDef: _Walker._walk_function,
    cst.ClassDef: _Walker._walk_class,
    cst.Call: _Walker._walk_call,
    cst.Import: _Walker.visit_Import,
    cst.ImportFrom: _Walker.visit_ImportFrom,
    cst.Assign: _Walker._walk_then_children,
    cst.AnnAssign: _Walker._walk_then_children,
    cst.AugAssign: _Walker._walk_then_children,
    cst.NamedExpr: _Walker._walk_then_children,
    cst.Return: _Walker._walk_then_children,
    cst.Dict: _Walker._walk_dict,
    cst.Raise: _Walker._walk_then_children,
    cst.IndentedBlock: _Walker._walk_block,
    cst.Module: _Walker._walk_block,
    cst.With: _Walker._walk_with,
    cst.If: _Walker._walk_if,
    cst.For: _Walker._walk_loop,
    cst.While: _Walker._walk_loop,
    cst.ListComp: _Walker._walk_comprehension,
    cst.SetComp: _Walker._walk_comprehension,
    cst.DictComp: _Walker._walk_comprehension,
    cst.GeneratorExp: _Walker._walk_comprehension,
    cst.Try: _Walker._walk_try,
    cst.TryStar: _Walker._walk_try,
    cst.Lambda: _Walker._walk_lambda,
    cst.Await: _Walker._walk_await,
    cst.Annotation: _Walker._skip,
    cst.SimpleString: _Walker._skip,
    cst.Integer: _Walker._skip,
    cst.Float: _Walker._skip,
    cst.Name: _Walker._skip,
    cst.Comment: _Walker._skip,
    cst.EmptyLine: _Walker._skip,
}


def _opposite(wanted: Expr) -> Expr:
    """What the else arm needs: the other truth value, or anything but the compared value."""
    if isinstance(wanted, Collection):
        return Collection("ne", wanted.items)
    return Const(not wanted.value)


def _flag_test(test: cst.BaseExpression) -> Optional[Tuple[str, bool]]:
    """`flag` -> ("flag", True); `not flag` -> ("flag", False); anything else -> None."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return (test.expression.value, False) if isinstance(test.expression, cst.Name) else None
    return (test.value, True) if isinstance(test, cst.Name) else None


def _conjuncts(test: cst.BaseExpression) -> List[cst.BaseExpression]:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return [*_conjuncts(test.left), *_conjuncts(test.right)]
    return [test]


def _exits(body: cst.BaseSuite) -> bool:
    """Whether a block always ends the function or the iteration (return/raise/continue)."""
    statements = body.body if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)) else []
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, cst.SimpleStatementLine):
        last = last.body[-1] if last.body else None
    return isinstance(last, (cst.Return, cst.Raise, cst.Continue))


def _children(node: cst.CSTNode) -> List[cst.CSTNode]:
    result: List[cst.CSTNode] = []
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            result.append(value)
        elif isinstance(value, (tuple, list)):
            result.extend(item for item in value if isinstance(item, cst.CSTNode))
    return result


def _calls_in(node: cst.CSTNode) -> List[cst.Call]:
    found: List[cst.Call] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Call):
            found.append(current)
            continue  # the call's own arguments are part of it
        if not isinstance(current, cst.Lambda):
            stack.extend(_children(current))
    return found


def _names_in(node: cst.CSTNode) -> List[List[str]]:
    found: List[List[str]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        parts = _dotted_parts(current) if isinstance(current, (cst.Name, cst.Attribute)) else None
        if parts is not None:
            found.append(parts)
        else:
            stack.extend(_children(current))
    return found


DEVELOPMENT_SWITCHES = {"DEBUG", "TESTING", "TEST", "IS_TESTING", "DEVELOPMENT", "LOCAL"}


def _development_switch(test: cst.BaseExpression) -> bool:
    """`settings.DEBUG`, `DEBUG`, `app.config.TESTING`: a switch that is off in production."""
    parts = _dotted_parts(test)
    return parts is not None and parts[-1] in DEVELOPMENT_SWITCHES


CONFLICT_NAMES = {"CONFLICT", "HTTP_409_CONFLICT", "HTTPConflict", "Conflict"}


def _mentions_conflict(node: cst.CSTNode) -> bool:
    """Whether a block compares with 409 or names HTTP's Conflict status."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Integer) and current.value == "409":
            return True
        if isinstance(current, cst.Name) and current.value in CONFLICT_NAMES:
            return True
        stack.extend(current.children)
    return False


def _has_fstring(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.ConcatenatedString):
        return _has_fstring(node.left) or _has_fstring(node.right)
    return isinstance(node, cst.FormattedString)


def _fstring_text(node: cst.BaseExpression) -> str:
    """The literal text of an f-string (implicitly concatenated parts included) as Python reads
    it, `{}` for each substitution."""
    if isinstance(node, cst.ConcatenatedString):
        return _fstring_text(node.left) + _fstring_text(node.right)
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else ""
    if not isinstance(node, cst.FormattedString):
        return ""
    return "".join(_literal(p.value, node) if isinstance(p, cst.FormattedStringText) else _substitution(p) for p in node.parts)


def _substitution(part: cst.FormattedStringExpression) -> str:
    """`{}`; `{x=}` keeps its `x=` as literal text, as Python does."""
    if part.equal is None:
        return "{}"
    expression = cst.Module([]).code_for_node(part.expression)
    before, after = part.whitespace_before_expression, part.equal.whitespace_before
    spaces = [getattr(w, "value", "") for w in (before, after, part.equal.whitespace_after)]
    return f"{spaces[0]}{expression}{spaces[1]}={spaces[2]}{{}}"


def _literal(raw: str, node: cst.FormattedString) -> str:
    """An f-string's literal part as written -> as read: escapes, `{{` and `}}`."""
    if "\\" in raw and "r" not in node.prefix.lower():
        try:
            raw = ast.literal_eval(node.quote + raw + node.quote)
        except (SyntaxError, ValueError):
            pass
    return raw.replace("{{", "{").replace("}}", "}")


def _negated(test: str) -> str:
    """The condition under which an `else` arm runs, as text: `not (a and b)`, `sent` for `not sent`."""
    if test.startswith("not ") and " and " not in test and " or " not in test:
        return test[4:]
    return f"not ({test})"


def _text(module: cst.Module, node: cst.CSTNode, limit: int = 120) -> str:
    text = " ".join(module.code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _flatten_top_level(body: Sequence[cst.CSTNode]) -> List[cst.CSTNode]:
    """Top-level statements, looking into `if`/`try`/`with` blocks (guarded imports)."""
    result: List[cst.CSTNode] = []
    stack = list(reversed(body))
    while stack:
        statement = stack.pop()
        result.append(statement)
        blocks: List[cst.CSTNode] = []
        if isinstance(statement, cst.If):
            blocks.append(statement.body)
            if statement.orelse is not None:
                blocks.append(statement.orelse)
        elif isinstance(statement, cst.Else):
            blocks.append(statement.body)
        elif isinstance(statement, cst.Try):
            blocks.append(statement.body)
            blocks.extend(h.body for h in statement.handlers)
            if statement.orelse is not None:
                blocks.append(statement.orelse.body)
        elif isinstance(statement, cst.With):
            blocks.append(statement.body)
        for block in reversed(blocks):
            if isinstance(block, (cst.If, cst.Else)):
                stack.append(block)
            elif isinstance(block, cst.IndentedBlock):
                stack.extend(reversed(block.body))
            elif isinstance(block, cst.SimpleStatementSuite):
                stack.append(block)  # `if TYPE_CHECKING: import x`
    return result


def _bound_names(target: cst.BaseExpression) -> List[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _bound_names(e.value)]
    return []


class _RawParam:
    def __init__(self, param: cst.Param, kind: str) -> None:
        self.name, self.kind, self.default = param.name.value, kind, param.default
        self.annotation = param.annotation.annotation if param.annotation is not None else None


def _params(parameters: cst.Parameters) -> List[_RawParam]:
    result: List[_RawParam] = []
    for p in (*parameters.posonly_params, *parameters.params):
        result.append(_RawParam(p, "positional"))
    if isinstance(parameters.star_arg, cst.Param):
        result.append(_RawParam(parameters.star_arg, "var_positional"))
    for p in parameters.kwonly_params:
        result.append(_RawParam(p, "keyword"))
    if parameters.star_kwarg is not None:
        result.append(_RawParam(parameters.star_kwarg, "var_keyword"))
    return result
