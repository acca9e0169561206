"""Parse and extract facts from EVERY .py file under the given folders (no prefilter).

Reports files that raise inside jobcheck (must be none) and files that do not parse
(JC001), per folder. Used to show that no input file crashes the engine:

    python scripts/sweep.py ../real/saleor ../real/polar ...
"""

from __future__ import annotations

import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from jobcheck.engine import analyse_source


def one(path: str):
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return path, "unreadable", str(error)
    try:
        facts = analyse_source(data, path, "sweep", False)
    except Exception:
        return path, "crash", traceback.format_exc(limit=3)
    if facts.error is not None:
        return path, "JC001", f"{facts.error.line}:{facts.error.col} {facts.error.message}"
    return path, "ok", ""


def main(roots):
    with ProcessPoolExecutor() as pool:
        for root in roots:
            files = sorted(str(p) for p in Path(root).rglob("*.py") if p.is_file())
            started = time.perf_counter()
            results = list(pool.map(one, files, chunksize=16))
            elapsed = time.perf_counter() - started
            crashes = [r for r in results if r[1] == "crash"]
            syntax = [r for r in results if r[1] == "JC001"]
            print(
                f"{root}\tfiles {len(files)}\tcrashes {len(crashes)}\tJC001 {len(syntax)}\t{elapsed:.0f}s", flush=True
            )
            for path, _, detail in crashes + syntax:
                print(f"    {path}: {detail.splitlines()[-1] if detail else ''}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
