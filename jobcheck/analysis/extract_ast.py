"""The same facts as `extract`, from CPython's `ast` instead of libcst: about seven times
cheaper per line (no concrete syntax tree to build, positions come with the nodes).

Every file is read this way first; libcst reads the task modules and the files findings
are reported in once more, and its facts are the ones the run keeps (`engine`). The two
walks must give identical facts: tests compare them on every fixture and on generated
code. Scopes, name resolution and the facts collected are shared (`facts_walker`); this
module reads `ast` nodes the way `extract` reads libcst's, where the trees differ in shape.
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import tokenize
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

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
from jobcheck.model import Attr, Call, Const, Expr, Frame, FunctionFact, ModuleFacts, Span, Subscript, Unknown

_SINGLETONS = {True: "True", False: "False", None: "None"}
_TRY_TYPES = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t is not None)
_MATCH = getattr(ast, "Match", None)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_WITHS = (ast.With, ast.AsyncWith)
_FORS = (ast.For, ast.AsyncFor)

# libcst's names for operators and for expressions that are kept as Unknown(type name)
_OPERATORS = {
    "Add": "Add",
    "Sub": "Subtract",
    "Mult": "Multiply",
    "MatMult": "MatrixMultiply",
    "Div": "Divide",
    "FloorDiv": "FloorDivide",
    "Mod": "Modulo",
    "Pow": "Power",
    "LShift": "LeftShift",
    "RShift": "RightShift",
    "BitOr": "BitOr",
    "BitAnd": "BitAnd",
    "BitXor": "BitXor",
}
_CST_NAMES = {
    "Compare": "Comparison",
    "BoolOp": "BooleanOperation",
    "UnaryOp": "UnaryOperation",
    "Starred": "StarredElement",
    "Slice": "Slice",
}


def extract(tree: ast.Module, text: str, path: str, module_name: str, is_package: bool) -> ModuleFacts:
    """Facts of a module from its `ast` tree and its decoded text."""
    walker = _AstWalker(module_name, is_package, _Source(text))
    walker.collect_module_names(tree)
    walker.walk_statements(tree.body)
    return walker.module_facts(path, is_package)


def decode(data: bytes) -> str:
    """The module's text as CPython reads it (coding cookie, BOM)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


_LINE_BREAK = re.compile(r"\r\n?|\n")
# what comes before a definition's name
_DEFINITION_KEYWORD = {word: re.compile(rf"(?:async\s+)?{word}(?:\s|\\\r?\n)+") for word in ("def", "class")}


