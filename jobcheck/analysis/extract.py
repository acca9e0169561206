"""One libcst walk per module -> ModuleFacts (plain, picklable data); see `facts_walker`."""

from __future__ import annotations

import ast
from dataclasses import fields, is_dataclass
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst

from jobcheck.analysis.facts_walker import (
    CONFLICT_NAMES,
    DEVELOPMENT_SWITCHES,
    MAX_EXPR_DEPTH,
    FactsWalker,
    RawParam,
    collection,
    dictionary,
    dotted_name,
    fold_binary,
    negative,
)
from jobcheck.analysis.positions import node_spans
from jobcheck.model import (
    Attr,
    Call,
    Const,
    Expr,
    Frame,
    FunctionFact,
    ModuleFacts,
    Span,
    Subscript,
    Unknown,
)


class _Pending:
    """Stands for the span of a node until positions are computed."""

    __slots__ = ("node",)

    def __init__(self, node: cst.CSTNode) -> None:
        self.node = node


def extract(module: cst.Module, path: str, module_name: str, is_package: bool) -> ModuleFacts:
    walker = _Walker(module_name, is_package, module)
    walker.collect_module_names(module)
    walker.walk(module)
    spans = node_spans(module, walker.pending_nodes)
    return _fill_spans(walker.module_facts(path, is_package), spans)


# ----------------------------------------------------------------- span filling


def _fill_spans(value: Any, spans: Dict[int, Span]) -> Any:
    """The facts with each `_Pending` replaced by its span; what holds none is kept as it is."""
    kind = type(value)
    if kind is _Pending:
        return spans.get(id(value.node), (1, 0, 1, 0))
    if kind in _PLAIN:
        return value
    if kind is tuple:
        filled = tuple([_fill_spans(item, spans) for item in value])
        return value if all(new is old for new, old in zip(filled, value)) else filled
    if not _is_fact_type(kind):
        return value
    changed = None
    for name, old in value.__dict__.items():
        if type(old) in _PLAIN:
            continue
        new = _fill_spans(old, spans)
        if new is not old:
            changed = changed if changed is not None else dict(value.__dict__)
            changed[name] = new
    if changed is None:
        return value
    copy = object.__new__(kind)  # a frozen dataclass with new field values (`replace` costs 3x)
    copy.__dict__.update(changed)
    return copy


_PLAIN = frozenset({str, int, float, bool, type(None), bytes})
_FACT_TYPES: Dict[type, bool] = {}


def _is_fact_type(kind: type) -> bool:
    known = _FACT_TYPES.get(kind)
    if known is None:
        known = _FACT_TYPES[kind] = is_dataclass(kind)
    return known


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


