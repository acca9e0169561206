"""Task definitions and enqueue sites of every framework, with effective options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List

from jobcheck.analysis.index import ProjectIndex, Where
from jobcheck.frameworks import celery, dramatiq, huey, rq
from jobcheck.frameworks.discover import Discovery, SiteDraft, TaskDef
from jobcheck.model import EnqueueSite, Location, OptionValue, Task

INVENTORY_KEYS = ("queue", "retries", "expires", "time_limit", "acks_late", "priority")


@dataclass
class Project:
    index: ProjectIndex
    tasks: List[Task] = field(default_factory=list)
    enqueue_sites: List[EnqueueSite] = field(default_factory=list)
    celery_apps: List[celery.CeleryApp] = field(default_factory=list)
    workers: Any = None  # jobcheck.workers.Workers: the queues the project's workers consume
    versions: Dict[str, tuple] = field(default_factory=dict)  # declared package versions (jobcheck.versions)
    texts: Dict[str, bytes] = field(default_factory=dict)  # every checked file's bytes, as read once


def build_project(index: ProjectIndex) -> Project:
    discovery = Discovery(index)
    discovery.find_wrappers()
    definitions = discovery.task_definitions()
    drafts = discovery.enqueue_sites(definitions)  # may add RQ tasks found by reference
    apps = celery.find_apps(discovery)
    broker = dramatiq.broker_defaults(discovery)
    sites_by_task: Dict[int, List[SiteDraft]] = {}
    for draft, task in drafts:
        if task is not None:
            sites_by_task.setdefault(id(task), []).append(draft)
    project = Project(index=index, celery_apps=apps)
    for definition in definitions:
        if definition.framework == "celery":
            options = celery.effective_options(discovery, definition, apps)
        elif definition.framework == "dramatiq":
            options = dramatiq.effective_options(discovery, definition, broker)
        elif definition.framework == "rq":
            options = rq.effective_options(discovery, definition, sites_by_task.get(id(definition), []))
        else:
            options = huey.effective_options(discovery, definition)
        project.tasks.append(_task(definition, options))
    option_methods = {name: spec.get("option_methods", ()) for name, spec in index.knowledge.frameworks.items()}
    for draft, task in drafts:
        project.enqueue_sites.append(
            EnqueueSite(
                framework=draft.framework,
                api=draft.api,
                task=f"{task.module.module}.{task.qualname}" if task else None,
                location=Location(draft.where.module.path, draft.call.span),
                scope=draft.where.function.qualname if draft.where.function else "",
                options=tuple((k, discovery.constant(v, draft.where)) for k, v in draft.call.kwargs),
                open_options=draft.call.star_kwargs and draft.api in option_methods.get(draft.framework, ()),
            )
        )
    project.enqueue_sites.extend(celery.beat_sites(apps, project.tasks, list(index.modules.values())))
    project.tasks.sort(key=lambda t: (t.location.path, t.location.span))
    project.enqueue_sites.sort(key=lambda s: (s.location.path, s.location.span))
    return project


def _task(definition: TaskDef, options: Dict[str, OptionValue]) -> Task:
    name = options.get("name")
    return Task(
        framework=definition.framework,
        name=str(name.value) if name is not None else definition.qualname,
        qualname=f"{definition.module.module}.{definition.qualname}",
        module=definition.module.module,
        location=Location(definition.module.path, definition.name_span),
        kind="class" if definition.cls is not None else ("enqueued" if definition.how == "enqueued" else "function"),
        how=definition.how,
        options=tuple(sorted(options.items())),
    )


def job_symbols(index: ProjectIndex) -> Dict[str, set]:
    """Module -> names other modules import to use jobs: tasks, wrappers, apps, queues, brokers."""
    discovery = Discovery(index)
    discovery.find_wrappers()
    symbols: Dict[str, set] = {}
    definitions = discovery.task_definitions()
    discovery.enqueue_sites(definitions)
    for definition in definitions:
        top = definition.qualname.split(".")[0]
        symbols.setdefault(definition.module.module, set()).add(top)
    for module, qualname in (*discovery.wrappers, *discovery.enqueue_wrappers):
        symbols.setdefault(module, set()).add(qualname.split(".")[0])
    for module, cls in discovery.task_base_classes():
        symbols.setdefault(module.module, set()).add(cls.qualname.split(".")[0])
    instance_types = set()
    for spec in index.knowledge.frameworks.values():
        for key in ("app_types", "queue_types", "broker_types"):
            instance_types.update(spec.get(key, ()))
    for module in index.framework_modules():
        for assign in module.assigns:
            if "." in assign.target:
                continue
            target = index.denote(assign.value, Where(module))
            names = set(index.instance_types(target)) | {target.canonical}
            if names & instance_types or discovery.framework_decorator(target) or discovery.wrapper_for(target):
                symbols.setdefault(module.module, set()).add(assign.target)
    return symbols
