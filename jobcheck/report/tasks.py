"""`jobcheck tasks`: the inventory of tasks with their effective options and provenance."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, List, Optional

from jobcheck.frameworks import INVENTORY_KEYS
from jobcheck.analysis.effects import guard_frames, guards_of, in_callback, in_loop, transaction_frames
from jobcheck.model import Attr, BinOp, Call, Collection, Const, Effect, Name, OptionValue, Subscript, Task, Unknown

from jobcheck.report.json import location_json
from jobcheck.workers import unnamed_queues


def display(value: Any) -> Any:
    """A JSON-friendly picture of an option value."""
    if isinstance(value, (Unknown, BinOp, Subscript)):
        return "<computed>"
    if isinstance(value, Const):
        return display(value.value)
    if isinstance(value, Name):
        return value.qname
    if isinstance(value, Call):
        func = display(value.func)
        return f"{func}(...)"
    if isinstance(value, Attr):
        return f"{display(value.base)}.{value.attr}"
    if isinstance(value, Collection):
        if value.kind == "dict":
            return {str(display(k)): display(v) for k, v in zip(value.keys, value.items)}
        return [display(v) for v in value.items]
    if isinstance(value, (list, tuple)):
        return [display(v) for v in value]
    if isinstance(value, dict):
        return {str(k): display(v) for k, v in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(display(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _shown_keys(task: Task) -> List[str]:
    keys = ["name", *INVENTORY_KEYS]
    extra = [k for k, _ in task.options if k not in keys and k not in ("max_retries",)]
    return keys + sorted(extra)


def effect_json(effect: Effect, analysis: Any) -> Dict[str, Any]:
    return {
        "kind": effect.kind,
        "api": effect.api,
        "detail": effect.detail,
        "location": location_json(effect.location),
        "chain": [location_json(site) for site in effect.chain],
        "guards": [{"kind": kind, "how": how} for kind, how in guards_of(effect, analysis)],
        "checks_before": [frame.text for frame in guard_frames(effect)],
        "transactions": [
            location_json(location)
            for location in (analysis.frame_location(frame) for frame in transaction_frames(effect, analysis))
            if location is not None
        ],
        "in_loop": in_loop(effect),
        "in_callback": in_callback(effect),
        "idempotency_key": effect.keyed,
    }


def _effect_lines(effect: Effect, analysis: Any) -> List[str]:
    chain = " -> ".join(str(site) for site in effect.chain)
    via = f"  via {chain}" if chain else ""
    detail = f" ({effect.detail})" if effect.detail else ""
    lines = [f"      {effect.kind:<10}{effect.api}{detail}  {effect.location}{via}"]
    notes = []
    guards = guards_of(effect, analysis)
    if guards:
        notes.append("guarded by " + "; ".join(f"{kind} ({how})" for kind, how in guards))
    unrecognised = [g for g in guard_frames(effect) if not analysis.reads_stored_state(g)]
    if unrecognised:
        notes.append("after " + "; ".join(f"`if {g.text}: exit`" for g in unrecognised))
    if transaction_frames(effect, analysis):
        notes.append("in a transaction")
    if in_loop(effect):
        notes.append("in a loop")
    if in_callback(effect):
        notes.append("in a callback")
    if effect.keyed:
        notes.append("idempotency key")
    if notes:
        lines.append("          " + ", ".join(notes))
    return lines


def render_text(
    tasks: List[Task],
    files_checked: int,
    effects: Optional[Dict[str, List[Effect]]] = None,
    analysis: Any = None,
    queues: Optional[List[Dict[str, Any]]] = None,
) -> str:
    lines: List[str] = []
    for task in tasks:
        lines.append(f"{task.location}: {task.qualname.rsplit('.', 1)[-1]}  [{task.framework}, {task.how}]")
        options = dict(task.options)
        for key in _shown_keys(task):
            option = options.get(key)
            if option is None:
                continue
            value = display(option.value)
            lines.append(f"    {key:<14}{_short(value):<32} {option.describe()}")
        if effects is not None:
            found = effects.get(task.qualname, [])
            lines.append(f"    effects       {len(found) if found else 'none found'}")
            for effect in found:
                lines.extend(_effect_lines(effect, analysis))
    if queues:
        lines.append("Queues:")
        for entry in queues:
            names = ", ".join(entry["tasks"][:4]) + (", ..." if len(entry["tasks"]) > 4 else "")
            lines.append(
                f"    {entry['framework']:<9}{_short(entry['queue']):<24} {len(entry['tasks'])} task(s): {names}"
                f"  [{entry['consumed_by']}]"
            )
    counts = Counter(t.framework for t in tasks)
    per_framework = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    lines.append(
        f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
        + (f" ({per_framework})" if tasks else "")
        + f" in {files_checked} files."
    )
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    text = "none" if value is None else str(value)
    return text if len(text) <= 32 else text[:29] + "..."


def option_json(option: OptionValue) -> Dict[str, Any]:
    return {
        "value": display(option.value),
        "source": option.source,
        "location": location_json(option.location) if option.location else None,
    }


def render_json(
    tasks: List[Task],
    files_checked: int,
    effects: Optional[Dict[str, List[Effect]]] = None,
    analysis: Any = None,
    queues: Optional[List[Dict[str, Any]]] = None,
) -> str:
    document = {
        "tasks": [
            {
                "framework": task.framework,
                "name": task.name,
                "qualname": task.qualname,
                "kind": task.kind,
                "how": task.how,
                "location": location_json(task.location),
                "options": {key: option_json(option) for key, option in task.options},
                **(
                    {"effects": [effect_json(e, analysis) for e in effects.get(task.qualname, [])]}
                    if effects is not None
                    else {}
                ),
            }
            for task in tasks
        ],
        "queues": queues or [],
        "files_checked": files_checked,
    }
    return json.dumps(document, indent=2) + "\n"


def queue_table(project: Any) -> List[Dict[str, Any]]:
    """Per queue: the tasks routed or sent to it, and which declared workers consume it."""
    members: Dict[tuple, set] = {}
    for task in project.tasks:
        queue = task.option("queue")
        if queue is not None and isinstance(queue.value, str):
            for name in queue.value.split(", "):  # an RQ function sent to several queues lists them all
                members.setdefault((task.framework, name), set()).add(task.qualname.rsplit(".", 1)[-1])
    for site in project.enqueue_sites:
        queue = dict(site.options).get("queue")
        if isinstance(queue, str) and site.task:
            members.setdefault((site.framework, queue), set()).add(site.task.rsplit(".", 1)[-1])
    workers = project.workers
    table = []
    for (framework, queue), names in sorted(members.items()):
        if workers is None or not workers.declared(framework):
            consumed = "no worker declared"
        elif workers.consumes(framework, queue, lambda app: unnamed_queues(project, framework, app)):
            consumed = "consumed: " + ", ".join(workers.sources_of(framework))
        else:
            consumed = "NOT consumed by the declared workers"
        table.append({"framework": framework, "queue": queue, "tasks": sorted(names), "consumed_by": consumed})
    return table