class _Source:
    """The module's lines, to turn `ast`'s UTF-8 byte columns into code-point columns and
    to quote source text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = _LINE_BREAK.split(text)
        self.line_starts = [0]
        for match in _LINE_BREAK.finditer(text):
            self.line_starts.append(match.end())

    def column(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def offset(self, line: int, col: int) -> int:
        return self.line_starts[line - 1] + col

    def span(self, node: ast.AST) -> Span:
        line, end_line = node.lineno, node.end_lineno or node.lineno
        return (
            line,
            self.column(line, node.col_offset),
            end_line,
            self.column(end_line, node.end_col_offset or 0),
        )

    def segment(self, node: ast.AST) -> Tuple[int, int]:
        line, col, end_line, end_col = self.span(node)
        return self.offset(line, col), self.offset(end_line, end_col)


def _dotted_parts(node: ast.AST) -> Optional[List[str]]:
    parts: List[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Constant) and _is_singleton(node.value):
        parts.append(_SINGLETONS[node.value])  # libcst reads `True`, `None` as names
    else:
        return None
    parts.reverse()
    return parts


def _is_singleton(value: Any) -> bool:
    return value is True or value is False or value is None


def _name_of(node: ast.AST) -> Optional[str]:
    """A plain name, `True`/`False`/`None` included (libcst's `Name`)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and _is_singleton(node.value):
        return _SINGLETONS[node.value]
    return None


def _targets_bound(target: ast.AST) -> List[str]:
    """The names an assignment target binds: `a`, `a, (b, *c)`."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _targets_bound(element)]
    if isinstance(target, ast.Starred):
        return _targets_bound(target.value)
    return []


def _local_names(body: Sequence[ast.stmt]) -> Tuple[Set[str], Set[str]]:
    """As `extract._local_names`: names bound in a function body, and its global/nonlocal names."""
    names: Set[str] = set()
    declared: Set[str] = set()

    stack: List[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_targets_bound(target))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            names.update(_targets_bound(node.target))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None:
                    names.add(alias.asname)
                else:
                    names.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    break
                names.add(alias.asname if alias.asname is not None else alias.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, _FORS):
            names.update(_targets_bound(node.target))
            stack.extend(node.body)
            stack.extend(node.orelse)
        elif isinstance(node, (ast.While, ast.If)):
            stack.extend(node.body)
            stack.extend(node.orelse)
        elif isinstance(node, _WITHS):
            for item in node.items:
                if item.optional_vars is not None:
                    names.update(_targets_bound(item.optional_vars))
            stack.extend(node.body)
        elif isinstance(node, _TRY_TYPES):
            stack.extend(node.body)
            for handler in node.handlers:
                if handler.name is not None:
                    names.add(handler.name)
                stack.extend(handler.body)
            stack.extend(node.orelse)
            stack.extend(node.finalbody)
        elif _MATCH is not None and isinstance(node, _MATCH):
            for case in node.cases:
                stack.extend(case.body)
    return names, declared


def _exits(body: Sequence[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Return, ast.Raise, ast.Continue))


def _children(node: ast.AST) -> List[ast.AST]:
    """Children in libcst's walk order, annotations left out."""
    kind = type(node)
    if kind is ast.Call:
        return [node.func, *_call_arguments(node)]
    if kind is ast.Dict:
        return [child for key, value in zip(node.keys, node.values) for child in (key, value) if child is not None]
    result = []
    for name in _child_fields(kind):
        value = getattr(node, name, None)
        if isinstance(value, list):
            result.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            result.append(value)
    return result


_SKIPPED_FIELDS = frozenset({"annotation", "returns", "ctx", "op", "ops", "type_comment", "type_params"})
_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _child_fields(kind: type) -> Tuple[str, ...]:
    """The fields of a node type that can hold nodes (not names, numbers or flags)."""
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f for f in kind._fields if f not in _SKIPPED_FIELDS and f not in _PLAIN_FIELDS)
    return names


# fields that hold strings, numbers or flags in every node type that has them
_PLAIN_FIELDS = frozenset({"id", "attr", "arg", "name", "names", "module", "level", "conversion", "is_async", "kind"})


def _argument(node: ast.AST) -> Tuple[str, Optional[str], ast.AST]:
    """(star, keyword, value) of an argument, as libcst's `Arg` has them."""
    if isinstance(node, ast.Starred):
        return "*", None, node.value
    if isinstance(node, ast.keyword):
        return ("**", None, node.value) if node.arg is None else ("", node.arg, node.value)
    return "", None, node


def _call_arguments(node: ast.Call) -> List[ast.AST]:
    """Positional and keyword arguments in source order (`f(a=1, *rest)` is valid Python)."""
    if not node.keywords or not node.args:
        return [*node.args, *node.keywords]
    return sorted([*node.args, *node.keywords], key=lambda n: (n.lineno, n.col_offset))


def _calls_in(node: ast.AST) -> List[ast.Call]:
    found: List[ast.Call] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            found.append(current)
            continue
        if not isinstance(current, ast.Lambda):
            stack.extend(_children(current))
    return found


