"""Code newer than the running Python, made readable by its `ast` without moving anything.

jobcheck may run on an older Python than the project's (pre-commit's default interpreter, a CI
image). CPython then refuses a file that uses newer syntax, and the file goes to libcst, whose
parser reads every version but costs about ten times as much. The constructs below carry
nothing jobcheck reads, so they are rewritten in place, each character keeping its line and
column (what is blanked becomes spaces), and the rewritten file is parsed again:

- `except A, B:` (3.14, PEP 758) becomes `except(A, B):`;
- the type parameters of `def f[T](...)` and `class C[T]:` (3.12, PEP 695) become spaces;
- a `type X = ...` alias (3.12) with no call in it becomes blank lines;
- a string in an f-string's `{...}` that reuses the f-string's quote (3.12, PEP 701),
  `f'{row['id']}'`, takes the other quote.

A rewrite is kept only when the new tree shows that everything rewritten is what it was taken
for (not text inside a string); otherwise the file goes to libcst as before. The tree is
read against the file as written: its positions are the file's.
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
_BOM = b"\xef\xbb\xbf"
_CANDIDATE = re.compile(rb"^[ \t]*(?:except|async|def|class|type)\b", re.MULTILINE)
_BRACKETS = {ord("["): 1, ord("("): 1, ord("{"): 1, ord("]"): -1, ord(")"): -1, ord("}"): -1}

MAX_REWRITES = 200  # per file; a file with more goes to libcst
MAX_ALIAS_LINES = 50

Edit = Tuple[str, int]  # what a line was taken for, and the byte column the tree must show


def parse_downlevel(data: bytes) -> Optional[Tuple[bytes, ast.Module]]:
    """The rewritten file and its tree, or None when a rewrite cannot make CPython read it."""
    if _LONE_CR.search(data):
        return None  # (CPython counts a lone `\r` as a line break; the lines here would be off)
    swapped = _FStringQuotes(data).swapped() if b"f" in data.lower() and not data.startswith(_BOM) else None
    reused: List[int] = []  # offsets of the string literals whose quotes were swapped
    if swapped is not None:
        data, reused = swapped
    quoted = data  # (the offsets in `reused` are this text's)
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
    if not edits and not reused:
        return None
    source = b"\n".join(lines)
    tree = _parsed(source)
    if tree is None or not _as_taken(tree, edits) or not _strings_in_fstrings(tree, quoted, reused):
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
            if token.type == tokenize.OP and len(token.string) == 1:
                depth += _BRACKETS.get(ord(token.string), 0)
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
    """Each of `T: (int, str), U = int, *Ts, **P` reads as one parameter of a function (its
    bound as the annotation), with no call in it."""
    items, depth, start = [], 0, 0
    for position, byte in enumerate(text):
        depth += _BRACKETS.get(byte, 0)
        if byte == ord(",") and depth == 0:
            items.append(text[start:position])
            start = position + 1
    items.append(text[start:])
    if not items[-1].strip() and len(items) > 1:
        items.pop()  # (a trailing comma)
    for item in items:
        stub = _parsed(b"def _(" + item.strip().lstrip(b"*") + b"): pass\n")
        if stub is None or len(stub.body[0].args.args) != 1 or not _plain(stub.body[0].args):
            return False
    return True


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
                ends = (n.end_lineno or n.lineno for c in header for n in ast.walk(c) if hasattr(n, "lineno"))
                last = max(ends, default=node.lineno)
            if _covers(blanked, node.lineno, max(last, node.lineno)):
                return False
        statements.extend(inner)
    return all(found.get(line) == kind for line, (kind, _) in edits.items() if kind != "alias")


_BLOCK_PARTS = (ast.stmt, ast.ExceptHandler, *((ast.match_case,) if hasattr(ast, "match_case") else ()))


def _covers(lines: List[int], first: int, last: int) -> bool:
    at = bisect.bisect_left(lines, first)
    return at < len(lines) and lines[at] <= last


class _FStringQuotes:
    """PEP 701 (3.12) lets a string inside an f-string's `{...}` use the f-string's own quote:
    `f'{row['id']}'`. Older Pythons read that only with the other quote, `f'{row["id"]}'`,
    which has the same length and value. The scan follows strings, comments and f-string
    replacement fields; anything it does not follow surely (a nested f-string reusing a quote,
    a backslash or the other quote inside the string, a comment in a field) stops it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.text = bytearray(data)
        self.reused: List[int] = []

    def swapped(self) -> Optional[Tuple[bytes, List[int]]]:
        try:
            position = 0
            while True:
                found = _TOKEN_START.search(self.data, position)
                if found is None:
                    break
                if found.group() == b"#":
                    end = self.data.find(b"\n", found.end())
                    position = len(self.data) if end < 0 else end
                else:
                    position = self._string(found, ())
        except (_Unsure, RecursionError):
            return None
        return (bytes(self.text), self.reused) if self.reused else None

    def _string(self, found: "re.Match[bytes]", enclosing: Tuple[bytes, ...]) -> int:
        """Past the end of the string literal `found` starts (its prefix, its quote)."""
        prefix, quote = found.group(1).lower(), found.group(2)
        if b"f" in prefix:
            return self._fstring(found.end(), quote, (*enclosing, quote[:1]))
        return self._plain_end(found.end(), quote)

    def _plain_end(self, position: int, quote: bytes) -> int:
        while True:
            end = self.data.find(quote, position)
            if end < 0 or (len(quote) == 1 and b"\n" in self.data[position:end]):
                raise _Unsure  # (unterminated)
            backslashes = len(self.data[position:end]) - len(self.data[position:end].rstrip(b"\\"))
            if backslashes % 2 == 0:
                return end + len(quote)
            position = end + 1

    def _fstring(self, position: int, quote: bytes, enclosing: Tuple[bytes, ...]) -> int:
        data = self.data
        while position < len(data):
            byte = data[position : position + 1]
            if data.startswith(quote, position):
                return position + len(quote)
            if byte == b"\\":
                position += 2
            elif byte == b"\n" and len(quote) == 1:
                raise _Unsure
            elif data.startswith(b"{{", position) or data.startswith(b"}}", position):
                position += 2
            elif byte == b"{":
                position = self._field(position + 1, quote, enclosing, 0)
            else:
                position += 1
        raise _Unsure

    def _field(self, position: int, quote: bytes, enclosing: Tuple[bytes, ...], nesting: int) -> int:
        """Past the `}` closing a replacement field (expression, conversion, format spec)."""
        data, depth, start, swaps = self.data, 0, position, len(self.reused)
        if nesting > MAX_SPEC_NESTING:
            raise _Unsure
        while position < len(data):
            found = _FIELD_PART.search(data, position)
            if found is None:
                break
            part = found.group()
            if depth == 0 and part in (b"}", b":") and len(self.reused) > swaps:
                expression = _CONVERSION.sub(b"", data[start : found.start()].rstrip())
                if expression.rstrip().endswith(b"="):
                    raise _Unsure  # `{row['id']=}` prints its own text, quotes included
            if found.group(2) is not None:  # a string inside the expression
                position = self._inner_string(found, quote, enclosing)
            elif part in (b"(", b"[", b"{"):
                depth, position = depth + 1, found.end()
            elif part in (b")", b"]") or (part == b"}" and depth > 0):
                depth, position = depth - 1, found.end()
            elif part == b"}":
                return found.end()
            elif part == b":" and depth == 0:  # the format spec: text with fields of its own
                return self._format_spec(found.end(), quote, enclosing, nesting)
            else:  # a comment, a line break in a one-line f-string, a backslash
                raise _Unsure
        raise _Unsure

    def _format_spec(self, position: int, quote: bytes, enclosing: Tuple[bytes, ...], nesting: int) -> int:
        data = self.data
        while position < len(data):
            if data.startswith(quote, position) or data[position : position + 1] in (b"\\", b"\n"):
                raise _Unsure
            if data[position : position + 1] == b"{":
                position = self._field(position + 1, quote, enclosing, nesting + 1)
            elif data[position : position + 1] == b"}":
                return position + 1
            else:
                position += 1
        raise _Unsure

    def _inner_string(self, found: "re.Match[bytes]", quote: bytes, enclosing: Tuple[bytes, ...]) -> int:
        inner = found.group(2)
        if inner[:1] not in enclosing:
            return self._string(found, enclosing)
        other = b'"' if inner[:1] == b"'" else b"'"
        if len(inner) != 1 or b"f" in found.group(1).lower() or other in enclosing:
            raise _Unsure
        end = self.data.find(inner, found.end())
        body = self.data[found.end() : end] if end >= 0 else b"\n"
        if other in body or b"\\" in body or b"\n" in body or b"{" in body or b"}" in body:
            raise _Unsure
        if other in (self.data[found.start() - 1 : found.start()], self.data[end + 1 : end + 2]):
            raise _Unsure  # `''"` would become `"""`
        line_start = self.data.rfind(b"\n", 0, found.start()) + 1
        if not self.data[line_start : found.start()].isascii():
            raise _Unsure  # (the check compares byte columns, which the file's encoding may move)
        self.text[found.end() - 1 : found.end()] = other
        self.text[end : end + 1] = other
        self.reused.append(found.start())
        return end + 1


class _Unsure(Exception):
    pass


_CONVERSION = re.compile(rb"![a-zA-Z]\s*$")
MAX_SPEC_NESTING = 2  # `{x:{w:{n}}}`: deeper, CPython refuses the f-string anyway
_TOKEN_START = re.compile(rb"#|(?<![\w])((?i:[rbuf]|rb|br|fr|rf)?)('\'\'|\"\"\"|'|\")")
_FIELD_PART = re.compile(rb"(?<![\w])((?i:[rbuf]|rb|br|fr|rf)?)('\'\'|\"\"\"|'|\")|[()\[\]{}]|:(?!=)|!=|#|\\|\n")


def _strings_in_fstrings(tree: ast.Module, source: bytes, offsets: List[int]) -> bool:
    """Each swapped literal is a string of an f-string's replacement field in the new tree."""
    if not offsets:
        return True
    starts = [0, *(match.end() for match in re.finditer(rb"\n", source))]
    wanted = {(bisect.bisect_right(starts, at), at - starts[bisect.bisect_right(starts, at) - 1]) for at in offsets}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue):
            for inner in ast.walk(node.value):
                if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                    found.add((inner.lineno, inner.col_offset))
    return wanted <= found
