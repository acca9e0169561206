"""Celery: apps and their configuration, routes, and each task's effective options."""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from jobcheck.analysis.index import Target, Where
from jobcheck.frameworks.discover import UNKNOWN, Discovery, TaskDef
from jobcheck.model import AssignFact, Call, Collection, Const, FunctionFact, Location, ModuleFacts, Name, OptionValue, leaf

SETTINGS = (
    "task_acks_late",
    "task_time_limit",
    "task_soft_time_limit",
    "task_default_queue",
    "task_queues",
    "task_default_priority",
    "task_routes",
    "task_annotations",
    "broker_url",
    "broker_transport_options",
    "beat_schedule",
)


@dataclass
class CeleryApp:
    qname: str  # where the app is bound: "proj.celery.app"
    module: ModuleFacts
    location: Location
    settings: Dict[str, OptionValue] = field(default_factory=dict)
    old_names: Dict[str, str] = field(default_factory=dict)  # CELERY_ROUTES -> task_routes
    # `app = create_app()`: the project function that builds and configures it
    factory: Optional[Tuple[ModuleFacts, FunctionFact]] = None

    def setting(self, key: str) -> Optional[OptionValue]:
        return self.settings.get(key)


def find_apps(discovery: Discovery) -> List[CeleryApp]:
    index = discovery.index
    apps: List[CeleryApp] = []
    for module in index.framework_modules():
        for assign in module.assigns:
            if "." in assign.target or not isinstance(assign.value, Call):
                continue
            target = index.call_result(assign.value, Where(module))
            if "celery.Celery" in index.instance_types(target):
                old_names = discovery.knowledge.spec("celery").get("old_settings", {})
                app = CeleryApp(assign.target_qname, module, Location(module.path, assign.span), old_names=old_names)
                app.factory = index.function_of(index.denote(assign.value.func, Where(module)))
                _read_constructor(app, assign.value, discovery, module)
                apps.append(app)
    for app in apps:
        _read_configuration(app, discovery)
    return apps


def _put(app: CeleryApp, key: str, value: Any, source: str, location: Location) -> None:
    """Later writes win, as at run time."""
    key = app.old_names.get(key) or (key.lower() if key.isupper() else key)
    app.settings[key] = OptionValue(value, source, location)


CONSTRUCTOR_SETTINGS = {"broker": "broker_url", "backend": "result_backend"}  # Celery(broker=...) names


def _read_constructor(app: CeleryApp, call: Call, discovery: Discovery, module: ModuleFacts) -> None:
    for key, value in call.kwargs:
        key = CONSTRUCTOR_SETTINGS.get(key, key)
        _put(app, key, discovery.constant(value, Where(module)), "Celery(...)", Location(module.path, call.span))


def _read_configuration(app: CeleryApp, discovery: Discovery) -> None:
    index = discovery.index
    for module in index.scanned():
        for assign in module.assigns:
            # app.conf.task_routes = {...}
            prefix = app.qname + ".conf."
            if assign.target_qname.startswith(prefix):
                key = assign.target_qname[len(prefix) :]
                if "." not in key:
                    _put(
                        app,
                        key,
                        discovery.constant(assign.value, Where(module)),
                        "app.conf",
                        Location(module.path, assign.span),
                    )
        for fact in module.calls:
            func = fact.call.func
            if not isinstance(func, Name) or func.kind != "global":
                continue
            head, _, method = func.qname.rpartition(".")
            if method == "update" and _same_app(index, head, app.qname + ".conf"):
                _read_update(app, fact.call, discovery, module)
            elif method == "config_from_object" and fact.call.args and _same_app(index, head, app.qname):
                _read_object(app, fact.call, discovery, module)
    if app.factory is not None:
        _read_factory(app, discovery, *app.factory)


def _read_factory(app: CeleryApp, discovery: Discovery, module: ModuleFacts, function: FunctionFact) -> None:
    """`def create_app(): application = Celery(...); application.config_from_object(...); return application`."""
    returned = {r.qname for r in function.returns if isinstance(r, Name) and r.kind == "local"}
    for fact in module.calls:
        func = fact.call.func
        if fact.scope != function.qualname or not isinstance(func, Name) or func.kind != "local":
            continue
        head, _, method = func.qname.rpartition(".")
        if method == "update" and head.endswith(".conf") and head[: -len(".conf")] in returned:
            _read_update(app, fact.call, discovery, module)
        elif method == "config_from_object" and fact.call.args and head in returned:
            _read_object(app, fact.call, discovery, module)


