"""A cache on disk: a file whose bytes did not change is not parsed again, and a run whose
inputs did not change at all is not computed again.

Facts entries are keyed by jobcheck's version and the code that extracts facts, the file's
path and module name, and a hash of its bytes (facts depend on nothing else). Run entries
are keyed by everything a run reads (see RunCache). Each entry is written atomically (a
temporary file, then a rename), so concurrent runs never see half an entry; an entry that
cannot be read is ignored and rebuilt. The folder holds a `.gitignore` of its own. Entries are pickles
that jobcheck itself wrote: the folder is local and never shared.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from jobcheck import __version__
from jobcheck.model import ModuleFacts

DEFAULT_FOLDER = ".jobcheck_cache"
# the modules whose code shapes the facts: a change to them (an upgrade, a development
# checkout) must not read facts an older version wrote
FACT_MODULES = (
    "analysis/extract.py",
    "analysis/extract_ast.py",
    "analysis/facts_walker.py",
    "analysis/positions.py",
    "cache.py",
    "model.py",
    "engine.py",
)


@functools.lru_cache(maxsize=None)
def _environment() -> bytes:
    """What besides jobcheck's code shapes the results: the interpreter and the parsing libraries
    (a cache shared by two virtualenvs, or kept across an upgrade, must not mix them). Read
    without importing libcst: a run served from the cache never needs it."""
    import importlib.util
    import sys

    import pathspec
    import yaml

    parts = [__version__, "%d.%d" % sys.version_info[:2], yaml.__version__, pathspec.__version__]
    spec = importlib.util.find_spec("libcst")
    if spec is not None and spec.origin:
        try:
            parts.append((Path(spec.origin).parent / "_version.py").read_text(encoding="utf-8"))
        except OSError:
            parts.append(spec.origin)
    return "\0".join(parts).encode()


@functools.lru_cache(maxsize=None)
def _fingerprint(scope: str) -> str:
    """A hash of the environment and of jobcheck's files that shape results: "facts" the
    fact extraction only (facts entries), "run" all its code and rule data (run entries)."""
    package = Path(__file__).resolve().parent
    if scope == "facts":
        paths = [package / name for name in FACT_MODULES]
    else:
        from jobcheck.knowledge import data_dir

        paths = sorted([*package.rglob("*.py"), *data_dir().rglob("*.yaml")])
    digest = hashlib.sha256(_environment())
    for path in paths:
        try:
            digest.update(path.as_posix().encode() + path.read_bytes())
        except OSError:
            pass
    return digest.hexdigest()


def facts_code() -> str:
    return _fingerprint("facts")


class _PickleStore:
    """Pickles under one folder of the cache, written atomically; unreadable entries are misses."""

    def __init__(self, folder: Path, kind: str) -> None:
        self.root = folder
        self.folder = folder / kind
        self.usable = True

    def _load(self, name: str) -> object:
        try:
            with open(self.folder / name[:2] / name, "rb") as stream:
                return pickle.load(stream)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, TypeError, ValueError):
            return None  # missing, or corrupt: computed again and rewritten

    def _save(self, name: str, value: object) -> None:
        if not self.usable:
            return
        directory = self.folder / name[:2]
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._ignore_in_git()
            handle, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, directory / name)
        except OSError:
            self.usable = False  # a read-only checkout: run without caching, silently

    def _ignore_in_git(self) -> None:
        marker = self.root / ".gitignore"
        if not marker.exists():
            marker.write_text("# created by jobcheck\n*\n", encoding="utf-8")


class FactsCache(_PickleStore):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder, "facts")
        self.hits = 0

    def key(self, data: bytes, rel: str, module: str, is_package: bool) -> str:
        digest = hashlib.sha256()
        for part in (facts_code(), rel, module, str(is_package)):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def get(self, key: str) -> Optional[Tuple[ModuleFacts, bool]]:
        """The file's facts, and whether libcst read them (else `ast`)."""
        entry = self._load(key)
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], ModuleFacts)):
            return None
        self.hits += 1
        return entry[0], entry[1] is True

    def put(self, key: str, facts: ModuleFacts, by_libcst: bool) -> None:
        self._save(key, (facts, by_libcst))


class RunCache(_PickleStore):
    """The results of a whole run, reused when nothing it read has changed: every file's bytes,
    the files workers and versions are read from, the configuration, the rules selected and
    jobcheck's own code. One entry per kind of invocation (configuration, rules, files named),
    replaced when the inputs change, so the folder does not grow with every edit."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, "runs")

    @staticmethod
    def slot(*shape: str) -> str:
        return hashlib.sha256("\0".join(shape).encode("utf-8", "surrogatepass")).hexdigest()

    @staticmethod
    def key(slot: str, files: Dict[str, bytes], extra: Iterable[Tuple[str, bytes]]) -> str:
        digest = hashlib.blake2b(slot.encode() + _fingerprint("run").encode(), digest_size=32)
        for rel in sorted(files):
            digest.update(rel.encode("utf-8", "surrogatepass") + b"\0")
            digest.update(hashlib.blake2b(files[rel], digest_size=16).digest())
        _digest_extra(digest, extra)
        return digest.hexdigest()

    @staticmethod
    def quick_key(
        slot: str,
        stats: Optional[List[Tuple[str, int, int, int, int]]],
        overrides: Dict[str, bytes],
        extra: Iterable[Tuple[str, bytes]],
    ) -> Optional[str]:
        """A key from the files' sizes, times and inodes instead of their bytes (None when the
        times cannot be trusted): a run with nothing touched reads no source file."""
        if stats is None:
            return None
        digest = hashlib.blake2b(b"stat\0" + slot.encode() + _fingerprint("run").encode(), digest_size=32)
        digest.update(repr(stats).encode("utf-8", "surrogatepass"))
        for rel, data in sorted(overrides.items()):
            digest.update(b"\2" + rel.encode("utf-8", "surrogatepass") + b"\0" + hashlib.blake2b(data).digest())
        _digest_extra(digest, extra)
        return digest.hexdigest()

    def get(self, slot: str, key: str) -> Optional[object]:
        """The run stored under `key`, a content key or a quick key."""
        entry = self._load(slot)
        if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], tuple) and key in entry[0]:
            return entry[1]
        return None

    def put(self, slot: str, keys: Tuple[str, Optional[str]], value: object) -> None:
        self._save(slot, (tuple(k for k in keys if k), value))


def _digest_extra(digest: "hashlib._Hash", extra: Iterable[Tuple[str, bytes]]) -> None:
    """The files besides sources a run reads (worker declarations, dependency versions)."""
    for rel, data in extra:
        digest.update(b"\1" + rel.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(hashlib.blake2b(data, digest_size=16).digest())
