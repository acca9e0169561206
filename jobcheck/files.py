"""File discovery: .gitignore-aware, skips environments and build output, no symlink escapes."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, Iterable, List, Optional, Set, Tuple

import pathspec

from jobcheck.config import Config

DEFAULT_INCLUDE = ("*.py", "*.pyi")
DEFAULT_EXCLUDE = (
    "node_modules",
    "site-packages",
    "__pycache__",
    "__pypackages__",
    "build",
    "dist",
    "_build",
    "buck-out",
    "venv",
    "*.egg-info",
    # tests do not run in production: their enqueues and fakes are not job bugs
    "tests",
    "test",
    "test_*.py",
    "*_test.py",
    "conftest.py",
)


@dataclass(frozen=True)
class SourceFile:
    path: Path  # absolute
    rel: str  # relative to the project root, POSIX


@dataclass
class Discovery:
    files: List[SourceFile]
    errors: List[Tuple[str, str]]  # (path, problem)


class _Matcher:
    """Glob patterns (ruff's rules: a pattern without `/` matches a file or folder name, one with
    `/` the path or a folder above it), compiled once into two regular expressions."""

    def __init__(self, config: Config) -> None:
        self._include = self._compile(config.include or DEFAULT_INCLUDE)
        self._exclude = self._compile((*(config.exclude or DEFAULT_EXCLUDE), *config.extend_exclude))

    @staticmethod
    def _compile(patterns: Iterable[str]) -> Tuple[Optional["re.Pattern[str]"], Optional["re.Pattern[str]"]]:
        stripped = [p.rstrip("/") for p in patterns]
        names = [fnmatch.translate(p) for p in stripped if "/" not in p]
        paths = [fnmatch.translate(q) for p in stripped if "/" in p for q in (p, p + "/*")]
        return (
            re.compile("|".join(f"(?:{n})" for n in names)) if names else None,
            re.compile("|".join(f"(?:{n})" for n in paths)) if paths else None,
        )

    @staticmethod
    def _match(rel: str, compiled) -> bool:
        names, paths = compiled
        if names is not None and names.match(rel.rsplit("/", 1)[-1]):
            return True
        return paths is not None and paths.match(rel) is not None

    def excluded(self, rel: str) -> bool:
        return self._match(rel, self._exclude)

    def included(self, rel: str) -> bool:
        return self._match(rel, self._include)

    def excluded_file(self, rel: str) -> bool:
        """A file named on the command line: excluded itself or through a directory above it
        (as ruff's force-exclude: pre-commit passes `tests/x.py` even when `tests` is excluded)."""
        parts = rel.split("/")
        return any(self.excluded("/".join(parts[: i + 1])) for i in range(len(parts)))


def excluded_file(rel: str, config: Config) -> bool:
    return _Matcher(config).excluded_file(rel)


class _GitIgnores:
    """The .gitignore files between the project root and a directory, applied in order."""

    def __init__(self, root: Path, enabled: bool) -> None:
        self.root = root
        self.enabled = enabled
        self.specs: Dict[str, Optional[pathspec.PathSpec]] = {}
        self.above: Dict[str, List[Tuple[str, pathspec.PathSpec]]] = {}
        self.candidates: Dict[str, Optional["re.Pattern[str]"]] = {}

    def _spec(self, directory_rel: str) -> Optional[pathspec.PathSpec]:
        if directory_rel not in self.specs:
            spec = None
            gitignore = self.root / directory_rel / ".gitignore"
            try:
                lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
                spec = pathspec.GitIgnoreSpec.from_lines(lines)
            except OSError:
                pass
            self.specs[directory_rel] = spec
            self.candidates[directory_rel] = _any_ignoring(spec) if spec is not None else None
        return self.specs[directory_rel]

    def ignored(self, rel: str, is_dir: bool) -> bool:
        if not self.enabled:
            return False
        parent, _, _ = rel.rpartition("/")
        for directory, spec in self._specs_above(parent):
            below = rel[len(directory) + 1 :] if directory else rel
            below += "/" if is_dir else ""
            candidates = self.candidates.get(directory)
            if candidates is not None and not candidates.search(below):
                continue  # no ignoring pattern matches: the spec cannot ignore it (the common case)
            if spec.match_file(below):
                return True
        return False

    def _specs_above(self, directory_rel: str) -> List[Tuple[str, pathspec.PathSpec]]:
        """The .gitignore files that apply inside a directory (its own and its parents'), once per directory."""
        if directory_rel not in self.above:
            parts = directory_rel.split("/") if directory_rel else []
            found = []
            for depth in range(len(parts) + 1):
                directory = "/".join(parts[:depth])
                spec = self._spec(directory)
                if spec is not None:
                    found.append((directory, spec))
            self.above[directory_rel] = found
        return self.above[directory_rel]


def _any_ignoring(spec: pathspec.PathSpec) -> Optional["re.Pattern[str]"]:
    """One expression matching whatever any ignoring (not negated) pattern of the spec matches:
    a path it does not match is not ignored, whatever the order of the patterns. Patterns that
    apply at any depth share their `(?:.+/)?` prefix, which is then tried once per path instead
    of once per pattern (5x on a typical Python .gitignore)."""
    floating, anchored = [], []
    for pattern in spec.patterns:
        regex = getattr(pattern, "regex", None)
        if pattern.include is True and regex is not None:
            body = re.sub(r"\(\?P<\w+>", "(?:", regex.pattern)
            if not body.startswith("^"):
                anchored.append(f".*?(?:{body})")  # `*`, `**/`: matches anywhere in the path
            elif body.startswith(_ANY_DEPTH):
                floating.append(body[len(_ANY_DEPTH) :])
            else:
                anchored.append(body[1:])
        elif pattern.include is True:
            return None  # a pattern without an expression: always ask the spec
    branches = [f"(?:.+/)?(?:{'|'.join(f'(?:{f})' for f in floating)})"] if floating else []
    branches += [f"(?:{a})" for a in anchored]
    try:
        return re.compile(f"^(?:{'|'.join(branches)})") if branches else re.compile(r"(?!)")
    except re.error:
        return None


_ANY_DEPTH = "^(?:.+/)?"


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg")) or os.path.isdir(os.path.join(path, "conda-meta"))


def discover(paths: List[Path], config: Config) -> Discovery:
    root = config.root.resolve()
    matcher = _Matcher(config)
    gitignores = _GitIgnores(root, config.respect_gitignore)
    # real paths as strings (os.path is several times cheaper than pathlib per entry), each
    # compared as the file system compares names (`normcase`: case-insensitive on Windows)
    seen: Set[str] = set()
    files: List[SourceFile] = []
    errors: List[Tuple[str, str]] = []

    def relative(path: Path) -> Optional[str]:
        try:
            return PurePosixPath(path.relative_to(root)).as_posix()
        except ValueError:
            return None

    def add(path: Path, rel: str, real: Optional[str] = None) -> None:
        linked = real is None
        real = real or str(path.resolve())
        key = os.path.normcase(real)
        if key in seen:
            return
        if linked and relative(Path(real)) is None:  # (a real path under a real folder of the root stays inside)
            errors.append((rel, "symlink points outside the project root; skipped"))
            return
        seen.add(key)
        files.append(SourceFile(path=path, rel=rel))

    def walk(directory: str, rel: str, visited: Set[str], real_directory: str) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as error:
            errors.append((rel or ".", f"cannot list directory: {error.strerror or error}"))
            return
        for entry in entries:
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                if entry.name.startswith(".") or matcher.excluded(child_rel):
                    continue
                if gitignores.ignored(child_rel, is_dir=True) or _is_virtualenv(entry.path):
                    continue
                linked = entry.is_symlink()
                real = str(Path(entry.path).resolve()) if linked else os.path.join(real_directory, entry.name)
                key = os.path.normcase(real)
                if key in visited or (linked and relative(Path(real)) is None):
                    continue
                walk(entry.path, child_rel, visited | {key}, real)
            elif is_file and matcher.included(child_rel) and not matcher.excluded(child_rel):
                if not gitignores.ignored(child_rel, is_dir=False):
                    # only a link needs resolving: the folder it is in is already a real path
                    real_file = None if entry.is_symlink() else os.path.join(real_directory, entry.name)
                    add(Path(entry.path), child_rel, real_file)

    for given in paths:
        if not given.exists():
            errors.append((str(given), "no such file or directory"))
            continue
        absolute = given.resolve()  # the root is resolved too: symlinked spellings agree
        rel = relative(absolute)
        if rel is None:
            errors.append((str(given), "outside the project root " + str(root)))
            continue
        if absolute.is_dir():
            walk(str(absolute), "" if rel == "." else rel, {os.path.normcase(str(absolute))}, str(absolute))
        elif not matcher.excluded_file(rel):
            add(absolute, rel)
    files.sort(key=lambda f: f.rel)
    return Discovery(files=files, errors=errors)


class ModuleNamer:
    """Dotted module names for project-relative paths.

    The name starts at the highest directory reached by climbing through directories
    that hold an `__init__.py`, as Python sees it: `src/` layouts and several roots in one
    repository resolve without configuration.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._packages: Dict[str, bool] = {}

    def _is_package(self, directory: str) -> bool:
        if directory not in self._packages:
            base = self.root / directory
            self._packages[directory] = (base / "__init__.py").is_file() or (base / "__init__.pyi").is_file()
        return self._packages[directory]

    def _in_package_chain(self, directories: List[str]) -> bool:
        """A directory with `__init__.py`, or a namespace portion inside a regular package."""
        path = "/".join(directories)
        if self._is_package(path):
            return True
        return len(directories) > 1 and self._is_package("/".join(directories[:-1]))

    def __call__(self, rel: str) -> Tuple[str, bool]:
        parts = rel.split("/")
        stem = parts[-1].rsplit(".", 1)[0]
        directories = parts[:-1]
        is_package = stem == "__init__"
        names = [] if is_package else [stem]
        while directories and self._in_package_chain(directories):
            names.insert(0, directories[-1])
            directories = directories[:-1]
        if not names:  # an __init__.py outside any package chain
            names = [parts[-2]] if len(parts) > 1 else ["__init__"]
        return ".".join(names), is_package