def _same_app(index: Any, written: str, bound: str) -> bool:
    if written == bound:
        return True
    module_name, rest = index.module_of(written)
    if module_name is None or not rest:
        return False
    imported = dict(index.modules[module_name].imports).get(rest[0])
    return imported is not None and ".".join((imported, *rest[1:])) == bound


def _read_update(app: CeleryApp, call: Call, discovery: Discovery, module: ModuleFacts) -> None:
    location = Location(module.path, call.span)
    items: List[Tuple[str, Any]] = list(call.kwargs)
    if call.args and isinstance(call.args[0], Const) and isinstance(call.args[0].value, dict):
        items.extend((k, Const(v)) for k, v in call.args[0].value.items())
    elif call.args and isinstance(call.args[0], Collection) and call.args[0].kind == "dict":
        items.extend((k.value, v) for k, v in zip(call.args[0].keys, call.args[0].items) if isinstance(k, Const))
    for key, value in items:
        _put(app, str(key), discovery.constant(value, Where(module)), "app.conf.update", location)


def _read_object(app: CeleryApp, call: Call, discovery: Discovery, module: ModuleFacts) -> None:
    index = discovery.index
    source = discovery.constant(call.args[0], Where(module))
    namespace = discovery.constant(call.kwarg("namespace") or Const(None), Where(module))
    settings_module: Optional[str] = None
    target: Optional[Target] = None
    if source == "django.conf:settings":
        settings_module = django_settings_module(discovery, module)
    elif isinstance(source, str):  # "pkg.celeryconfig", "pkg.settings:CeleryConfig", "pkg.settings.CeleryConfig"
        target = index.resolve(source.replace(":", "."))
    elif isinstance(source, Name):
        target = index.denote(source, Where(module))
    if target is not None and target.kind in ("module", "class") and not target.attrs:
        settings_module = target.qname
    elif target is not None and target.kind == "instance" and target.module is not None and not target.attrs:
        settings_module = target.module.module  # `config = CeleryConfig()`: read through its class below
    elif isinstance(source, str) and settings_module is None:
        settings_module = source.split(":")[0]
    if not settings_module:
        return
    prefix = f"{namespace}_" if isinstance(namespace, str) and namespace else ""
    candidates = [(prefix + key.upper() if prefix else key, key, False) for key in SETTINGS]
    candidates += [(old, key, True) for old, key in app.old_names.items()]  # (read after the new names)
    if target is not None and target.kind in ("class", "instance") and target.cls is not None and not target.attrs:
        # config_from_object(CeleryConfig), or of `config = CeleryConfig()`: the class's attributes
        settings_class: Optional[Target] = Target("class", target.qname, module=target.module, cls=target.cls)
    else:
        settings_class = _settings_class(discovery, settings_module)
    parts = [settings_module, *_split_settings(discovery, settings_module)]
    found = set()
    for written_key, key, old_name in candidates:
        if old_name and key in found:
            continue  # Celery takes the new name when both are set
        if settings_class is not None and _read_class_setting(app, discovery, settings_class, written_key, key):
            found.add(key)
            continue
        for part in parts:
            target = index.resolve(f"{part}.{written_key}")
            if target.kind != "external":
                break
        if target.kind == "value" and target.expr is not None and not target.attrs and target.module is not None:
            assign = _assignment(target.module, written_key)
            location = Location(target.module.path, assign.span) if assign else app.location
            value = discovery.constant(target.expr, Where(target.module))
            app.settings[key] = OptionValue(value, f"setting {written_key}", location)
            found.add(key)
        elif target.kind == "instance" and target.module is not None and not target.attrs:
            assign = _assignment(target.module, written_key)
            if assign is not None:
                app.settings[key] = OptionValue(
                    UNKNOWN, f"setting {written_key}", Location(target.module.path, assign.span)
                )
                found.add(key)


