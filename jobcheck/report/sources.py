"""The text of reported files, read once per report, as tools that consume reports see it."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from jobcheck.report.fingerprint import LINE_BREAK, decode_like_node, primary_location_line_hashes


class Sources:
    def __init__(self, root: Path, texts: Optional[Dict[str, bytes]] = None) -> None:
        self.root = root
        self.texts = texts or {}  # what the run analysed (a file read from stdin included)
        self._texts: Dict[str, Optional[str]] = {}
        self._lines: Dict[str, List[str]] = {}
        self._hashes: Dict[str, Dict[int, str]] = {}

    @classmethod
    def of(cls, result) -> "Sources":
        """The sources of a run: its files as analysed (stdin included), else from disk."""
        return cls(result.root, getattr(result.project, "texts", None))

    def text(self, path: str) -> Optional[str]:
        if path not in self._texts:
            try:
                data = self.texts[path] if path in self.texts else (self.root / path).read_bytes()
                self._texts[path] = decode_like_node(data)
            except OSError:
                self._texts[path] = None
        return self._texts[path]

    def lines(self, path: str) -> List[str]:
        if path not in self._lines:
            text = self.text(path)
            self._lines[path] = LINE_BREAK.split(text) if text is not None else []
        return self._lines[path]

    def line(self, path: str, number: int) -> str:
        lines = self.lines(path)
        return lines[number - 1] if 0 < number <= len(lines) else ""

    def utf16_column(self, path: str, line: int, column: int) -> int:
        """A 0-based column in code points -> 1-based in UTF-16 code units (SARIF, LSP)."""
        prefix = self.line(path, line)[:column]
        return len(prefix.encode("utf-16-le", "surrogatepass")) // 2 + 1 + max(0, column - len(prefix))

    def line_hashes(self, path: str) -> Dict[int, str]:
        """GitHub's primaryLocationLineHash of every line of the file."""
        if path not in self._hashes:
            text = self.text(path)
            self._hashes[path] = primary_location_line_hashes(text) if text is not None else {}
        return self._hashes[path]
