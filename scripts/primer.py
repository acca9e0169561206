"""Run jobcheck over real job-queue projects checked out locally and report what changed.

    python scripts/primer.py --checkouts ../real ../real2 --save primer.json [--previous old.json]

The projects, with the commit each was measured at, are listed in scripts/primer-projects.tsv
(their code is not part of this repository: fetch them into folders of your own, named as in
the list). For each project: wall time, exit code, crashes (a traceback, a signal, an exit code
other than 0/1/2), internal errors (reported by jobcheck itself), files checked and findings per
rule. With --previous, the per-rule differences against an earlier run are listed. Exits 1 when
any project crashed or reported an internal error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

LIST = Path(__file__).with_name("primer-projects.tsv")


def projects() -> List[Dict[str, str]]:
    rows = []
    for line in LIST.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, repository, commit, framework, *_ = line.split("\t") + [""]
        rows.append({"name": name, "repository": repository, "commit": commit, "framework": framework})
    return rows


def find_checkout(name: str, folders: List[Path]) -> Optional[Path]:
    for folder in folders:
        if (folder / name).is_dir():
            return folder / name
    return None


def checked_out_commit(path: Path) -> str:
    completed = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return completed.stdout.strip() if completed.returncode == 0 else ""


def run_one(path: Path, timeout: int) -> Dict[str, object]:
    command = [sys.executable, "-m", "jobcheck", "check", "--no-cache", "--exit-zero", "--output-format", "json", str(path)]
    start = time.perf_counter()
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"seconds": float(timeout), "crash": f"timed out after {timeout} s"}
    seconds = round(time.perf_counter() - start, 2)
    crash = ""
    if completed.returncode not in (0, 1, 2) or "Traceback" in completed.stderr:
        crash = f"exit {completed.returncode}: {completed.stderr.strip()[-300:]}"
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        return {"seconds": seconds, "crash": crash or f"no JSON report (exit {completed.returncode})"}
    errors = report.get("errors", [])
    return {
        "seconds": seconds,
        "crash": crash,
        "internal": [f"{e['path']}: {e['message']}" for e in errors if e.get("kind") == "internal"],
        "unreadable": len([e for e in errors if e.get("kind") != "internal"]),
        "files": report.get("files_checked", 0),
        "rules": dict(sorted(Counter(f["code"] for f in report["findings"]).items())),
    }


def table(results: Dict[str, Dict[str, object]], rows: List[Dict[str, str]]) -> str:
    lines = [
        "| project | framework | files | seconds | crash | internal errors | findings | per rule |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        result = results.get(row["name"])
        if result is None:
            lines.append(f"| {row['name']} | {row['framework']} | – | – | not checked out | – | – | – |")
            continue
        rules = result.get("rules", {})
        per_rule = ", ".join(f"{code} {count}" for code, count in rules.items()) or "none"
        lines.append(
            f"| {row['name']} | {row['framework']} | {result.get('files', '–')} | {result['seconds']} | "
            f"{'CRASH' if result.get('crash') else 0} | {len(result.get('internal', []))} | "
            f"{sum(rules.values())} | {per_rule} |"
        )
    return "\n".join(lines)


def differences(previous: Dict[str, Dict[str, object]], results: Dict[str, Dict[str, object]]) -> List[str]:
    changes = []
    for name in sorted(set(previous) | set(results)):
        before = previous.get(name, {}).get("rules", {})
        after = results.get(name, {}).get("rules", {})
        for code in sorted(set(before) | set(after)):
            if before.get(code, 0) != after.get(code, 0):
                changes.append(f"{name}: {code} {before.get(code, 0)} -> {after.get(code, 0)}")
    return changes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkouts", nargs="+", type=Path, required=True, help="folders holding the checkouts")
    parser.add_argument("--save", type=Path, help="write the results as JSON (for a later --previous)")
    parser.add_argument("--previous", type=Path, help="an earlier --save to compare with")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--only", nargs="*", help="project names to run (default: all)")
    args = parser.parse_args()

    rows = [r for r in projects() if not args.only or r["name"] in args.only]
    results: Dict[str, Dict[str, object]] = {}
    for row in rows:
        path = find_checkout(row["name"], args.checkouts)
        if path is None:
            print(f"{row['name']}: not checked out, skipped", file=sys.stderr)
            continue
        commit = checked_out_commit(path)
        if commit and commit != row["commit"]:
            print(f"{row['name']}: checked out at {commit[:12]}, listed at {row['commit'][:12]}", file=sys.stderr)
        results[row["name"]] = {**run_one(path, args.timeout), "commit": commit or "unknown (no git)"}
        print(f"{row['name']}: {results[row['name']]['seconds']} s", file=sys.stderr)

    print(table(results, rows))
    bad = [(name, r) for name, r in results.items() if r.get("crash") or r.get("internal")]
    for name, result in bad:
        print(f"\n{name}: {result.get('crash') or ''} {result.get('internal') or ''}")
    if args.previous is not None:
        changes = differences(json.loads(args.previous.read_text(encoding="utf-8")), results)
        print("\nChanges since the previous run:" if changes else "\nNo change since the previous run.")
        for change in changes:
            print(f"- {change}")
    if args.save is not None:
        args.save.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