def _targets_bound(target: cst.BaseExpression) -> List[str]:
    """The names an assignment target binds: `a`, `a, (b, *c)`."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _targets_bound(element.value)]
    if isinstance(target, cst.StarredElement):
        return _targets_bound(target.value)
    return []


def _local_names(body: cst.BaseSuite) -> Tuple[Set[str], Set[str]]:
    """Names bound in a function body, and names it declares global/nonlocal.

    A walk over statements only (expressions are not entered): walrus targets inside
    expressions are missed, which only makes a name resolve as global.
    """
    names: Set[str] = set()
    declared: Set[str] = set()

    def small(statement: cst.BaseSmallStatement) -> None:
        if isinstance(statement, cst.Assign):
            for target in statement.targets:
                names.update(_targets_bound(target.target))
        elif isinstance(statement, (cst.AnnAssign, cst.AugAssign)):
            names.update(_targets_bound(statement.target))
        elif isinstance(statement, cst.Import):
            for alias in statement.names:
                if alias.asname is not None:
                    names.update(_targets_bound(alias.asname.name))
                else:
                    names.add(_import_target(alias.name).split(".")[0])
        elif isinstance(statement, cst.ImportFrom) and not isinstance(statement.names, cst.ImportStar):
            for alias in statement.names:
                if alias.asname is not None:
                    names.update(_targets_bound(alias.asname.name))
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
            names.update(_targets_bound(node.target))
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
                    names.update(_targets_bound(item.asname.name))
            stack.append(node.body)
        elif isinstance(node, (cst.Try, cst.TryStar)):
            stack.append(node.body)
            for handler in node.handlers:
                if handler.name is not None:
                    names.update(_targets_bound(handler.name.name))
                stack.append(handler.body)
            stack.extend(b for b in (node.orelse, node.finalbody) if b is not None)
        elif isinstance(node, cst.Match):
            for case in node.cases:
                stack.append(case.body)
    return names, declared


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


class _Walker(FactsWalker):
    """The walk over libcst's tree. Positions are computed after the walk, in one code
    generation for the nodes that need one (`_Pending` stands for them until then)."""

    def __init__(self, module_name: str, is_package: bool, module: cst.Module) -> None:
        super().__init__(module_name, is_package)
        self.module = module
        self.pending_nodes: List[cst.CSTNode] = []

    # -------------------------------------------------------------- hooks

    def span(self, node: cst.CSTNode) -> Any:
        self.pending_nodes.append(node)
        return _Pending(node)

    def dotted(self, node: cst.BaseExpression) -> Optional[List[str]]:
        return _dotted_parts(node)

    def plain_name(self, node: cst.BaseExpression) -> Optional[str]:
        return node.value if isinstance(node, cst.Name) else None

    def name_attribute(self, node: cst.BaseExpression) -> Optional[Tuple[str, str]]:
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            return node.value.value, node.attr.value
        return None

    def is_call(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Call)

    def call_func(self, node: cst.Call) -> cst.BaseExpression:
        return node.func

    def walk_arm(self, frame: Frame, arm: cst.CSTNode) -> None:
        self._framed(frame, [arm])

    # -------------------------------------------------------------- imports

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
        source = self.relative_module(_import_target(node.module) if node.module else "", len(node.relative))
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

    # -------------------------------------------------------------- expressions

    def expr(self, node: Optional[cst.BaseExpression], depth: int = 0) -> Expr:
        if node is None:
            return Const(None)
        if depth > MAX_EXPR_DEPTH:
            return Unknown(type(node).__name__)
        parts = _dotted_parts(node)
        if parts is not None:
            return dotted_name(parts, self.resolve_name)
        if isinstance(node, (cst.FormattedString, cst.ConcatenatedString)) and _has_fstring(node):
            # an f-string: its literal text, with `{}` for each substitution (URLs, for their paths)
            return Unknown(f"f-string:{_fstring_text(node)}")
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            try:
                return Const(node.evaluated_value)
            except Exception:
                return Unknown("string")
        if isinstance(node, (cst.Integer, cst.Float)):
            return Const(node.evaluated_value)
        if isinstance(node, cst.Call):
            return self.call(node, depth)
        if isinstance(node, cst.Attribute):
            return Attr(self.expr(node.value, depth + 1), node.attr.value)
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            items = tuple(self.expr(e.value, depth + 1) for e in node.elements)
            kind = {cst.List: "list", cst.Tuple: "tuple", cst.Set: "set"}[type(node)]
            return collection(kind, items, any(isinstance(e, cst.StarredElement) for e in node.elements))
        if isinstance(node, cst.Dict):
            keys = [
                self.expr(e.key, depth + 1) if isinstance(e, cst.DictElement) else Unknown("**") for e in node.elements
            ]
            return dictionary(keys, [self.expr(e.value, depth + 1) for e in node.elements])
        if isinstance(node, cst.Await):
            return self.expr(node.expression, depth + 1)  # `row = await repo.get(...)` binds what the call gives
        if isinstance(node, cst.IfExp) and _development_switch(node.test):
            # `max_retries=1 if settings.DEBUG else None`: what production runs with
            return self.expr(node.orelse, depth + 1)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            return negative(self.expr(node.expression, depth + 1))
        if isinstance(node, cst.BinaryOperation):
            left, right = self.expr(node.left, depth + 1), self.expr(node.right, depth + 1)
            return fold_binary(type(node.operator).__name__, left, right)
        if isinstance(node, cst.Subscript):
            index = tuple(
                self.expr(element.slice.value, depth + 1)
                for element in node.slice
                if isinstance(element.slice, cst.Index)
            )
            return Subscript(self.expr(node.value, depth + 1), index)
        return Unknown(type(node).__name__)

    def call(self, node: cst.Call, depth: int = 0) -> Call:
        arguments = ((arg.star, arg.keyword.value if arg.keyword is not None else None, arg.value) for arg in node.args)
        return self.call_fact(node, node.func, arguments, depth)

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

    def _walk_block(self, node: cst.CSTNode) -> None:
        self.walk_statements(node.body)

    def frame_after(self, statement: cst.CSTNode) -> Optional[Frame]:
        if isinstance(statement, cst.If) and statement.orelse is None and _exits(statement.body):
            return self._guard(statement)
        if isinstance(statement, (cst.Try, cst.TryStar)) and _exits(statement.body):
            return self.not_found([h.type for h in statement.handlers if h.type is not None and not _exits(h.body)])
        return None

    def _guard(self, statement: cst.If) -> Frame:
        calls = tuple(self.call(c) for c in _calls_in(statement.test))
        names = tuple(sorted({".".join(p) for p in _names_in(statement.test)}))
        text = _text(self.module, statement.test, 80)
        return Frame("guard", calls, names, text, self.span(statement.test), self.scope_key())

    def _walk_if(self, node: cst.If) -> None:
        """Each arm of an `if` is a branch: writes in different arms never both run."""
        self.walk(node.test)
        # `if flag:` / `if not flag:` on a plain name: a caller passing a constant decides the arm;
        # in `if x and flag:` the flag decides only that the then-arm cannot run
        single = self._arm_test(node.test)
        conjuncts = [] if single else [f for f in map(self._arm_test, _conjuncts(node.test)) if f]
        then, otherwise = self.branch_frames(single, conjuncts, self.span(node.test))
        orelse = node.orelse.body if isinstance(node.orelse, cst.Else) else node.orelse
        self.walk_if_arms(self._guard(node), then, otherwise, node.body, orelse)

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
            return self.comparison_arm(test.left.value, self.expr(test.comparisons[0].comparator))
        return None

    def _walk_with(self, node: cst.With) -> None:
        for item in node.items:
            self.walk(item.item)
            if item.asname is not None and isinstance(item.asname.name, cst.Name):
                self.bind_with_target(item.asname.name.value, self.expr(item.item))
        managers = tuple(self.expr(item.item) for item in node.items)
        self.managed.extend(self.span(item.item) for item in node.items if isinstance(item.item, cst.Call))
        self._framed(Frame("with", managers, span=self.span(node.items[0].item), scope=self.scope_key()), [node.body])

    def _walk_loop(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.For):
            self.walk(node.iter)
            if isinstance(node.target, cst.Name):
                self.bind_loop_target(node.target.value, self.expr(node.iter))
        elif isinstance(node, cst.While):
            self.walk(node.test)
        self._framed(Frame("loop"), [node.body])
        if node.orelse is not None:
            self.walk(node.orelse)

    def _walk_try(self, node: cst.CSTNode) -> None:
        types = tuple(self.expr(h.type) for h in node.handlers if h.type is not None)
        # a handler that treats "409 Conflict" as done: the server refuses a repeat of the call
        conflict = "conflict" if any(_mentions_conflict(h.body) for h in node.handlers) else ""
        self._framed(Frame("try", types, text=conflict), [node.body])
        for handler in node.handlers:
            handled = (self.expr(handler.type),) if handler.type is not None else ()
            span = self.span(handler)
            self.record_handler(handled, span)
            self._framed(Frame("except", handled, span=span, scope=self.scope_key()), [handler.body])
        if node.orelse is not None:
            self.walk(node.orelse)
        if node.finalbody is not None:
            self._framed(Frame("finally"), [node.finalbody])

    def _walk_await(self, node: cst.Await) -> None:
        if isinstance(node.expression, cst.Call):
            self._awaited = node.expression
        self.walk(node.expression)

    def _walk_class(self, node: cst.ClassDef) -> None:
        bases = tuple(self.expr(a.value) for a in node.bases if a.keyword is None and not a.star)
        decorators = tuple(self.expr(d.decorator) for d in node.decorators)
        self.enter_class(node, node.name.value, self.span(node.name), bases, decorators)
        for decorator in node.decorators:
            self.walk(decorator)
        for base in (*node.bases, *node.keywords):
            self.walk(base)
        self.visit_ClassDef_body(node)
        self.walk(node.body)
        self.leave_ClassDef_body(node)
        self.leave_ClassDef(node)

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

    # -------------------------------------------------------------- handlers

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        bound, declared = _local_names(node.body)
        params = _params(node.params)
        names = (bound | {p.name for p in params}) - declared
        fact = FunctionFact(
            qualname=self.qualname(node.name.value),
            name=node.name.value,
            span=self.span(node.name),
            decorators=tuple(self.expr(d.decorator) for d in node.decorators),
            decorator_spans=tuple(self.span(d.decorator) for d in node.decorators),
            decorator_texts=tuple(_text(self.module, d.decorator) for d in node.decorators),
            params=tuple(self.param_fact(p) for p in params),
            class_qualname=self.enclosing_class(),
            parent=self.current_scope() or None,
            is_async=node.asynchronous is not None,
            return_annotation=self.expr(node.returns.annotation) if node.returns is not None else None,
        )
        self.enter_function(node, fact, names)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.record_augmented(node, type(node.operator).__name__.replace("Assign", ""))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._assign(target.target, node.value, node)


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


def _development_switch(test: cst.BaseExpression) -> bool:
    """`settings.DEBUG`, `DEBUG`, `app.config.TESTING`: a switch that is off in production."""
    parts = _dotted_parts(test)
    return parts is not None and parts[-1] in DEVELOPMENT_SWITCHES


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
    return "".join(
        _literal(part.value, node) if isinstance(part, cst.FormattedStringText) else _substitution(part)
        for part in node.parts
    )


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
            # (the space keeps an escaped quote at the end, `\\'`, from closing a triple quote)
            raw = ast.literal_eval(node.quote + raw + " " + node.quote)[:-1]
        except (SyntaxError, ValueError):
            pass
    return raw.replace("{{", "{").replace("}}", "}")


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


def _params(parameters: cst.Parameters) -> List[RawParam]:
    result: List[RawParam] = []
    for p in (*parameters.posonly_params, *parameters.params):
        result.append(_raw(p, "positional"))
    if isinstance(parameters.star_arg, cst.Param):
        result.append(_raw(parameters.star_arg, "var_positional"))
    for p in parameters.kwonly_params:
        result.append(_raw(p, "keyword"))
    if parameters.star_kwarg is not None:
        result.append(_raw(parameters.star_kwarg, "var_keyword"))
    return result


def _raw(param: cst.Param, kind: str) -> RawParam:
    annotation = param.annotation.annotation if param.annotation is not None else None
    return RawParam(param.name.value, kind, param.default, annotation)