def _split_settings(discovery: Discovery, settings_module: str) -> List[str]:
    """The files a settings module includes with django-split-settings (`include("base.py",
    optional("local.py"))`), as module names beside it, later files first (they override)."""
    module = discovery.index.module(settings_module)
    if module is None:
        return []
    package = settings_module.rpartition(".")[0] if not module.is_package else settings_module
    found: List[str] = []
    for fact in module.calls:
        target = discovery.index.denote(fact.call.func, Where(module))
        if not target.canonical.startswith("split_settings") or leaf(fact.call.func) != "include":
            continue
        for argument in fact.call.args:
            if isinstance(argument, Call) and argument.args:  # optional("local.py")
                argument = argument.args[0]
            if isinstance(argument, Const) and isinstance(argument.value, str) and argument.value.endswith(".py"):
                name = argument.value[:-3].replace("/", ".")
                found.append(f"{package}.{name}" if package else name)
    return list(reversed(found))


def _settings_class(discovery: Discovery, settings_module: str) -> Optional[Target]:
    """A settings class whose attributes become the module's settings: `Settings.load_settings(__name__)`
    (readthedocs), or the class DJANGO_CONFIGURATION names (django-configurations)."""
    index = discovery.index
    module = index.module(settings_module)
    if module is None:
        return None
    for fact in module.calls:
        func = fact.call.func
        if fact.scope == "" and isinstance(func, Name) and func.qname.endswith(".load_settings"):
            target = index.resolve(func.qname[: -len(".load_settings")])
            if target.kind == "class" and target.cls is not None:
                return target
    configuration = environment_default(discovery, "DJANGO_CONFIGURATION")
    if configuration:
        target = index.resolve(f"{settings_module}.{configuration}")
        if target.kind == "class" and target.cls is not None:
            return target
    return None


def _read_class_setting(app: CeleryApp, discovery: Discovery, settings: Target, written_key: str, key: str) -> bool:
    """A setting written as a class attribute of the settings class or one of its bases."""
    index = discovery.index
    classes = [settings, *index.class_ancestors(settings.cls, settings.module)]
    for target in classes:
        if target.kind != "class" or target.cls is None or target.module is None:
            continue
        for name, value, span in target.cls.attrs:
            if name == written_key:
                constant = discovery.constant(value, Where(target.module))
                location = Location(target.module.path, span)
                app.settings[key] = OptionValue(constant, f"setting {written_key}", location)
                return True
    return False


def _assignment(module: ModuleFacts, name: str) -> Optional[AssignFact]:
    for assign in module.assigns:
        if assign.target == name:
            return assign
    return None


SHARED_SETTINGS = ("base", "common", "defaults")  # what every settings variant of a package imports


def django_settings_module(discovery: Discovery, app_module: Optional[ModuleFacts] = None) -> Optional[str]:
    """DJANGO_SETTINGS_MODULE as the project sets it (os.environ.setdefault(...)), preferring the
    app's own module (what the worker runs). A named module that is not in the repository
    (`settings.prod`, written at deploy time) is replaced by the sibling whose name extends it,
    else by the package's shared base."""
    values = environment_defaults(discovery, "DJANGO_SETTINGS_MODULE", app_module)
    index = discovery.index
    for value in values:
        if index.module(value) is not None:
            return value
        package, _, name = value.rpartition(".")
        if not package:
            continue
        # the closest variant that exists: `settings.prod` -> `settings.prod_without_db`, else the base
        siblings = index.submodules(package)
        variants = [m for m in siblings if m.rpartition(".")[2].startswith(name)]
        variants += [f"{package}.{shared}" for shared in SHARED_SETTINGS]
        for variant in variants:
            if index.module(variant) is not None:
                return variant
    return values[0] if values else None


def environment_default(discovery: Discovery, variable: str) -> Optional[str]:
    values = environment_defaults(discovery, variable)
    return values[0] if values else None


def environment_defaults(discovery: Discovery, variable: str, first: Optional[ModuleFacts] = None) -> List[str]:
    """The values the project gives an environment variable with `os.environ.setdefault(...)`,
    those set in `first` first."""
    found: List[Tuple[bool, str]] = []
    for module in discovery.index.scanned():
        for fact in module.calls:
            call = fact.call
            if (
                isinstance(call.func, Name)
                and call.func.qname.endswith("environ.setdefault")
                and len(call.args) == 2
                and call.args[0] == Const(variable)
                and isinstance(call.args[1], Const)
                and isinstance(call.args[1].value, str)
            ):
                found.append((module is not first, call.args[1].value))
    return list(dict.fromkeys(value for _, value in sorted(found, key=lambda item: item[0])))