def _names_in(node: ast.AST) -> List[List[str]]:
    found: List[List[str]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        parts = _dotted_parts(current) if isinstance(current, (ast.Name, ast.Attribute, ast.Constant)) else None
        if parts is not None:
            found.append(parts)
            continue
        # libcst keeps an attribute's name and a keyword's name as `Name` nodes, read as names too
        if isinstance(current, ast.Attribute):
            found.append([current.attr])
        elif isinstance(current, ast.keyword) and current.arg is not None:
            found.append([current.arg])
        elif isinstance(current, ast.arg):
            found.append([current.arg])  # a lambda's parameter
        stack.extend(_children(current))
    return found


def _flag_test(test: ast.AST) -> Optional[Tuple[str, bool]]:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        name = _name_of(test.operand)
        return (name, False) if name is not None else None
    name = _name_of(test)
    return (name, True) if name is not None else None


def _conjuncts(test: ast.AST) -> List[ast.AST]:
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return [part for value in test.values for part in _conjuncts(value)]
    return [test]


def _development_switch(test: ast.AST) -> bool:
    parts = _dotted_parts(test)
    return parts is not None and parts[-1] in DEVELOPMENT_SWITCHES


def _mentions_conflict(body: Sequence[ast.stmt]) -> bool:
    stack: List[ast.AST] = list(body)
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Constant) and type(current.value) is int and current.value == 409:
            return True
        if isinstance(current, ast.Name) and current.id in CONFLICT_NAMES:
            return True
        if isinstance(current, ast.Attribute) and current.attr in CONFLICT_NAMES:
            return True  # `status.HTTP_409_CONFLICT`
        stack.extend(ast.iter_child_nodes(current))
    return False


def _flatten_top_level(body: Sequence[ast.stmt]) -> List[ast.stmt]:
    """Top-level statements, looking into `if`/`try`/`with` blocks (guarded imports)."""
    result: List[ast.stmt] = []
    stack = list(reversed(body))
    while stack:
        statement = stack.pop()
        result.append(statement)
        blocks: List[ast.stmt] = []
        if isinstance(statement, ast.If):
            blocks = [*statement.body, *statement.orelse]
        elif isinstance(statement, _TRY_TYPES) and not _is_try_star(statement):
            blocks = [*statement.body, *(s for h in statement.handlers for s in h.body), *statement.orelse]
        elif isinstance(statement, _WITHS):
            blocks = list(statement.body)
        stack.extend(reversed(blocks))
    return result


def _is_try_star(node: ast.AST) -> bool:
    return type(node).__name__ == "TryStar"


def _bound_names(target: ast.AST) -> List[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _bound_names(e)]
    return []


def _params(arguments: ast.arguments) -> List[RawParam]:
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: List[Optional[ast.AST]] = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    result = [_param(arg, "positional", default) for arg, default in zip(positional, defaults)]
    if arguments.vararg is not None:
        result.append(_param(arguments.vararg, "var_positional", None))
    result.extend(_param(arg, "keyword", default) for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults))
    if arguments.kwarg is not None:
        result.append(_param(arguments.kwarg, "var_keyword", None))
    return result


def _param(arg: ast.arg, kind: str, default: Optional[ast.AST]) -> RawParam:
    return RawParam(arg.arg, kind, default, arg.annotation)


def _defaults_in_walk_order(arguments: ast.arguments) -> List[ast.AST]:
    """Default values in the order libcst's walk meets them: plain parameters, keyword-only,
    then positional-only."""
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    cut = len(arguments.posonlyargs)
    ordered = [*defaults[cut:], *arguments.kw_defaults, *defaults[:cut]]
    return [d for d in ordered if d is not None]


