"""Benchmark jobcheck against ruff on the same checked-out repositories.

    python scripts/bench.py ../real/saleor ../real/polar ../real/tubesync --runs 3

For each repository, alternating the tools run by run so machine noise hits both alike:
jobcheck cold (`--no-cache` when the option exists) and warm (a second run), ruff cold
(`--no-cache`) and warm. Prints medians in seconds, the jobcheck/ruff ratios and
jobcheck's peak memory, as a Markdown table. Repositories are not part of this repository:
fetch them into a folder of your own.

jobcheck's modules are compiled to bytecode first, as `pip install` does: a development
checkout in an environment with PYTHONDONTWRITEBYTECODE set would otherwise recompile them
on every run (about 80 ms), which no installed copy pays.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple


def timed(command: List[str], cwd: Path) -> Tuple[float, float]:
    """(wall seconds, peak resident MB) of one run."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    prefix = [gnu_time, "-f", "%M"] if gnu_time else []
    start = time.perf_counter()
    completed = subprocess.run(prefix + command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    peak = 0.0
    if gnu_time:
        last = completed.stderr.strip().splitlines()[-1:] or ["0"]
        peak = float(last[0]) / 1024 if last[0].isdigit() else 0.0
    if completed.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed in {cwd}: {completed.stderr.strip()[-500:]}")
    return elapsed, peak


def jobcheck_supports(option: str) -> bool:
    help_text = subprocess.run([sys.executable, "-m", "jobcheck", "check", "--help"], capture_output=True, text=True)
    return option in help_text.stdout


def bench(repo: Path, runs: int, ruff: str) -> Dict[str, float]:
    no_cache = ["--no-cache"] if jobcheck_supports("--no-cache") else []
    jobcheck = [sys.executable, "-m", "jobcheck", "check", "--exit-zero", "--output-format", "concise"]
    commands = {
        "jobcheck cold": jobcheck + no_cache + ["."],
        "jobcheck warm": jobcheck + ["."],
        "ruff cold": [ruff, "check", "--no-cache", "--exit-zero", "--quiet", "."],
        "ruff warm": [ruff, "check", "--exit-zero", "--quiet", "."],
    }
    timed(commands["jobcheck warm"], repo)  # fill caches for the warm runs
    timed(commands["ruff warm"], repo)
    times: Dict[str, List[float]] = {name: [] for name in commands}
    peak = 0.0
    for _ in range(runs):
        for name, command in commands.items():
            elapsed, memory = timed(command, repo)
            times[name].append(elapsed)
            if name.startswith("jobcheck"):
                peak = max(peak, memory)
    result = {name: statistics.median(values) for name, values in times.items()}
    result["peak MB"] = peak
    return result


def compile_jobcheck() -> None:
    import compileall

    import jobcheck

    compileall.compile_dir(str(Path(jobcheck.__file__).parent), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ruff", default=shutil.which("ruff") or "ruff")
    args = parser.parse_args()
    compile_jobcheck()
    print("| repo | files | jobcheck cold | jobcheck warm | ruff cold | ruff warm | cold ratio | warm ratio | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for repo in args.repos:
        files = sum(1 for _ in repo.rglob("*.py"))
        r = bench(repo.resolve(), args.runs, args.ruff)
        print(
            f"| {repo.name} | {files} | {r['jobcheck cold']:.2f} | {r['jobcheck warm']:.2f} | {r['ruff cold']:.2f} | "
            f"{r['ruff warm']:.2f} | {r['jobcheck cold'] / r['ruff cold']:.1f}x | "
            f"{r['jobcheck warm'] / r['ruff warm']:.1f}x | {r['peak MB']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
