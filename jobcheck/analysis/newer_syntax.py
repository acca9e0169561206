"""Code newer than the running Python, made readable by its `ast` without moving anything.

jobcheck may run on an older Python than the project's (pre-commit's default interpreter, a CI
image). CPython then refuses a file that uses newer syntax, and the file goes to libcst, whose
parser reads every version but costs about ten times as much. The constructs below carry
nothing jobcheck reads, so they are rewritten in place, each character keeping its line and
column (what is blanked becomes spaces), and the rewritten file is parsed again:

- `except A, B:` (3.14, PEP 758) becomes `except(A, B):`;
- the type parameters of `def f[T](...)` and `class C[T]:` (3.12, PEP 695) become spaces;
- a `type X = ...` alias (3.12) with no call in it becomes blank lines.

A rewrite is kept only when the new tree shows that every rewritten line is what it was taken
for (not text inside a string); otherwise the file goes to libcst as before.
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import tokenize
import warnings
from typing import Dict, List, Optional, Tuple

_EXCEPT_TUPLE = re.compile(rb"^([ \t]*except\*?)[ \t]([ \t]*)([\w.]+(?:[ \t]*,[ \t]*[\w.]+)+)([ \t]*):([ \t]*)(.*)$")
_GENERIC_DEFINITION = re.compile(rb"^[ \t]*(?:async[ \t]+def|def|class)[ \t]+\w+[ \t]*(?=\[)")
_TYPE_ALIAS = re.compile(rb"^[ \t]*type[ \t]+\w+[ \t]*[\[=]")
_LONE_CR = re.compile(rb"\r(?!\n)")
_CANDIDATE = re.compile(rb"^[ \t]*(?:except|async|def|class|type)\b", re.MULTILINE)
_BRACKETS = {ord("["): 1, ord("("): 1, ord("{"): 1, ord("]"): -1, ord(")"): -1, ord("}"): -1}

MAX_REWRITES = 200  # per file; a file with more goes to libcst
MAX_ALIAS_LINES = 50

Edit = Tuple[str, int]  # what a line was taken for, and the byte column the tree must show


def parse_downlevel(data: bytes) -> Optional[Tuple[bytes, ast.Module]]:
    """The rewritten file and its tree, or None when a rewrite cannot make CPython read it."""
    if _LONE_CR.search(data):
        return None  # (CPython counts a lone `\r` as a line break; the lines here would be off)
    lines = data.split(b"\n")
    edits: Dict[int, Edit] = {}
    index = counted = aliases = 0
    for match in _CANDIDATE.finditer(data):
        index += data.count(b"\n", counted, match.start())
        counted = match.start()
        if index + 1 in edits:
            continue  # (a line of an alias already blanked)
        aliases += _TYPE_ALIAS.match(lines[index]) is not None
        if aliases > MAX_REWRITES:
            return None  # (each is parsed on its own)
        for line, (rewritten, edit) in _rewrite(lines, index).items():
            lines[line], edits[line + 1] = rewritten, edit
        if len(edits) > MAX_REWRITES:
            return None
    if not edits:
        return None
    source = b"\n".join(lines)
    tree = _parsed(source)
    if tree is None or not _as_taken(tree, edits):
        return None
    blanked = sorted(line for line, (kind, _) in edits.items() if kind == "alias")
    return None if blanked and _inside_brackets(source, blanked) else (source, tree)


def _inside_brackets(source: bytes, lines: List[int]) -> bool:
    """Whether one of these lines lies within brackets of the code around it (an argument
    list, a display), where no node of the tree marks it."""
    depth, pending = 0, list(reversed(lines))
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            while pending and pending[-1] < token.start[0]:
                if depth > 0:
                    return True
                pending.pop()
            if token.type == tokenize.OP:
                depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(token.string, 0)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return True
    return False


def _parsed(source: bytes) -> Optional[ast.Module]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (`invalid escape sequence` and the like: not ours to report)
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _rewrite(lines: List[bytes], index: int) -> Dict[int, Tuple[bytes, Edit]]:
    """The rewritten lines (by index) for the construct that starts at lines[index]."""
    line = lines[index]
    body = line[:-1] if line.endswith(b"\r") else line
    for rewrite in (_except_tuple, _type_parameters):
        done = rewrite(body)
        if done is not None:
            return {index: (done[0] + line[len(body) :], done[1])}
    return _type_alias(lines, index)


def _except_tuple(line: bytes) -> Optional[Tuple[bytes, Edit]]:
    """`except A, B:` -> `except(A, B):`. The `)` takes the place of a space around the colon,
    or of a comment's first character, so what follows the colon keeps its columns."""
    match = _EXCEPT_TUPLE.match(line)
    if match is None:
        return None
    keyword, spaces, names, before_colon, after_colon, rest = match.groups()
    if before_colon:
        before_colon = before_colon[1:]
    elif after_colon:
        after_colon = after_colon[1:]
    elif rest.startswith(b"#") and (len(rest) == 1 or rest[1] < 128):  # (no byte of a character)
        rest = rest[:1] + rest[2:]
    elif rest:
        return None
    new = keyword + b"(" + spaces + names + b")" + before_colon + b":" + after_colon + rest
    return new, ("except", len(keyword))