class _AstWalker(FactsWalker):
    def __init__(self, module_name: str, is_package: bool, source: _Source) -> None:
        super().__init__(module_name, is_package)
        self.source = source

    # -------------------------------------------------------------- hooks

    def span(self, node: ast.AST) -> Span:
        return self.source.span(node)

    def dotted(self, node: ast.AST) -> Optional[List[str]]:
        return _dotted_parts(node)

    def plain_name(self, node: ast.AST) -> Optional[str]:
        return node.id if isinstance(node, ast.Name) else None

    def name_attribute(self, node: ast.AST) -> Optional[Tuple[str, str]]:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return node.value.id, node.attr
        return None

    def is_call(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Call)

    def call_func(self, node: ast.Call) -> ast.AST:
        return node.func

    def walk_arm(self, frame: Frame, arm: Sequence[ast.stmt]) -> None:
        self.frames.append(frame)
        self.walk_statements(arm)
        self.frames.pop()

    def name_span(self, node: ast.AST, keyword: str) -> Span:
        """The span of a `def`/`class` name (ast keeps the name as a string)."""
        start = self.source.offset(node.lineno, self.source.column(node.lineno, node.col_offset))
        match = _DEFINITION_KEYWORD[keyword].match(self.source.text, start)
        at = match.end() if match else start
        line = bisect.bisect_right(self.source.line_starts, at)
        col = at - self.source.line_starts[line - 1]
        return (line, col, line, col + _identifier_length(self.source.text, at))

    def text(self, node: ast.AST, limit: int = 120) -> str:
        """The node's source as libcst quotes it: with the parentheses around it."""
        start, end = self.source.segment(node)
        source = self.source.text
        while True:
            before, after = _space_before(source, start), _space_after(source, end)
            if before >= 0 and after < len(source) and source[before] == "(" and source[after] == ")":
                start, end = before, after + 1
            else:
                break
        text = " ".join(source[start:end].split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    # -------------------------------------------------------------- imports

    def collect_module_names(self, module: ast.Module) -> None:
        for statement in _flatten_top_level(module.body):
            if isinstance(statement, (*_FUNCTIONS, ast.ClassDef)):
                self.module_names.add(statement.name)
            elif isinstance(statement, ast.Import):
                self._record_import(statement, self.imports)
            elif isinstance(statement, ast.ImportFrom):
                self._record_import_from(statement, self.imports)
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                for target in targets:
                    self.module_names.update(_bound_names(target))

    def _record_import(self, node: ast.Import, table: Dict[str, str]) -> None:
        for alias in node.names:
            if alias.asname is not None:
                table[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                table[head] = head

    def _record_import_from(self, node: ast.ImportFrom, table: Dict[str, str]) -> None:
        source = self.relative_module(node.module or "", node.level or 0)
        if node.names and node.names[0].name == "*":
            if table is self.imports and source:
                self.star_imports.append(source)
            return
        for alias in node.names:
            local = alias.asname if alias.asname is not None else alias.name
            table[local] = f"{source}.{alias.name}" if source else alias.name

    # -------------------------------------------------------------- expressions

    def expr(self, node: Optional[ast.AST], depth: int = 0) -> Expr:
        if node is None:
            return Const(None)
        if depth > MAX_EXPR_DEPTH:
            return Unknown(_cst_name(node))
        parts = _dotted_parts(node)
        if parts is not None:
            return dotted_name(parts, self.resolve_name)
        if isinstance(node, ast.Constant):
            return _constant(node)
        if isinstance(node, ast.JoinedStr):
            return Unknown("f-string:" + _fstring_text(node))
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Attribute):
            return Attr(self.expr(node.value, depth + 1), node.attr)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = tuple(self.expr(e.value if isinstance(e, ast.Starred) else e, depth + 1) for e in node.elts)
            kind = {ast.List: "list", ast.Tuple: "tuple", ast.Set: "set"}[type(node)]
            return collection(kind, items, any(isinstance(e, ast.Starred) for e in node.elts))
        if isinstance(node, ast.Dict):
            keys = [self.expr(k, depth + 1) if k is not None else Unknown("**") for k in node.keys]
            return dictionary(keys, [self.expr(v, depth + 1) for v in node.values])
        if isinstance(node, ast.Await):
            return self.expr(node.value, depth + 1)
        if isinstance(node, ast.IfExp) and _development_switch(node.test):
            return self.expr(node.orelse, depth + 1)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return negative(self.expr(node.operand, depth + 1))
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left, depth + 1), self.expr(node.right, depth + 1)
            return fold_binary(_OPERATORS.get(type(node.op).__name__, type(node.op).__name__), left, right)
        if isinstance(node, ast.Subscript):
            return Subscript(self.expr(node.value, depth + 1), self._index(node.slice, depth))
        return Unknown(_cst_name(node))

    def _index(self, node: ast.AST, depth: int) -> Tuple[Expr, ...]:
        """libcst's subscript elements: `x[a, b]` has two, a slice none."""
        if isinstance(node, ast.Tuple) and not self._parenthesized(node):
            return tuple(self.expr(e, depth + 1) for e in node.elts if not isinstance(e, ast.Slice))
        if isinstance(node, ast.Slice):
            return ()
        return (self.expr(node, depth + 1),)

    def _parenthesized(self, node: ast.AST) -> bool:
        start, _ = self.source.segment(node)
        return self.source.text[start : start + 1] == "("

    def call(self, node: ast.Call, depth: int = 0) -> Call:
        return self.call_fact(node, node.func, map(_argument, _call_arguments(node)), depth)

    # -------------------------------------------------------------- the walk

    def walk(self, node: ast.AST) -> None:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(self, node)
        else:
            self.walk_children(node)

    def walk_children(self, node: ast.AST) -> None:
        for child in _children(node):
            self.walk(child)

    def frame_after(self, statement: ast.stmt) -> Optional[Frame]:
        if isinstance(statement, ast.If) and not statement.orelse and _exits(statement.body):
            return self._guard(statement)
        if isinstance(statement, _TRY_TYPES) and _exits(statement.body):
            return self.not_found([h.type for h in statement.handlers if h.type is not None and not _exits(h.body)])
        return None

    def _guard(self, statement: ast.If) -> Frame:
        calls = tuple(self.call(c) for c in _calls_in(statement.test))
        names = tuple(sorted({".".join(p) for p in _names_in(statement.test)}))
        return Frame("guard", calls, names, self.text(statement.test, 80), self.span(statement.test), self.scope_key())

    def _walk_function(self, node: ast.FunctionDef) -> None:
        self.visit_FunctionDef(node)
        for decorator in node.decorator_list:
            self.walk(decorator)
        for default in _defaults_in_walk_order(node.args):
            self.walk(default)
        self.visit_FunctionDef_body(node)
        outer_frames, self.frames = self.frames, []
        self.walk_statements(node.body)
        self.frames = outer_frames
        self.leave_FunctionDef_body(node)
        self.leave_FunctionDef(node)

    def _walk_if(self, node: ast.If) -> None:
        self.walk(node.test)
        single = self._arm_test(node.test)
        conjuncts = [] if single else [f for f in map(self._arm_test, _conjuncts(node.test)) if f]
        then, otherwise = self.branch_frames(single, conjuncts, self.span(node.test))
        self.walk_if_arms(self._guard(node), then, otherwise, node.body, node.orelse)

    def _arm_test(self, test: ast.AST) -> Optional[Tuple[str, Expr]]:
        flag = _flag_test(test)
        if flag is not None:
            return flag[0], Const(flag[1])
        left = _name_of(test.left) if isinstance(test, ast.Compare) else None
        if left is not None and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.Is)):
            return self.comparison_arm(left, self.expr(test.comparators[0]))
        return None

    def _walk_with(self, node: ast.With) -> None:
        for item in node.items:
            self.walk(item.context_expr)
            if isinstance(item.optional_vars, ast.Name):
                self.bind_with_target(item.optional_vars.id, self.expr(item.context_expr))
        managers = tuple(self.expr(item.context_expr) for item in node.items)
        self.managed.extend(
            self.span(item.context_expr) for item in node.items if isinstance(item.context_expr, ast.Call)
        )
        span = self.span(node.items[0].context_expr)
        self.walk_arm(Frame("with", managers, span=span, scope=self.scope_key()), node.body)

    def _walk_loop(self, node: ast.AST) -> None:
        if isinstance(node, _FORS):
            self.walk(node.iter)
            if isinstance(node.target, ast.Name):
                self.bind_loop_target(node.target.id, self.expr(node.iter))
        else:
            self.walk(node.test)
        self.walk_arm(Frame("loop"), node.body)
        self.walk_statements(node.orelse)

    def _walk_try(self, node: ast.AST) -> None:
        types = tuple(self.expr(h.type) for h in node.handlers if h.type is not None)
        conflict = "conflict" if any(_mentions_conflict(h.body) for h in node.handlers) else ""
        self.walk_arm(Frame("try", types, text=conflict), node.body)
        for handler in node.handlers:
            handled = (self.expr(handler.type),) if handler.type is not None else ()
            span = self.span(handler)
            self.record_handler(handled, span)
            self.walk_arm(Frame("except", handled, span=span, scope=self.scope_key()), handler.body)
        self.walk_statements(node.orelse)
        if node.finalbody:
            self.walk_arm(Frame("finally"), node.finalbody)

    def _walk_match(self, node: ast.AST) -> None:
        self.walk(node.subject)
        for case in node.cases:  # libcst's order: the body, then the guard
            self.walk_statements(case.body)
            if case.guard is not None:
                self.walk(case.guard)

    def _walk_await(self, node: ast.Await) -> None:
        if isinstance(node.value, ast.Call):
            self._awaited = node.value
        self.walk(node.value)

    def _walk_class(self, node: ast.ClassDef) -> None:
        bases = tuple(self.expr(b) for b in node.bases if not isinstance(b, ast.Starred))
        decorators = tuple(self.expr(d) for d in node.decorator_list)
        self.enter_class(node, node.name, self.name_span(node, "class"), bases, decorators)
        for child in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            self.walk(child)
        self.visit_ClassDef_body(node)
        self.walk_statements(node.body)
        self.leave_ClassDef_body(node)
        self.leave_ClassDef(node)

    def _walk_dict(self, node: ast.Dict) -> None:
        if not any(scope.kind == "function" for scope in self.scopes):
            for key in node.keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    self.dict_keys.append((key.value, self.span(key)))
        self.walk_children(node)

    def _walk_then_children(self, node: ast.AST) -> None:
        _VISITS[type(node)](self, node)
        self.walk_children(node)

    # -------------------------------------------------------------- handlers

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        bound, declared = _local_names(node.body)
        params = _params(node.args)
        names = (bound | {p.name for p in params}) - declared
        fact = FunctionFact(
            qualname=self.qualname(node.name),
            name=node.name,
            span=self.name_span(node, "def"),
            decorators=tuple(self.expr(d) for d in node.decorator_list),
            decorator_spans=tuple(self.span(d) for d in node.decorator_list),
            decorator_texts=tuple(self.text(d) for d in node.decorator_list),
            params=tuple(self.param_fact(p) for p in params),
            class_qualname=self.enclosing_class(),
            parent=self.current_scope() or None,
            is_async=isinstance(node, ast.AsyncFunctionDef),
            return_annotation=self.expr(node.returns) if node.returns is not None else None,
        )
        self.enter_function(node, fact, names)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.record_augmented(node, _OPERATORS.get(type(node.op).__name__, type(node.op).__name__))

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._assign(target, node.value, node)


