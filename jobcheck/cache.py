"""A cache of per-file facts on disk: a file whose bytes did not change is not parsed again.

Entries are keyed by jobcheck's version and the code that extracts facts, the file's path and
module name, and a hash of its bytes (facts depend on nothing else). Each entry is written atomically (a temporary file,
then a rename), so concurrent runs never see half an entry; an entry that cannot be read
is ignored and rebuilt. The folder holds a `.gitignore` of its own. Entries are pickles
that jobcheck itself wrote: the folder is local and never shared.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Optional

from jobcheck import __version__
from jobcheck.model import ModuleFacts

DEFAULT_FOLDER = ".jobcheck_cache"
# the modules whose code shapes the facts: a change to them (an upgrade, a development
# checkout) must not read facts an older version wrote
FACT_MODULES = ("analysis/extract.py", "analysis/positions.py", "model.py")


def _facts_code() -> str:
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    for name in FACT_MODULES:
        try:
            digest.update((package / name).read_bytes())
        except OSError:
            pass
    return digest.hexdigest()


FACTS_CODE = _facts_code()


class FactsCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder / "facts"
        self.usable = True
        self.hits = 0

    def key(self, data: bytes, rel: str, module: str, is_package: bool) -> str:
        digest = hashlib.sha256()
        for part in (FACTS_CODE, rel, module, str(is_package)):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def get(self, key: str) -> Optional[ModuleFacts]:
        try:
            with open(self.folder / key[:2] / key, "rb") as stream:
                facts = pickle.load(stream)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, TypeError, ValueError):
            return None  # missing, or corrupt: parsed again and rewritten
        if not isinstance(facts, ModuleFacts):
            return None
        self.hits += 1
        return facts

    def put(self, key: str, facts: ModuleFacts) -> None:
        if not self.usable:
            return
        directory = self.folder / key[:2]
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._ignore_in_git()
            handle, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(facts, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, directory / key)
        except OSError:
            self.usable = False  # a read-only checkout: run without caching, silently

    def _ignore_in_git(self) -> None:
        marker = self.folder.parent / ".gitignore"
        if not marker.exists():
            marker.write_text("# created by jobcheck\n*\n", encoding="utf-8")