def _type_parameters(line: bytes) -> Optional[Tuple[bytes, Edit]]:
    """Blank `[...]` after a `def`/`class` name, when it closes on the same line and holds
    type parameters (`T: bound = default`, `*Ts`, `**P`) with no call or display in them."""
    match = _GENERIC_DEFINITION.match(line)
    if match is None:
        return None
    depth = 0
    for position in range(match.end(), len(line)):
        if line[position] in b"\\'\"#" or line[position] > 127:  # (a blanked character keeps its column)
            return None
        depth += _BRACKETS.get(line[position], 0)
        if depth == 0:
            if not _type_parameter_list(line[match.end() + 1 : position]):
                return None
            blank = b" " * (position + 1 - match.end())
            return line[: match.end()] + blank + line[position + 1 :], ("definition", 0)
    return None


def _type_parameter_list(text: bytes) -> bool:
    """`T: (int, str), U = int, *Ts` reads as the parameters of a function (bound as annotation)."""
    if not text.strip():
        return False
    stub = _parsed(b"def _(" + text + b"): pass\n")
    return stub is not None and _plain(stub.body[0].args)


def _type_alias(lines: List[bytes], index: int) -> Dict[int, Tuple[bytes, Edit]]:
    """A `type X = ...` alias becomes blank lines (all its lines, when its brackets span
    several), when it is one statement alone on its lines, with no call or display in it."""
    if _TYPE_ALIAS.match(lines[index]) is None or (index and lines[index - 1].rstrip(b"\r").endswith(b"\\")):
        return {}
    depth = 0
    for end in range(index, min(index + MAX_ALIAS_LINES, len(lines))):
        code = lines[end].split(b"#", 1)[0]
        for byte in code:
            depth += _BRACKETS.get(byte, 0)
        if depth <= 0:
            break
    else:
        return {}
    text = b"\n".join(lines[index : end + 1]).lstrip()
    statement = _parsed(text[len(b"type") :].lstrip())  # `type X[T] = V` -> `X[T] = V`
    if statement is None or len(statement.body) != 1 or not isinstance(statement.body[0], ast.Assign):
        return {}
    assign = statement.body[0]
    if len(assign.targets) != 1 or not _plain(assign):
        return {}
    return {line: (_blank(lines[line]), ("alias", 0)) for line in range(index, end + 1)}


_NOT_PLAIN = (
    ast.Call, ast.Dict, ast.DictComp, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.Lambda,
    ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom, ast.JoinedStr,
)


def _plain(node: ast.AST) -> bool:
    """Nothing in it that the facts record (calls, dict displays) or that binds a name."""
    return not any(isinstance(child, _NOT_PLAIN) for child in ast.walk(node))


def _blank(line: bytes) -> bytes:
    return b" " * len(line.rstrip(b"\r")) + line[len(line.rstrip(b"\r")) :]


def _as_taken(tree: ast.Module, edits: Dict[int, Edit]) -> bool:
    """Every rewritten line is code of the kind it was taken for: an `except` whose types are
    the tuple made, a definition; a blanked alias line lies in no statement (a string, a
    bracket, a header) of the new tree."""
    found: Dict[int, str] = {}
    blanked = sorted(line for line, (kind, _) in edits.items() if kind == "alias")
    statements: List[ast.AST] = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple):
            if edits.get(node.lineno) == ("except", node.type.col_offset):
                found[node.lineno] = "except"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.setdefault(node.lineno, "definition")
        children = list(ast.iter_child_nodes(node))
        inner = [child for child in children if isinstance(child, _BLOCK_PARTS)]
        if blanked and hasattr(node, "lineno"):  # (a `case` has no position of its own)
            # a simple statement is all header; a compound one's header ends with its last expression
            last = node.end_lineno or node.lineno
            if inner:
                header = [c for c in children if not isinstance(c, _BLOCK_PARTS)]
                last = max((n.end_lineno or n.lineno for c in header for n in ast.walk(c) if hasattr(n, "lineno")), default=node.lineno)
            if _covers(blanked, node.lineno, max(last, node.lineno)):
                return False
        statements.extend(inner)
    return all(found.get(line) == kind for line, (kind, _) in edits.items() if kind != "alias")


_BLOCK_PARTS = (ast.stmt, ast.ExceptHandler, *((ast.match_case,) if hasattr(ast, "match_case") else ()))


def _covers(lines: List[int], first: int, last: int) -> bool:
    at = bisect.bisect_left(lines, first)
    return at < len(lines) and lines[at] <= last
