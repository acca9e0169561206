"""`[tool.jobcheck]` from the nearest pyproject.toml (or --config): load and validate."""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

FRAMEWORKS = ("celery", "rq", "dramatiq", "huey")


class ConfigError(Exception):
    """A configuration problem, reported as one line and exit code 2."""


@dataclass(frozen=True)
class Config:
    root: Path = Path(".")
    source: Optional[Path] = None  # the file the settings came from
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    extend_exclude: Tuple[str, ...] = ()
    respect_gitignore: bool = True
    src: Tuple[str, ...] = ()
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    extend_select: Tuple[str, ...] = ()
    fail_on: str = "warning"
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    task_decorators: Tuple[Tuple[str, str], ...] = ()  # qualified name -> framework
    enqueue_functions: Tuple[Tuple[str, str], ...] = ()  # qualified name -> framework
    effect_functions: Tuple[str, ...] = ()
    guard_functions: Tuple[str, ...] = ()
    transaction_functions: Tuple[str, ...] = ()
    worker_queues: Tuple[str, ...] = ()
    max_depth: int = 6
    rules: Tuple[Tuple[str, Tuple[Tuple[str, Any], ...]], ...] = ()  # code -> options

    def ignored_here(self, rel: str, code: str) -> bool:
        """Whether `per-file-ignores` turns `code` off for this file (globs on the path, or on
        the file name when they have no `/`; codes or prefixes)."""
        name = rel.rsplit("/", 1)[-1]
        for pattern, codes in self.per_file_ignores:
            target = rel if "/" in pattern else name
            if fnmatch.fnmatchcase(target, pattern) and any(code.startswith(c.upper()) for c in codes):
                return True
        return False

    def rule_options(self, code: str) -> Dict[str, Any]:
        for rule, options in self.rules:
            if rule == code:
                return dict(options)
        return {}


def _strings(key: str, value: Any) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"`{key}` must be a list of strings, got {_describe(value)}")
    return tuple(value)


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"`{key}` must be true or false, got {_describe(value)}")
    return value


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"`{key}` must be a positive integer, got {_describe(value)}")
    return value


def _level(key: str, value: Any) -> str:
    if value not in ("error", "warning", "note", "never"):
        raise ConfigError(f"`{key}` must be one of error, warning, note, never; got {_describe(value)}")
    return value


def _per_file_ignores(key: str, value: Any) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"`{key}` must be a table of glob = [codes], got {_describe(value)}")
    return tuple((glob, _strings(f"{key}.{glob}", codes)) for glob, codes in sorted(value.items()))


def _task_decorators(key: str, value: Any) -> Tuple[Tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f'`{key}` must be a table of qualified.name = "framework", got {_describe(value)}')
    for name, framework in value.items():
        if framework not in FRAMEWORKS:
            raise ConfigError(f"`{key}.{name}` must be one of {', '.join(FRAMEWORKS)}; got {_describe(framework)}")
    return tuple(sorted(value.items()))


def _rules(key: str, value: Any) -> Tuple[Tuple[str, Tuple[Tuple[str, Any], ...]], ...]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(f"`{key}` must be a table of rule-code tables, e.g. [tool.jobcheck.rules.JC903]")
    return tuple((code, tuple(sorted(options.items()))) for code, options in sorted(value.items()))


_KEYS: Dict[str, Tuple[str, Callable[[str, Any], Any]]] = {
    "include": ("include", _strings),
    "exclude": ("exclude", _strings),
    "extend-exclude": ("extend_exclude", _strings),
    "respect-gitignore": ("respect_gitignore", _boolean),
    "src": ("src", _strings),
    "select": ("select", _strings),
    "ignore": ("ignore", _strings),
    "extend-select": ("extend_select", _strings),
    "fail-on": ("fail_on", _level),
    "per-file-ignores": ("per_file_ignores", _per_file_ignores),
    "task-decorators": ("task_decorators", _task_decorators),
    "enqueue-functions": ("enqueue_functions", _task_decorators),
    "effect-functions": ("effect_functions", _strings),
    "guard-functions": ("guard_functions", _strings),
    "transaction-functions": ("transaction_functions", _strings),
    "worker-queues": ("worker_queues", _strings),
    "max-depth": ("max_depth", _positive_int),
    "rules": ("rules", _rules),
}


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def find_pyproject(start: Path) -> Optional[Path]:
    start = start.resolve()
    for directory in (start, *start.parents) if start.is_dir() else start.parents:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_table(path: Path, required: bool) -> Optional[Mapping[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    table = data.get("tool", {}).get("jobcheck") if isinstance(data.get("tool"), dict) else None
    if table is None and path.name != "pyproject.toml" and "jobcheck" not in data.get("tool", {}):
        # a dedicated jobcheck.toml may hold the keys at top level
        table = data if required else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.jobcheck] must be a table")
    return table


def from_table(table: Mapping[str, Any], root: Path, source: Optional[Path]) -> Config:
    values: Dict[str, Any] = {"root": root, "source": source}
    where = f"{source}: [tool.jobcheck]" if source else "[tool.jobcheck]"
    for key, value in table.items():
        if key not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            raise ConfigError(f"{where}: unknown key `{key}` (known keys: {known})")
        attribute, convert = _KEYS[key]
        try:
            values[attribute] = convert(key, value)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    return Config(**values)


def load(paths: List[Path], explicit: Optional[Path]) -> Config:
    """The configuration for a run over `paths`: --config, else the nearest pyproject.toml."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: config file not found")
        table = read_table(explicit, required=True) or {}
        return from_table(table, explicit.resolve().parent, explicit)
    first = paths[0] if paths else Path(".")
    pyproject = find_pyproject(first)
    if pyproject is None:
        base = first.resolve()
        return Config(root=base if base.is_dir() else base.parent)
    table = read_table(pyproject, required=False)
    return from_table(table or {}, pyproject.resolve().parent, pyproject if table else None)