_SPACE = " \t\f\r\n\\"


def _space_before(source: str, at: int) -> int:
    """The last position before `at` that is not white space, a line continuation or a comment."""
    at -= 1
    while at >= 0 and source[at] in _SPACE:
        if source[at] == "\n":
            line_start = source.rfind("\n", 0, at) + 1
            comment = _comment_start(source[line_start:at])
            if comment is not None:
                at = line_start + comment  # the comment ends that line
        at -= 1
    return at


def _comment_start(line: str) -> Optional[int]:
    """Where a line's comment starts, outside string literals (None: no comment)."""
    if "#" not in line:
        return None
    quote = ""
    escaped = False
    for index, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#":
            return index
    return None


def _space_after(source: str, at: int) -> int:
    """The first position from `at` that is not white space, a line continuation or a comment."""
    while at < len(source):
        if source[at] == "#":
            at = source.find("\n", at)
            if at < 0:
                return len(source)
        elif source[at] not in _SPACE:
            break
        at += 1
    return at


def _identifier_length(text: str, at: int) -> int:
    """The length of the name at `at` as written (`ast` gives it NFKC-normalised; `\\w` leaves
    out combining marks that names may hold)."""
    end = at
    while end < len(text) and ("_" + text[end]).isidentifier():
        end += 1
    return end - at


