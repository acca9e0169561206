"""Positions for a chosen set of libcst nodes, at the cost of one plain code generation.

libcst's PositionProvider tracks line and column on every token of every node, which
costs about twice the parse. Here the code generator only notes, for the wanted nodes,
how many tokens had been emitted when the node started and ended; token counts become
character offsets with `itertools.accumulate` and offsets become (line, col) with a
bisect over the newline offsets.
"""

from __future__ import annotations

import bisect
import itertools
import re
from typing import Any, Dict, Iterable, List, Optional, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState

from jobcheck.model import Span


class _MarkingState(CodegenState):
    def __init__(self, module: cst.Module, wanted: Dict[int, None]) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.wanted = wanted
        self.marks: Dict[int, List[int]] = {}

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.wanted:
            self.marks[id(node)] = [len(self.tokens), len(self.tokens)]

    def after_codegen(self, node: cst.CSTNode) -> None:
        mark = self.marks.get(id(node))
        if mark is not None and len(mark) == 2:
            mark[1] = len(self.tokens)

    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: Optional[cst.CSTNode] = None,
        end_node: Optional[cst.CSTNode] = None,
    ) -> Any:
        if id(node) not in self.wanted:
            return _NOTHING  # most nodes: no generator-based context manager to build and run
        return _SyntacticRange(self, node, end_node)


class _Nothing:
    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        pass


_NOTHING = _Nothing()


class _SyntacticRange:
    __slots__ = ("state", "node", "end_node", "start")

    def __init__(self, state: _MarkingState, node: cst.CSTNode, end_node: Optional[cst.CSTNode]) -> None:
        self.state, self.node, self.end_node = state, node, end_node

    def __enter__(self) -> None:
        if self.end_node is not None:
            self.state.wanted[id(self.end_node)] = None
        self.start = len(self.state.tokens)

    def __exit__(self, *exc: Any) -> None:
        marks = self.state.marks
        end = len(self.state.tokens)
        if self.end_node is not None and id(self.end_node) in marks:
            end = marks[id(self.end_node)][1]  # hoisted from the child, as PositionProvider does
        # A third element marks the syntactic range as final (after_codegen keeps it).
        marks[id(self.node)] = [self.start, end, 1]


def node_spans(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> Dict[int, Span]:
    """Map id(node) -> (line, col, end_line, end_col) for each of `nodes`."""
    nodes = list(nodes)
    wanted = dict.fromkeys(id(n) for n in nodes)
    if not wanted:
        return {}
    state = _MarkingState(module, wanted)
    module._codegen(state)
    offsets = [0, *itertools.accumulate(map(len, state.tokens))]
    text = "".join(state.tokens)
    line_starts = [0, *(match.end() for match in _NEWLINE.finditer(text))]
    last = len(state.tokens)  # the module drops a final newline token after it was counted

    def point(token_index: int) -> Tuple[int, int]:
        offset = offsets[min(token_index, last)]
        line = bisect.bisect_right(line_starts, offset)
        return line, offset - line_starts[line - 1]

    spans: Dict[int, Span] = {}
    wanted_ids = {id(n) for n in nodes}
    for key, mark in state.marks.items():
        if key not in wanted_ids:
            continue
        start, end = min(mark[0], last), min(mark[1], last)
        while start < end and not state.tokens[start].strip():
            start += 1
        line, col = point(start)
        end_line, end_col = point(end)
        spans[key] = (line, col, end_line, end_col)
    return spans


_NEWLINE = re.compile(r"\r\n?|\n")  # what libcst and CPython count as a line break
