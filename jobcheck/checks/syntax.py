"""JC001 syntax-error: a file that cannot be parsed."""

from __future__ import annotations

from typing import Iterator

from jobcheck.model import Finding, Location, ModuleFacts

CODES = ("JC001",)


def check_module(ctx: object, module: ModuleFacts) -> Iterator[Finding]:
    error = module.error
    if error is None:
        return
    span = (error.line, error.col, error.line, error.col)
    yield Finding(
        "JC001",
        f"cannot parse this file: {error.message}; jobcheck analysed the other files",
        Location(module.path, span),
    )
