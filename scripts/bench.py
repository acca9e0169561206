"""Benchmark jobcheck against ruff on the same checked-out repositories.

    python scripts/bench.py ../real/saleor ../real/polar ../real/tubesync --runs 3

For each repository, alternating the tools run by run so machine noise hits both alike:
jobcheck cold (`--no-cache` when the option exists), with its facts cached (every file's
facts in the cache, the run's answer not: the analysis without the reading) and warm (a
second run), ruff cold (`--no-cache`) and warm. Prints medians in seconds, the jobcheck/ruff
ratios and jobcheck's peak memory, as a Markdown table. Repositories are not part of this repository:
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
import tempfile
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


def bench(repo: Path, runs: int, ruff: str, facts_cache: Path) -> Dict[str, float]:
    no_cache = ["--no-cache"] if jobcheck_supports("--no-cache") else []
    jobcheck = [sys.executable, "-m", "jobcheck", "check", "--exit-zero", "--output-format", "concise"]
    commands = {
        "jobcheck cold": jobcheck + no_cache + ["."],
        "jobcheck facts cached": jobcheck + ["--cache-dir", str(facts_cache), "."],
        "jobcheck warm": jobcheck + ["."],
        "ruff cold": [ruff, "check", "--no-cache", "--exit-zero", "--quiet", "."],
        "ruff warm": [ruff, "check", "--exit-zero", "--quiet", "."],
    }
    if not jobcheck_supports("--cache-dir"):
        del commands["jobcheck facts cached"]
    for name in ("jobcheck warm", "jobcheck facts cached", "ruff warm"):  # fill the caches
        if name in commands:
            timed(commands[name], repo)
    times: Dict[str, List[float]] = {name: [] for name in commands}
    peak = 0.0
    for _ in range(runs):
        for name, command in commands.items():
            if name == "jobcheck facts cached":
                shutil.rmtree(facts_cache / "runs", ignore_errors=True)  # the run's answer must be computed
            elapsed, memory = timed(command, repo)
            times[name].append(elapsed)
            if name.startswith("jobcheck"):
                peak = max(peak, memory)
    result = {name: statistics.median(values) for name, values in times.items()}
    result.setdefault("jobcheck facts cached", float("nan"))
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
    print(
        "| repo | files | jobcheck cold | jobcheck facts cached | jobcheck warm | ruff cold | ruff warm "
        "| cold ratio | facts cached ratio | warm ratio | peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for repo in args.repos:
        files = sum(1 for _ in repo.rglob("*.py"))
        with tempfile.TemporaryDirectory(prefix="jobcheck-bench-") as facts_cache:
            r = bench(repo.resolve(), args.runs, args.ruff, Path(facts_cache))
        cached = r["jobcheck facts cached"]
        print(
            f"| {repo.name} | {files} | {r['jobcheck cold']:.2f} | {cached:.2f} | {r['jobcheck warm']:.2f} | "
            f"{r['ruff cold']:.2f} | {r['ruff warm']:.2f} | {r['jobcheck cold'] / r['ruff cold']:.1f}x | "
            f"{cached / r['ruff cold']:.1f}x | {r['jobcheck warm'] / r['ruff warm']:.1f}x | {r['peak MB']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
