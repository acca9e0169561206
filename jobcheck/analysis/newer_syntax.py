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
import re
import warnings
from typing import Dict, List, Optional, Tuple

_EXCEPT_TUPLE = re.compile(rb"^([ \t]*except\*?)[ \t]([ \t]*)([\w.]+(?:[ \t]*,[ \t]*[\w.]+)+)([ \t]*):([ \t]*)(.*)$")
_GENERIC_DEFINITION = re.compile(rb"^[ \t]*(?:async[ \t]+def|def|class)[ \t]+\w+[ \t]*(?=\[)")
_TYPE_ALIAS = re.compile(rb"^[ \t]*type[ \t]+\w+[ \t]*[\[=]")
_CALL = re.compile(rb"[\w)\]][ \t]*\(")
_CANDIDATE = re.compile(rb"^[ \t]*(?:except|async|def|class|type)\b", re.MULTILINE)
_BRACKETS = {ord("["): 1, ord("("): 1, ord("{"): 1, ord("]"): -1, ord(")"): -1, ord("}"): -1}

MAX_REWRITES = 200  # per file; a file with more goes to libcst
MAX_ALIAS_LINES = 50

Edit = Tuple[str, int]  # what a line was taken for, and the byte column the tree must show


def parse_downlevel(data: bytes) -> Optional[Tuple[bytes, ast.Module]]:
    """The rewritten file and its tree, or None when a rewrite cannot make CPython read it."""
    lines = data.split(b"\n")
    edits: Dict[int, Edit] = {}
    index = counted = 0
    for match in _CANDIDATE.finditer(data):
        index += data.count(b"\n", counted, match.start())
        counted = match.start()
        if index + 1 in edits:
            continue  # (a line of an alias already blanked)
        for line, (rewritten, edit) in _rewrite(lines, index).items():
            lines[line], edits[line + 1] = rewritten, edit
        if len(edits) > MAX_REWRITES:
            return None
    if not edits:
        return None
    source = b"\n".join(lines)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (`invalid escape sequence` and the like: not ours to report)
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return (source, tree) if _as_taken(tree, edits) else None


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
    elif rest.startswith(b"#"):
        rest = rest[:1] + rest[2:]
    elif rest:
        return None
    new = keyword + b"(" + spaces + names + b")" + before_colon + b":" + after_colon + rest
    return new, ("except", len(keyword))


def _type_parameters(line: bytes) -> Optional[Tuple[bytes, Edit]]:
    """Blank `[...]` after a `def`/`class` name, when it closes on the same line."""
    match = _GENERIC_DEFINITION.match(line)
    if match is None:
        return None
    depth = 0
    for position in range(match.end(), len(line)):
        if line[position] in b"\\'\"#" or line[position] > 127:  # (a blanked character keeps its column)
            return None
        depth += _BRACKETS.get(line[position], 0)
        if depth == 0:
            blank = b" " * (position + 1 - match.end())
            return line[: match.end()] + blank + line[position + 1 :], ("definition", 0)
    return None


def _type_alias(lines: List[bytes], index: int) -> Dict[int, Tuple[bytes, Edit]]:
    """A `type X = ...` alias with no call in it becomes blank lines (all its lines, when its
    brackets span several)."""
    if _TYPE_ALIAS.match(lines[index]) is None:
        return {}
    depth = 0
    for end in range(index, min(index + MAX_ALIAS_LINES, len(lines))):
        code = lines[end].split(b"#", 1)[0]
        if _CALL.search(code) or b"\\" in code or code.count(b'"') % 2 or code.count(b"'") % 2 or b'"""' in code:
            return {}
        for byte in code:
            depth += _BRACKETS.get(byte, 0)
            if depth < 0:
                return {}
        if depth == 0:
            return {line: (_blank(lines[line]), ("alias", 0)) for line in range(index, end + 1)}
    return {}


def _blank(line: bytes) -> bytes:
    return b" " * len(line.rstrip(b"\r")) + line[len(line.rstrip(b"\r")) :]


def _as_taken(tree: ast.Module, edits: Dict[int, Edit]) -> bool:
    """Every rewritten line is code of the kind it was taken for: an `except` whose types are
    the tuple made, a definition; a blanked alias line lies in no string."""
    found: Dict[int, str] = {}
    strings: List[Tuple[int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple):
            if edits.get(node.lineno) == ("except", node.type.col_offset):
                found[node.lineno] = "except"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.setdefault(node.lineno, "definition")
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno != node.lineno:
            strings.append((node.lineno, node.end_lineno or node.lineno))
    for line, (kind, _) in edits.items():
        if kind == "alias":
            if any(first <= line <= last for first, last in strings):
                return False
        elif found.get(line) != kind:
            return False
    return True
