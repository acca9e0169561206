"""Which files to parse, decided on their bytes.

Stage 1 keeps files that import a job framework. The modules kept define the project's
own job vocabulary: its app objects, wrappers, queues and tasks. Stage 2 keeps files that
name one of those modules *and* one of its symbols (`from saleor.celeryconf import app`,
`from polar.worker import actor`, `from .tasks import send_email`), repeated until no
new file qualifies (re-exports). Everything else is parsed only if the analysis reaches
into it (a helper a task calls, a settings module).
"""

from __future__ import annotations

import re
from typing import Dict, FrozenSet, Iterable, Optional, Set

from jobcheck.model import ModuleFacts


class FrameworkImports:
    """Files that import one of the job frameworks' modules."""

    def __init__(self, modules: Iterable[str]) -> None:
        alternatives = b"|".join(re.escape(m.encode()) for m in sorted(set(modules)))
        # `from celery...`, `import celery...`, `import os, celery`
        self.pattern = re.compile(rb"(?:from[ \t]+|import[ \t]+" + _LISTED + rb")(?:" + alternatives + rb")\b")

    def search(self, imports: bytes) -> bool:
        """`imports`: the file's import statements (`ImportStatements.text`)."""
        return any(_first_on_line(imports, m.start()) for m in self.pattern.finditer(imports))


class ImportStatements:
    """Each file's import statements, and the words in them, found once for all the rounds
    (the file's bytes are the key)."""

    def __init__(self) -> None:
        self._texts: Dict[bytes, bytes] = {}
        self._words: Dict[bytes, FrozenSet[bytes]] = {}

    def text(self, data: bytes) -> bytes:
        found = self._texts.get(data)
        if found is None:
            found = self._texts[data] = import_text(data)
        return found

    def words(self, data: bytes) -> FrozenSet[bytes]:
        found = self._words.get(data)
        if found is None:
            found = self._words[data] = frozenset(WORD.findall(self.text(data)))
        return found


_LISTED = rb"(?:[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*,[ \t]*)*"  # modules before it in `import a, b as c, x`


def _first_on_line(data: bytes, at: int) -> bool:
    return not data[data.rfind(b"\n", 0, at) + 1 : at].strip(b" \t")


class SymbolNeedles:
    """`module word` + `symbol word` pairs, matched on bytes with word boundaries."""

    def __init__(self, imports: Optional[ImportStatements] = None) -> None:
        self.symbols: Dict[str, Set[str]] = {}
        self.package_symbols: Set[str] = set()  # reachable as `from .. import name`
        self.imports = imports or ImportStatements()

    def known(self) -> Set[str]:
        return {name for names in self.symbols.values() for name in names}

    def add(self, module: str, names: Iterable[str], package: bool = False) -> None:
        names = {n for n in names if len(n) > 1}
        if names and module.rsplit(".", 1)[-1].isidentifier():  # `0042_migration` cannot be imported
            self.symbols.setdefault(module.rsplit(".", 1)[-1], set()).update(names)
            if package:
                self.package_symbols |= names

    def add_reexports(self, facts: ModuleFacts, known: Set[str]) -> None:
        """A module that imports a job symbol at top level re-exports it."""
        self.add(facts.module, {local for local, _ in facts.imports} & known, facts.is_package)

    def matcher(self) -> "NeedleMatcher":
        return NeedleMatcher(self.symbols, self.package_symbols, self.imports)


# Patterns start with a literal, not with `^` in MULTILINE mode, which Python's `re` tries at
# every position (four times slower); where a match starts is checked after.
RELATIVE_PACKAGE_IMPORT = re.compile(rb"from[ \t]+\.+[ \t]+import\b")
IMPORT_KEYWORD = re.compile(rb"import\b")
# before `import`, on its line: `from a.b`, `from ..a`, `from . `, `from a . b` (each part
# matched one way only: no backtracking blow-up on long dotted names)
FROM_HEAD = re.compile(rb"(?:^|[;:])[ \t]*(from[ \t]+(?:\.[ \t]*)*\w*(?:[ \t]*\.[ \t]*\w+)*[ \t]+)$")
IMPORTED_NAMES = re.compile(rb"[ \t]*(?:\([^)]*\)|[^\n]*)")  # a parenthesised list may span lines
CONTINUATION = re.compile(rb"\\\r?\n")
BOM = b"\xef\xbb\xbf"


def import_text(data: bytes) -> bytes:
    """The file's import statements, one per line: found from the `import` keyword (a literal
    search) and read back to the `from` before it."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    if b"\\" in data:
        data = _join_continued_lines(data)
    statements = []
    for match in IMPORT_KEYWORD.finditer(data):
        at = match.start()
        if at and data[at - 1] not in b" \t\n;:":
            continue  # `__import__`, `reimport`
        head = data[data.rfind(b"\n", 0, at) + 1 : at]
        before = head.rstrip(b" \t")
        if not before or before[-1:] in (b";", b":"):  # `import x`, `if X: import x`
            end = data.find(b"\n", at)
            statements.append(data[at : end if end >= 0 else len(data)])
            continue
        found = FROM_HEAD.search(head)
        if found:
            names = IMPORTED_NAMES.match(data, at + len(b"import"))
            statements.append(found.group(1) + b"import" + (names.group() if names else b""))
    return b"\n".join(statements)


def _join_continued_lines(data: bytes) -> bytes:
    """Lines ended by a backslash joined to the next, except in a comment (`# C:\\temp\\`)."""

    def join(match: "re.Match[bytes]") -> bytes:
        line = data[data.rfind(b"\n", 0, match.start()) + 1 : match.start()]
        return match.group() if b"#" in line else b" "

    return CONTINUATION.sub(join, data)


def imports_from_package(data: bytes) -> bool:
    """Whether the file has a `from . import name` (or `from .. import`)."""
    return any(_first_on_line(data, m.start()) for m in RELATIVE_PACKAGE_IMPORT.finditer(data))


class NeedleMatcher:
    def __init__(
        self,
        symbols: Dict[str, Set[str]],
        package_symbols: Set[str],
        imports: Optional[ImportStatements] = None,
    ) -> None:
        self.modules = frozenset(m.encode() for m, names in symbols.items() if names)
        self.by_module = {m.encode(): _Words(names) for m, names in symbols.items() if names}
        self.package_symbols = _Words(package_symbols) if package_symbols else None
        self.imports = imports or ImportStatements()

    def matches(self, data: bytes) -> bool:
        if self.package_symbols is not None and self.package_symbols.search(data) and imports_from_package(data):
            return True
        if not self.modules:
            return False
        # the module must be imported, not merely named (a lexer's keyword list names everything)
        return any(self.by_module[found].search(data) for found in self.imports.words(data) & self.modules)


WORD = re.compile(rb"\w+")


class _Words:
    """Whole words, found by an expression that starts with the words themselves: a leading
    `\\b` would make Python's `re` try it at every position (ten times slower)."""

    def __init__(self, words: Iterable[str]) -> None:
        alternatives = b"|".join(re.escape(w.encode()) for w in sorted(words, key=len, reverse=True))
        self.pattern = re.compile(rb"(?:" + alternatives + rb")\b")

    def search(self, data: bytes) -> bool:
        # a match preceded by a word character is inside a longer word, as is any match that
        # could start within it (words are identifiers)
        return any(m.start() == 0 or data[m.start() - 1] not in _WORD_BYTES for m in self.pattern.finditer(data))


_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
