"""`jobcheck tasks`: the inventory of tasks with their effective options and provenance."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, List

from jobcheck.frameworks import INVENTORY_KEYS
from jobcheck.model import Attr, Call, Collection, Name, OptionValue, Task, Unknown

from jobcheck.report.json import location_json


def display(value: Any) -> Any:
    """A JSON-friendly picture of an option value."""
    if isinstance(value, Unknown):
        return "<computed>"
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


def render_text(tasks: List[Task], files_checked: int) -> str:
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
    counts = Counter(t.framework for t in tasks)
    per_framework = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    lines.append(f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}" + (f" ({per_framework})" if tasks else "") + f" in {files_checked} files.")
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


def render_json(tasks: List[Task], files_checked: int) -> str:
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
            }
            for task in tasks
        ],
        "files_checked": files_checked,
    }
    return json.dumps(document, indent=2) + "\n"
