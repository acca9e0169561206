"""The rule catalog: rules/*.yaml, one file per code."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Set

from jobcheck.knowledge import data_dir, load_yaml

LEVELS = ("error", "warning", "note")


class CatalogError(Exception):
    pass


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    level: str
    default: bool
    summary: str
    frameworks: tuple = ()
    tags: tuple = ()
    precision: str = "high"
    options: Dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    docs: Dict[str, str] = field(default_factory=dict, compare=False, hash=False)


DOC_SECTIONS = (
    ("what_it_does", "What it does"),
    ("why_is_this_bad", "Why is this bad?"),
    ("example", "Example"),
    ("use_instead", "Use instead"),
    ("framework_notes", "Framework notes"),
    ("fix_safety", "Fix safety"),
    ("options", "Options"),
    ("known_problems", "Known problems"),
    ("references", "References"),
)


class Catalog:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: Dict[str, Rule] = {rule.code: rule for rule in sorted(rules, key=lambda r: r.code)}

    def rule(self, code: str) -> Rule:
        return self.rules[code]

    def __contains__(self, code: str) -> bool:
        return code in self.rules

    def select(self, select: Iterable[str], ignore: Iterable[str], extend_select: Iterable[str]) -> Set[str]:
        """ruff-style selection: codes or prefixes ("JC1", "ALL"); unknown selectors are errors."""
        select, ignore, extend_select = list(select), list(ignore), list(extend_select)
        chosen = self._expand(select) if select else {c for c, r in self.rules.items() if r.default}
        chosen |= self._expand(extend_select)
        chosen -= self._expand(ignore)
        return chosen

    def _expand(self, selectors: List[str]) -> Set[str]:
        result: Set[str] = set()
        for selector in selectors:
            selector = selector.strip().upper()
            if selector == "ALL":
                result |= set(self.rules)
                continue
            matched = {code for code in self.rules if code.startswith(selector)}
            if not matched or not selector.startswith("JC"):
                raise CatalogError(f"unknown rule code or prefix `{selector}` (see `jobcheck rules`)")
            result |= matched
        return result

    def render(self, code: str) -> str:
        rule = self.rule(code)
        state = "on by default" if rule.default else "off by default (enable with --extend-select)"
        lines = [f"# {rule.name} ({rule.code})", "", f"Level: {rule.level}; {state}.", "", rule.summary, ""]
        for key, title in DOC_SECTIONS:
            text = rule.docs.get(key)
            if key == "options" and rule.options and not text:
                text = "\n".join(
                    f"- `{name}` (default {spec.get('default')!r}): {spec.get('description', '')}"
                    for name, spec in rule.options.items()
                )
            if text:
                lines += [f"## {title}", "", str(text).rstrip(), ""]
        return "\n".join(lines).rstrip() + "\n"


def _rule_from(data: Dict[str, Any], source: str) -> Rule:
    try:
        rule = Rule(
            code=data["code"],
            name=data["name"],
            level=data["level"],
            default=bool(data["default"]),
            summary=data["summary"],
            frameworks=tuple(data.get("frameworks", ())),
            tags=tuple(data.get("tags", ())),
            precision=data.get("precision", "high"),
            options=dict(data.get("options") or {}),
            docs={k: str(v) for k, v in (data.get("docs") or {}).items()},
        )
    except (KeyError, TypeError) as error:
        raise CatalogError(f"{source}: malformed rule: missing {error}") from None
    if rule.level not in LEVELS:
        raise CatalogError(f"{source}: level must be one of {LEVELS}")
    return rule


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    directory = data_dir()
    rules = [_rule_from(load_yaml(path), path.name) for path in sorted(directory.glob("JC*.yaml"))]
    return Catalog(rules)
