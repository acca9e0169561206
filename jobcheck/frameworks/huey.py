"""Huey: each task's effective options."""

from __future__ import annotations

from typing import Dict

from jobcheck.analysis.index import Where
from jobcheck.frameworks.discover import Discovery, TaskDef
from jobcheck.model import Call, Location, OptionValue


def effective_options(discovery: Discovery, task: TaskDef) -> Dict[str, OptionValue]:
    knowledge = discovery.knowledge
    option_map: Dict[str, str] = knowledge.spec("huey")["option_map"]
    options = {key: OptionValue(value, "default") for key, value in knowledge.defaults["huey"].items()}
    decorator = task.decorator
    if decorator is not None:
        for raw, value in decorator.options:
            options[option_map.get(raw, raw)] = value
        owner = decorator.owner
        if owner is not None and isinstance(owner.expr, Call) and owner.expr.args and owner.module is not None:
            name = discovery.constant(owner.expr.args[0], Where(owner.module))
            if isinstance(name, str):
                options["queue"] = OptionValue(name, "Huey instance name")
        if decorator.api in knowledge.names("huey", "periodic_decorators"):
            where = Location(task.module.path, task.decorator_span) if task.decorator_span else None
            options["periodic"] = OptionValue(True, decorator.written, where)
    options.setdefault("name", OptionValue(task.qualname.rsplit(".", 1)[-1], "function name"))
    options["retries"] = options["max_retries"]
    return options
