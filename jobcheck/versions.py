"""The versions of packages a project declares (lock files first, then requirement specs).

Some verdicts depend on a version (Huey 2 has no task `timeout`; `lock_task(ttl=)` needs
Huey 3.4). Read from uv.lock, poetry.lock, Pipfile.lock, requirements*.txt, Pipfile and
pyproject.toml; never from what is installed here. An exact pin or a lock gives the
version; `<X` gives a version just below X; nothing found gives None (the newest is assumed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

Version = Tuple[int, ...]


TOML_LOCKS = ("uv.lock", "poetry.lock", "pdm.lock")
PIPFILE_LOCK = "Pipfile.lock"
SPECS = ("Pipfile", "pyproject.toml", "setup.py", "setup.cfg")


def input_files(root: Path) -> List[Path]:
    """Every file versions are read from (a cached run is valid only while they are unchanged)."""
    return [root / name for name in (*TOML_LOCKS, PIPFILE_LOCK)] + _spec_files(root)


def _spec_files(root: Path) -> List[Path]:
    requirements = sorted(root.glob("requirements*.txt")) + sorted(root.glob("requirements/*.txt"))
    return requirements + [root / name for name in SPECS]


def declared_versions(root: Path, packages: Iterable[str]) -> Dict[str, Version]:
    found: Dict[str, Version] = {}
    for package in packages:
        version = _from_locks(root, package) or _from_specs(root, package)
        if version is not None:
            found[package] = version
    return found


def parse(text: str) -> Optional[Version]:
    parts = re.findall(r"\d+", text.split("+")[0])[:3]
    return tuple(int(p) for p in parts) if parts else None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _from_locks(root: Path, package: str) -> Optional[Version]:
    for name in TOML_LOCKS:
        text = _read(root / name)
        match = re.search(rf'name = "{re.escape(package)}"\s*\nversion = "([^"]+)"', text)
        if match:
            return parse(match.group(1))
    text = _read(root / PIPFILE_LOCK)
    if text:
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        for section in ("default", "develop"):
            entry = data.get(section, {}).get(package) if isinstance(data, dict) else None
            if isinstance(entry, dict) and isinstance(entry.get("version"), str):
                return parse(entry["version"])
    return None


def _from_specs(root: Path, package: str) -> Optional[Version]:
    texts = [_read(path) for path in _spec_files(root)]
    spec = re.compile(rf"(?<![\w-]){re.escape(package)}\s*(?:\[[^\]]*\])?\s*\"?\s*(?:=\s*\")?\s*(==|<=|<|~=)\s*([\d.]+)", re.I)
    for text in texts:
        match = spec.search(text)
        if not match:
            continue
        operator, number = match.groups()
        version = parse(number)
        if version is None:
            continue
        if operator == "<":
            return _just_below(version)
        return version
    return None


def _just_below(version: Version) -> Version:
    """`<3` -> 2.999, `<3.4` -> 3.3.999: the highest version the spec allows, as far as it matters."""
    padded = list(version) + [0] * (3 - len(version))
    for i in range(len(padded) - 1, -1, -1):
        if padded[i] > 0:
            padded[i] -= 1
            return tuple(padded[: i + 1]) + (999,) * (2 - i)
    return tuple(padded)