# ----------------------------------------------------------------------- beat


def beat_sites(apps: List[CeleryApp], tasks: List[Any], modules: List[ModuleFacts]) -> List[Any]:
    """`beat_schedule` entries and `sender.add_periodic_task(...)` calls: they enqueue a task by name
    (RULES reading 14), with their `options` (queue, expires, priority)."""
    from jobcheck.model import EnqueueSite

    by_name = {t.name: t.qualname for t in tasks if t.framework == "celery"}
    sites = []
    for app in apps:
        schedule = app.settings.get("beat_schedule")
        if schedule is None:
            continue
        written = schedule.location or app.location
        for key, entry in _entries(schedule.value):
            if not isinstance(entry.get("task"), str):
                continue
            options = entry.get("options") if isinstance(entry.get("options"), dict) else {}
            sites.append(
                EnqueueSite(
                    framework="celery",
                    api="beat",
                    task=by_name.get(entry["task"]),
                    location=_entry_location(modules, written, key),
                    scope="",
                    options=tuple(sorted(options.items())),
                )
            )
    return sites


def _entries(value: Any) -> List[Tuple[Any, Dict[str, Any]]]:
    """(name, entry) of a beat schedule, literal or not (`crontab(...)` values make it non-literal)."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, Collection) and value.kind == "dict":
        pairs = [(k.value if isinstance(k, Const) else None, v) for k, v in zip(value.keys, value.items)]
    else:
        pairs = []
    return [(name, _literal_dict(entry)) for name, entry in pairs if _literal_dict(entry) is not None]


def _entry_location(modules: List[ModuleFacts], written: Location, name: Any) -> Location:
    """Where a schedule entry's name is written (the first such key after the schedule starts)."""
    module = next((m for m in modules if m.path == written.path), None)
    if module is not None and isinstance(name, str):
        for key, span in module.dict_keys:
            if key == name and span[:2] >= written.span[:2]:
                return Location(written.path, span)
    return written


def _literal_dict(value: Any) -> Optional[Dict[str, Any]]:
    if isinstance(value, Const):
        value = value.value
    if isinstance(value, dict):
        return value
    if isinstance(value, Collection) and value.kind == "dict":
        result = {}
        for key, item in zip(value.keys, value.items):
            if isinstance(key, Const):
                result[key.value] = (
                    _literal_dict(item)
                    if isinstance(item, Collection)
                    else (item.value if isinstance(item, Const) else item)
                )
        return result
    return None


# ----------------------------------------------------------------------- routes


def route_for(task_name: str, routes: OptionValue) -> Optional[OptionValue]:
    """The queue `task_routes` gives a task name (glob, regex, dict or list), if any."""
    value = routes.value
    if isinstance(value, Collection) and value.kind in ("list", "tuple"):
        tables = [item.value if isinstance(item, Const) else item for item in value.items]
    else:
        tables = value if isinstance(value, (list, tuple)) else [value]
    for table in tables:
        if not isinstance(table, dict) and not (isinstance(table, Collection) and table.kind == "dict"):
            # a router function (by reference or dotted path) decides at run time
            return OptionValue(UNKNOWN, "router function in task_routes", routes.location)
        for pattern, destination in _route_items(table):
            if _route_matches(pattern, task_name):
                queue = destination.get("queue") if isinstance(destination, dict) else destination
                if isinstance(queue, Const):
                    queue = queue.value
                return OptionValue(
                    queue if queue is not None else UNKNOWN, f"task_routes[{_pattern_text(pattern)!r}]", routes.location
                )
    return None


def _route_items(table: Any) -> List[Tuple[Any, Any]]:
    if isinstance(table, dict):
        return list(table.items())
    items = []
    for key, value in zip(table.keys, table.items):
        destination = value.value if isinstance(value, Const) else value
        if isinstance(key, Const):
            items.append((key.value, destination))
        elif isinstance(key, Call) and isinstance(key.func, Name) and key.func.qname == "re.compile" and key.args:
            if isinstance(key.args[0], Const):
                items.append((re.compile(str(key.args[0].value)), destination))
    return items


def _route_matches(pattern: Any, name: str) -> bool:
    if isinstance(pattern, re.Pattern):
        return bool(pattern.match(name))
    if isinstance(pattern, str):
        return fnmatch.fnmatchcase(name, pattern) if "*" in pattern else pattern == name
    return False


