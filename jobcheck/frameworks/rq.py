"""RQ: the queue a job goes to and each job's effective options."""

from __future__ import annotations

from typing import Dict, List, Optional

from jobcheck.analysis.index import Target, Where
from jobcheck.frameworks.discover import UNKNOWN, Discovery, SiteDraft, TaskDef
from jobcheck.model import Call, Const, OptionValue, Location


def queue_call(discovery: Discovery, target: Optional[Target]) -> Optional[Call]:
    """The `Queue(...)` / `get_queue(...)` call that made a queue value, when the code shows it."""
    if target is None:
        return None
    call = target.expr if isinstance(target.expr, Call) else None
    if call is None and target.origin and target.kind == "instance":
        call = _bound_call(discovery, target.origin)
    return call


UNNAMED = "default"


def queue_name(discovery: Discovery, target: Optional[Target], where: Where) -> object:
    """The name of an RQ queue value: Queue("high"), get_queue("low"), or the default."""
    if target is not None and target.canonical in discovery.knowledge.names("rq", "module_enqueue"):
        return UNNAMED  # django_rq.enqueue(f): the default queue
    call = queue_call(discovery, target)
    if call is None:
        return UNKNOWN
    value = call.kwarg("name") or (call.args[0] if call.args else None)
    if value is None:
        return UNNAMED
    return discovery.constant(value, where)


def unnamed(discovery: Discovery, site: SiteDraft) -> bool:
    """An enqueue on `Queue()` / `get_queue()` with no name, or `django_rq.enqueue`."""
    target = site.queue_target
    if target is not None and target.canonical in discovery.knowledge.names("rq", "module_enqueue"):
        return True
    call = queue_call(discovery, target)
    return call is not None and call.kwarg("name") is None and not call.args


def _site_timeout(discovery: Discovery, site: SiteDraft) -> Optional[OptionValue]:
    """`job_timeout=` at the enqueue call, else the queue's `default_timeout=`."""
    for keyword in ("job_timeout", "timeout"):
        value = site.call.kwarg(keyword)
        if value is not None:
            location = Location(site.where.module.path, site.call.span)
            return OptionValue(discovery.constant(value, site.where), f"enqueue {keyword}=", location)
    call = queue_call(discovery, site.queue_target)
    value = call.kwarg("default_timeout") if call is not None else None
    if value is not None:
        return OptionValue(discovery.constant(value, site.queue_where or site.where), "Queue(default_timeout=...)")
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else "<computed>"


def _bound_call(discovery: Discovery, origin: str) -> Optional[Call]:
    target = discovery.index.resolve(origin.rpartition(".")[0])
    if target.module is None:
        return None
    for assign in target.module.assigns:
        if assign.target_qname == origin and isinstance(assign.value, Call):
            return assign.value
    return None


def effective_options(discovery: Discovery, task: TaskDef, sites: List[SiteDraft]) -> Dict[str, OptionValue]:
    knowledge = discovery.knowledge
    option_map: Dict[str, str] = knowledge.spec("rq")["option_map"]
    options = {key: OptionValue(value, "default") for key, value in knowledge.defaults["rq"].items()}
    decorator = task.decorator
    if decorator is not None:
        if decorator.args:
            value = discovery.constant(decorator.args[0], Where(task.module))
            where = Location(task.module.path, task.decorator_span) if task.decorator_span else None
            options["queue"] = OptionValue(value if isinstance(value, str) else UNKNOWN, "@job queue argument", where)
        for raw, value in decorator.options:
            options[option_map.get(raw, raw)] = value
    elif sites:
        names = sorted({_text(queue_name(discovery, s.queue_target, s.queue_where or s.where)) for s in sites})
        first = sites[0]
        value = names[0] if len(names) == 1 else ", ".join(names)
        source = "enqueue site" if len(sites) == 1 else f"{len(sites)} enqueue sites"
        if all(unnamed(discovery, site) for site in sites):
            source = f"unnamed queue at {source}"
        options["queue"] = OptionValue(
            UNKNOWN if value == "<computed>" else value, source, Location(first.where.module.path, first.call.span)
        )
        timeouts = {_site_timeout(discovery, site) for site in sites}
        if len(timeouts) == 1 and None not in timeouts:
            options["time_limit"] = timeouts.pop()
    retry = options.get("retry")
    if retry is not None and isinstance(retry.value, Call):
        maximum = retry.value.kwarg("max")
        options["retries"] = OptionValue(
            maximum.value if isinstance(maximum, Const) else UNKNOWN, retry.source, retry.location
        )
    else:
        options["retries"] = options["max_retries"]
    options.setdefault("name", OptionValue(f"{task.module.module}.{task.qualname}", "module.qualname"))
    return options