def _constant(node: ast.Constant) -> Expr:
    value = node.value
    if value is Ellipsis:
        return Unknown("Ellipsis")
    if isinstance(value, complex):
        return Unknown("Imaginary")
    return Const(value)


def _cst_name(node: ast.AST) -> str:
    name = type(node).__name__
    return _CST_NAMES.get(name, name)


def _fstring_text(node: ast.JoinedStr) -> str:
    """An f-string's literal text with `{}` for each substitution."""
    return "".join(
        v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}" for v in node.values
    )


_HANDLERS: Dict[type, Any] = {
    ast.FunctionDef: _AstWalker._walk_function,
    ast.AsyncFunctionDef: _AstWalker._walk_function,
    ast.ClassDef: _AstWalker._walk_class,
    ast.Call: _AstWalker._walk_call,
    ast.Import: _AstWalker.visit_Import,
    ast.ImportFrom: _AstWalker.visit_ImportFrom,
    ast.Assign: _AstWalker._walk_then_children,
    ast.AnnAssign: _AstWalker._walk_then_children,
    ast.AugAssign: _AstWalker._walk_then_children,
    ast.NamedExpr: _AstWalker._walk_then_children,
    ast.Return: _AstWalker._walk_then_children,
    ast.Raise: _AstWalker._walk_then_children,
    ast.Dict: _AstWalker._walk_dict,
    ast.With: _AstWalker._walk_with,
    ast.AsyncWith: _AstWalker._walk_with,
    ast.If: _AstWalker._walk_if,
    ast.For: _AstWalker._walk_loop,
    ast.AsyncFor: _AstWalker._walk_loop,
    ast.While: _AstWalker._walk_loop,
    ast.ListComp: _AstWalker._walk_comprehension,
    ast.SetComp: _AstWalker._walk_comprehension,
    ast.DictComp: _AstWalker._walk_comprehension,
    ast.GeneratorExp: _AstWalker._walk_comprehension,
    ast.Lambda: _AstWalker._walk_lambda,
    ast.Await: _AstWalker._walk_await,
    ast.Constant: _AstWalker._skip,
    ast.Name: _AstWalker._skip,
}
for _try in _TRY_TYPES:
    _HANDLERS[_try] = _AstWalker._walk_try
if _MATCH is not None:
    _HANDLERS[_MATCH] = _AstWalker._walk_match

_VISITS: Dict[type, Any] = {
    ast.Assign: _AstWalker.visit_Assign,
    ast.AnnAssign: _AstWalker.visit_AnnAssign,
    ast.AugAssign: _AstWalker.visit_AugAssign,
    ast.NamedExpr: _AstWalker.visit_NamedExpr,
    ast.Return: _AstWalker.visit_Return,
    ast.Raise: _AstWalker.visit_Raise,
}