def _pattern_text(pattern: Any) -> str:
    return pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)


# ----------------------------------------------------------------------- options


def task_name(task: TaskDef, explicit: Optional[OptionValue]) -> str:
    if explicit is not None and isinstance(explicit.value, str):
        return explicit.value
    return f"{task.module.module}.{task.qualname}"


def class_options(discovery: Discovery, cls_target: Target) -> Dict[str, OptionValue]:
    """Options set as class attributes of a task base class and its project ancestors."""
    options: Dict[str, OptionValue] = {}
    if cls_target.cls is None or cls_target.module is None:
        return options
    chain = [cls_target] + [
        t for t in discovery.index.class_ancestors(cls_target.cls, cls_target.module) if t.kind == "class"
    ]
    for target in chain:
        if target.cls is None or target.module is None:
            continue
        for name, expr, span in target.cls.attrs:
            if name not in options and name != "abstract":
                value = discovery.constant(expr, Where(target.module))
                options[name] = OptionValue(value, f"base class {target.cls.name}", Location(target.module.path, span))
    return options


def retries_used(discovery: Discovery, task: TaskDef) -> Optional[Location]:
    """Where the task body calls `self.retry(...)` / `task.retry(...)`, if it does."""
    if task.function is None and task.cls is None:
        return None
    scope = task.qualname if task.function is not None else f"{task.qualname}.run"
    for fact in task.module.calls:
        if fact.scope != scope and not fact.scope.startswith(scope + "."):
            continue
        func = fact.call.func
        if isinstance(func, Name) and func.qname.endswith(".retry"):
            receiver = func.qname[: -len(".retry")]
            if receiver in ("self", bound_name(task), f"{task.module.module}.{task.qualname}", task.qualname):
                return Location(task.module.path, fact.call.span)
        where = Where(task.module, discovery.index.function(task.module.module, fact.scope))
        found = _retry_in_helper(discovery, fact.call, where, bound_name(task))
        if found is not None:
            return found
    return None


def bound_name(task: TaskDef) -> str:
    """What a bound task (`bind=True`) calls itself: its first parameter (`self`, or `task` in warehouse)."""
    bind = dict(task.decorator.options).get("bind") if task.decorator else None
    bound = bind is not None and getattr(bind, "value", None) is True
    if bound and task.function is not None and task.function.params:
        return task.function.params[0].name
    return "self"


def _retry_in_helper(discovery: Discovery, call: Call, where: Where, bound: str) -> Optional[Location]:
    """`helper(self, ...)` where the helper calls `param.retry(...)` on the task it was given."""
    positions = [i for i, arg in enumerate(call.args) if isinstance(arg, Name) and arg.qname in ("self", bound)]
    if not positions or call.star_args:
        return None
    found = discovery.index.function_of(discovery.index.denote(call.func, where))
    if found is None:
        return None
    module, helper = found
    params = [p.name for p in helper.params if p.kind == "positional"]
    names = {f"{params[i]}.retry" for i in positions if i < len(params)}
    for fact in module.calls:
        if fact.scope == helper.qualname and isinstance(fact.call.func, Name) and fact.call.func.qname in names:
            return Location(module.path, fact.call.span)
    return None


BASE_CLASS_OPTIONS = ("time_limit", "soft_time_limit", "acks_late", "expires")
STDLIB = getattr(sys, "stdlib_module_names", frozenset({"abc", "typing", "builtins", "collections", "contextlib"}))


def _foreign_base(discovery: Discovery, target: Target) -> Optional[str]:
    """The first base class, the task base or one of its ancestors, defined in another package
    than Celery's (and so not readable here)."""
    bases = [target]
    if target.kind == "class" and target.cls is not None and target.module is not None:
        bases += discovery.index.class_ancestors(target.cls, target.module)
    for base in bases:
        package = base.canonical.split(".")[0]
        if base.kind == "external" and package != "celery" and package not in STDLIB:
            return base.canonical  # (a mixin from the standard library, `abc.ABC`, sets no task option)
    return None


