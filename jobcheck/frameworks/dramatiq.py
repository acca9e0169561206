"""Dramatiq: broker middleware defaults and each actor's effective options."""

from __future__ import annotations

from typing import Dict

from jobcheck.analysis.index import Where
from jobcheck.frameworks.discover import Discovery, TaskDef
from jobcheck.model import leaf
from jobcheck.model import Location, OptionValue

# middleware class -> {its keyword: the actor option it sets the default of}
MIDDLEWARE = {
    "dramatiq.middleware.Retries": {"max_retries": "max_retries", "min_backoff": "retry_delay"},
    "dramatiq.middleware.AgeLimit": {"max_age": "expires"},
    "dramatiq.middleware.TimeLimit": {"time_limit": "time_limit"},
}

LEAVES = {name.rsplit(".", 1)[-1] for name in MIDDLEWARE}


def broker_defaults(discovery: Discovery) -> Dict[str, OptionValue]:
    """Defaults the project's broker middleware sets (`Retries(max_retries=3)`, ...)."""
    index = discovery.index
    found: Dict[str, OptionValue] = {}
    for module in index.scanned():
        for fact in module.calls:
            if leaf(fact.call.func) not in LEAVES:
                continue
            target = index.denote(fact.call.func, Where(module))
            keywords = MIDDLEWARE.get(target.canonical)
            if not keywords:
                continue
            for keyword, option in keywords.items():
                value = fact.call.kwarg(keyword)
                if value is not None:
                    name = target.canonical.rsplit(".", 1)[-1]
                    found[option] = OptionValue(
                        discovery.constant(value, Where(module)),
                        f"broker middleware {name}({keyword}=...)",
                        Location(module.path, fact.call.span),
                    )
    return found


def effective_options(discovery: Discovery, task: TaskDef, broker: Dict[str, OptionValue]) -> Dict[str, OptionValue]:
    knowledge = discovery.knowledge
    option_map: Dict[str, str] = knowledge.spec("dramatiq")["option_map"]
    options = {key: OptionValue(value, "default") for key, value in knowledge.defaults["dramatiq"].items()}
    options.update(broker)
    explicit = dict(task.decorator.options) if task.decorator else {}
    if task.cls is not None:
        meta = discovery.index.cls(task.module.module, f"{task.qualname}.Meta")
        if meta is not None:
            for name, expr, span in meta.attrs:
                explicit[name] = OptionValue(
                    discovery.constant(expr, Where(task.module)), "class Meta", Location(task.module.path, span)
                )
    for raw, value in explicit.items():
        options[option_map.get(raw, raw)] = value
    name = options.get("name")
    if name is None or not isinstance(name.value, str):
        simple = task.qualname.rsplit(".", 1)[-1]
        options["name"] = OptionValue(simple, "function name")
    options["retries"] = options["max_retries"]
    return options
