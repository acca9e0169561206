"""Fingerprints: GitHub's line hash for code scanning, and jobcheck's own for baselines.

`primary_location_line_hashes` is the algorithm of GitHub's upload action
(github/codeql-action, src/fingerprints.ts): a rolling hash over the next 100 characters
that are not spaces or tabs, starting at each line, with line endings normalised to LF,
computed on UTF-16 code units (JavaScript strings) with 64-bit wrap-around arithmetic. A
repeated hash gets a counter (`hash:2`). Computing it here means code scanning does not
need the source to fingerprint our results, and gives the same value it would.
"""

from __future__ import annotations

import hashlib
import re
from typing import Dict, Iterable, List, Tuple

LINE_BREAK = re.compile(r"\r\n|\r|\n")

BLOCK_SIZE = 100
MOD = 37
MASK = (1 << 64) - 1
FIRST_MOD = pow(MOD, BLOCK_SIZE, 1 << 64)
TAB, SPACE, LF, CR, EOF = 9, 32, 10, 13, 65535


def utf16_units(text: str) -> List[int]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [data[i] | (data[i + 1] << 8) for i in range(0, len(data), 2)]


def primary_location_line_hashes(text: str) -> Dict[int, str]:
    """{1-based line: "hash:count"} for every line of the text, as GitHub computes it."""
    window = [0] * BLOCK_SIZE
    line_numbers = [-1] * BLOCK_SIZE
    state = {"hash": 0, "index": 0, "line": 0, "line_start": True, "prev_cr": False}
    counts: Dict[str, int] = {}
    hashes: Dict[int, str] = {}

    def output() -> None:
        index = state["index"]
        value = format(state["hash"], "x")
        counts[value] = counts.get(value, 0) + 1
        hashes[line_numbers[index]] = f"{value}:{counts[value]}"
        line_numbers[index] = -1

    def update(current: int) -> None:
        index = state["index"]
        begin = window[index]
        window[index] = current
        state["hash"] = (MOD * state["hash"] + current - FIRST_MOD * begin) & MASK
        state["index"] = (index + 1) % BLOCK_SIZE

    def process(current: int) -> None:
        if current in (SPACE, TAB) or (state["prev_cr"] and current == LF):
            state["prev_cr"] = False
            return
        if current == CR:
            current = LF
            state["prev_cr"] = True
        else:
            state["prev_cr"] = False
        if line_numbers[state["index"]] != -1:
            output()
        if state["line_start"]:
            state["line_start"] = False
            state["line"] += 1
            line_numbers[state["index"]] = state["line"]
        if current == LF:
            state["line_start"] = True
        update(current)

    for unit in utf16_units(text):
        process(unit)
    process(EOF)
    for _ in range(BLOCK_SIZE):
        if line_numbers[state["index"]] != -1:
            output()
        update(0)
    return hashes


def decode_like_node(data: bytes) -> str:
    """The text GitHub's action hashes: the file read as UTF-8, bad bytes replaced."""
    return data.decode("utf-8", errors="replace")


def stable_fingerprints(items: Iterable[Tuple[str, str, str, str]]) -> List[str]:
    """jobcheck's fingerprint of each (code, path, task, reported line's text) in order.

    No line numbers: moving the code, or editing other lines, keeps it. Identical keys in
    one file are told apart by their order of appearance.
    """
    seen: Dict[str, int] = {}
    result = []
    for code, path, task, line_text in items:
        key = "\0".join((code, path, task, " ".join(line_text.split())))
        seen[key] = seen.get(key, 0) + 1
        digest = hashlib.sha256(f"{key}\0{seen[key]}".encode("utf-8", "surrogatepass")).hexdigest()
        result.append(digest[:32])
    return result