def effective_options(discovery: Discovery, task: TaskDef, apps: List[CeleryApp]) -> Dict[str, OptionValue]:
    knowledge = discovery.knowledge
    option_map: Dict[str, str] = knowledge.spec("celery")["option_map"]
    config_map: Dict[str, str] = knowledge.spec("celery")["config_map"]
    options: Dict[str, OptionValue] = {
        key: OptionValue(value, "default") for key, value in knowledge.defaults["celery"].items()
    }
    app = _app_for(task, apps)
    if app is not None:
        for setting, key in config_map.items():
            if setting in app.settings:
                options[key] = app.settings[setting]
    explicit: Dict[str, OptionValue] = {}
    decorator_options = dict(task.decorator.options) if task.decorator else {}
    base = decorator_options.get("base")
    where = Where(task.module)
    if base is not None and isinstance(base.value, Name):
        target = discovery.index.denote(base.value, where)
        explicit.update(class_options(discovery, target))
        foreign = _foreign_base(discovery, target)
        if foreign is not None:
            # a base class from another package (`openwisp_utils.tasks.OpenwispCeleryTask`) may set
            # these; its code is not in the project, so they are unknown rather than unset
            for key in BASE_CLASS_OPTIONS:
                explicit.setdefault(key, OptionValue(UNKNOWN, f"maybe set by base class {foreign}", base.location))
    if task.cls is not None:
        explicit.update(class_options(discovery, Target("class", task.qualname, module=task.module, cls=task.cls)))
    explicit.update(decorator_options)
    name = task_name(task, explicit.get("name"))
    if app is not None and "task_annotations" in app.settings:
        explicit.update(_annotations(name, app.settings["task_annotations"]))
    retry_kwargs = explicit.get("retry_kwargs")
    limit = _dict_value(discovery, retry_kwargs.value, "max_retries", where) if retry_kwargs is not None else None
    if limit is not None:
        explicit.setdefault(
            "max_retries", OptionValue(limit, f"retry_kwargs ({retry_kwargs.source})", retry_kwargs.location)
        )
    app_level = set(config_map.values())
    for raw, value in explicit.items():
        key = option_map.get(raw, raw)
        if value.value is None and key in app_level and key in options:
            continue  # `time_limit = None` on a task means "the app's setting", not "none"
        options[key] = value
    options["name"] = OptionValue(name, "explicit name" if "name" in explicit else "module.qualname")
    if "queue" not in explicit:
        routed = route_for(name, app.settings["task_routes"]) if app and "task_routes" in app.settings else None
        if routed is not None:
            options["queue"] = routed
        elif app is not None and "task_default_queue" in app.settings:
            default = app.settings["task_default_queue"]
            # task_default_queue is not routing (RULES reading 14): keep the word in the source
            options["queue"] = OptionValue(default.value, f"task_default_queue: {default.source}", default.location)
    retry_call = retries_used(discovery, task)
    if "autoretry_for" not in options and retry_call is None:
        options["retries"] = OptionValue(0, "default: no autoretry_for and no self.retry")
    else:
        why = "autoretry_for" if "autoretry_for" in options else f"self.retry at {retry_call}"
        options["retries"] = OptionValue(
            options["max_retries"].value,
            f"{options['max_retries'].source}; retried by {why}",
            options["max_retries"].location,
        )
    return options


def _dict_value(discovery: Discovery, value: Any, key: str, where: Where) -> Any:
    """`{"max_retries": MAX}[key]`, following module constants; None when absent."""
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, Collection) and value.kind == "dict":
        for k, v in zip(value.keys, value.items):
            if isinstance(k, Const) and k.value == key:
                return discovery.constant(v, where)
    return None


def _annotations(name: str, annotations: OptionValue) -> Dict[str, OptionValue]:
    tables = annotations.value if isinstance(annotations.value, (list, tuple)) else [annotations.value]
    result: Dict[str, OptionValue] = {}
    for table in tables:
        if not isinstance(table, dict):
            continue
        for pattern, values in table.items():
            if isinstance(values, dict) and (pattern == "*" or pattern == name):
                for key, value in values.items():
                    result[key] = OptionValue(value, f"task_annotations[{pattern!r}]", annotations.location)
    return result


def _app_for(task: TaskDef, apps: List[CeleryApp]) -> Optional[CeleryApp]:
    if not apps:
        return None
    owner = task.decorator.owner if task.decorator else None
    if owner is not None and owner.origin:
        for app in apps:
            if app.qname == owner.origin:
                return app
    return apps[0]
