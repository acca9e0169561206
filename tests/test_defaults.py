"""The framework defaults jobcheck assumes, checked against the installed frameworks.

jobcheck reports a task's effective options; an option the project leaves unset takes the
value listed under `defaults:` in rules/knowledge/frameworks.yaml. Each probe below finds
that default in the *installed* framework by introspection (a signature default, a class
attribute, a settings default, or an object built without a broker), so an upgrade that
changes a default fails here, naming the framework, the option, the value jobcheck assumes
and the value found. No number is copied from the yaml into this file.

A probe answers in jobcheck's vocabulary: "no retry object by default" is 0 retries,
"no timeout parameter" is no time limit (None), and so on; each says where it looked.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Tuple

import pytest

from jobcheck.knowledge import load_knowledge

MISSING = object()


class ProbeError(Exception):
    """The introspection point a probe relies on is gone from the installed framework."""


@dataclass(frozen=True)
class Probe:
    framework: str
    key: str  # key under defaults.<framework> in frameworks.yaml
    where: str  # what is inspected, for the failure message
    find: Callable[[], Any]

    @property
    def id(self) -> str:
        return f"{self.framework}.{self.key}:{self.where}"


PROBES: List[Probe] = []


def probe(framework: str, key: str, where: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def register(find: Callable[[], Any]) -> Callable[[], Any]:
        PROBES.append(Probe(framework, key, where, find))
        return find

    return register


def param_default(func: Callable[..., Any], name: str, absent: Any = MISSING) -> Any:
    """The default of parameter `name` of `func`; `absent` if there is no such parameter."""
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError) as error:  # pragma: no cover - C callables
        raise ProbeError(f"cannot read the signature of {func!r}: {error}") from error
    parameter = parameters.get(name)
    if parameter is None or parameter.kind is inspect.Parameter.VAR_KEYWORD:
        if absent is MISSING:
            raise ProbeError(f"{getattr(func, '__qualname__', func)!r} has no parameter {name!r}")
        return absent
    if parameter.default is inspect.Parameter.empty:
        raise ProbeError(f"parameter {name!r} of {getattr(func, '__qualname__', func)!r} has no default")
    return parameter.default


def attribute(owner: Any, name: str) -> Any:
    value = getattr(owner, name, MISSING)
    if value is MISSING:
        raise ProbeError(f"{getattr(owner, '__qualname__', owner)!r} has no attribute {name!r}")
    return value


def framework_version(framework: str) -> str:
    try:
        return importlib.metadata.version(framework)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "?"


# ------------------------------------------------------------------------- celery


@functools.lru_cache(maxsize=None)
def celery_app() -> Any:
    from celery import Celery

    return Celery("jobcheck_defaults", set_as_current=False)


@functools.lru_cache(maxsize=None)
def celery_task() -> Any:
    """A task declared on a fresh app, without options: its attributes are bound from app.conf."""
    app = celery_app()

    @app.task(shared=False)
    def plain() -> None:  # pragma: no cover - never run
        pass

    return plain


def celery_task_class() -> Any:
    from celery import Task

    return Task


@probe("celery", "queue", "Celery().conf.task_default_queue")
def _() -> Any:
    return celery_app().conf.task_default_queue


@probe("celery", "queue", "celery.app.defaults.DEFAULTS['task_default_queue']")
def _() -> Any:
    from celery.app import defaults

    return defaults.DEFAULTS["task_default_queue"]


@probe("celery", "queue", "celery.Task.queue (unset: the default queue applies)")
def _() -> Any:
    value = getattr(celery_task_class(), "queue", None)
    return celery_app().conf.task_default_queue if value is None else value


@probe("celery", "max_retries", "celery.Task.max_retries")
def _() -> Any:
    return attribute(celery_task_class(), "max_retries")


@probe("celery", "max_retries", "max_retries of an @app.task without options")
def _() -> Any:
    return celery_task().max_retries


@probe("celery", "acks_late", "Celery().conf.task_acks_late")
def _() -> Any:
    return celery_app().conf.task_acks_late


@probe("celery", "acks_late", "acks_late of an @app.task without options")
def _() -> Any:
    return celery_task().acks_late


@probe("celery", "acks_late", "celery.Task.acks_late, or task_acks_late when Task takes it from the config")
def _() -> Any:
    task = celery_task_class()
    value = attribute(task, "acks_late")
    if value is None and ("acks_late", "task_acks_late") in tuple(getattr(task, "from_config", ())):
        return celery_app().conf.task_acks_late
    return value


@probe("celery", "time_limit", "celery.Task.time_limit")
def _() -> Any:
    return attribute(celery_task_class(), "time_limit")


@probe("celery", "time_limit", "Celery().conf.task_time_limit")
def _() -> Any:
    return celery_app().conf.task_time_limit


@probe("celery", "time_limit", "time_limit of an @app.task without options")
def _() -> Any:
    return celery_task().time_limit


@probe("celery", "expires", "celery.Task.expires")
def _() -> Any:
    return attribute(celery_task_class(), "expires")


@probe("celery", "expires", "expires of an @app.task without options")
def _() -> Any:
    return celery_task().expires


@probe("celery", "priority", "celery.Task.priority")
def _() -> Any:
    return attribute(celery_task_class(), "priority")


@probe("celery", "priority", "Celery().conf.task_default_priority")
def _() -> Any:
    return celery_app().conf.task_default_priority


@probe("celery", "priority", "priority of an @app.task without options")
def _() -> Any:
    return celery_task().priority


# ------------------------------------------------------------------------- rq


def rq_retries(retry: Any) -> Any:
    """jobcheck's max_retries for an RQ `retry=` value: no Retry object means no retry (0)."""
    if retry is None:
        return 0
    return attribute(retry, "max")


@functools.lru_cache(maxsize=None)
def rq_queue() -> Any:
    """An rq Queue on a Redis client that is never used (redis-py connects lazily)."""
    import redis
    import rq

    return rq.Queue(connection=redis.Redis(host="127.0.0.1", port=1))


@functools.lru_cache(maxsize=None)
def rq_job() -> Any:
    """A job built by Queue.create_job without options: it is not saved, so Redis is never reached."""
    return rq_queue().create_job(print)


@probe("rq", "queue", "rq.Queue.__init__ name=")
def _() -> Any:
    import rq

    return param_default(rq.Queue.__init__, "name")


@probe("rq", "queue", "Queue(connection=...).name")
def _() -> Any:
    return rq_queue().name


@probe("rq", "time_limit", "rq.Queue.DEFAULT_TIMEOUT")
def _() -> Any:
    import rq

    return attribute(rq.Queue, "DEFAULT_TIMEOUT")


@probe("rq", "time_limit", "rq.defaults.DEFAULT_JOB_TIMEOUT (or Queue.DEFAULT_TIMEOUT where rq has no such constant)")
def _() -> Any:
    import rq
    import rq.defaults

    return getattr(rq.defaults, "DEFAULT_JOB_TIMEOUT", attribute(rq.Queue, "DEFAULT_TIMEOUT"))


@probe("rq", "time_limit", "timeout of Queue.create_job(func) without a timeout")
def _() -> Any:
    return rq_job().timeout


@probe("rq", "expires", "rq.Queue.enqueue_call ttl=")
def _() -> Any:
    import rq

    return param_default(rq.Queue.enqueue_call, "ttl")


@probe("rq", "expires", "rq.job.Job.create ttl=")
def _() -> Any:
    from rq.job import Job

    return param_default(Job.create, "ttl")


@probe("rq", "expires", "ttl of Queue.create_job(func) without a ttl")
def _() -> Any:
    return rq_job().ttl


@probe("rq", "max_retries", "rq.Queue.enqueue_call retry= (None: no retry)")
def _() -> Any:
    import rq

    return rq_retries(param_default(rq.Queue.enqueue_call, "retry"))


@probe("rq", "max_retries", "rq.job.Job.create retry= (None: no retry)")
def _() -> Any:
    from rq.job import Job

    # rq 2.x (the last for Python 3.9) has no `retry` here: Queue.create_job sets it afterwards
    return rq_retries(param_default(Job.create, "retry", absent=None))


@probe("rq", "max_retries", "rq.decorators.job retry= (None: no retry)")
def _() -> Any:
    from rq.decorators import job

    return rq_retries(param_default(job.__init__, "retry"))


@probe("rq", "max_retries", "retries_left of Queue.create_job(func) without a retry (None: no retry)")
def _() -> Any:
    left = getattr(rq_job(), "retries_left", MISSING)
    if left is MISSING:
        raise ProbeError("rq Job has no retries_left attribute")
    return 0 if left is None else left


# ------------------------------------------------------------------------- dramatiq


@functools.lru_cache(maxsize=None)
def dramatiq_broker() -> Any:
    """A StubBroker with the default middleware (no network, not made the global broker)."""
    from dramatiq.brokers.stub import StubBroker

    return StubBroker()


def dramatiq_middleware(cls_name: str) -> Any:
    """The instance of middleware `cls_name` a broker gets by default, or None when it is not a default."""
    import dramatiq.middleware

    cls = attribute(dramatiq.middleware, cls_name)
    for middleware in dramatiq_broker().middleware:
        if isinstance(middleware, cls):
            return middleware
    return None


@functools.lru_cache(maxsize=None)
def dramatiq_actor() -> Any:
    import dramatiq

    def plain() -> None:  # pragma: no cover - never run
        pass

    return dramatiq.actor(plain, broker=dramatiq_broker())


@probe("dramatiq", "queue", "dramatiq.actor queue_name=")
def _() -> Any:
    import dramatiq

    return param_default(dramatiq.actor, "queue_name")


@probe("dramatiq", "queue", "queue_name of an @actor without options")
def _() -> Any:
    return dramatiq_actor().queue_name


@probe("dramatiq", "priority", "dramatiq.actor priority=")
def _() -> Any:
    import dramatiq

    return param_default(dramatiq.actor, "priority")


@probe("dramatiq", "priority", "priority of an @actor without options")
def _() -> Any:
    return dramatiq_actor().priority


@probe("dramatiq", "max_retries", "dramatiq.middleware.Retries.__init__ max_retries=")
def _() -> Any:
    import dramatiq.middleware

    return param_default(dramatiq.middleware.Retries.__init__, "max_retries")


@probe("dramatiq", "max_retries", "dramatiq.middleware.Retries().max_retries")
def _() -> Any:
    import dramatiq.middleware

    return dramatiq.middleware.Retries().max_retries


@probe("dramatiq", "max_retries", "Retries in a broker's default middleware (absent: no retries)")
def _() -> Any:
    retries = dramatiq_middleware("Retries")
    return 0 if retries is None else retries.max_retries


@probe("dramatiq", "time_limit", "dramatiq.middleware.TimeLimit.__init__ time_limit= (ms)")
def _() -> Any:
    import dramatiq.middleware

    return param_default(dramatiq.middleware.TimeLimit.__init__, "time_limit")


@probe("dramatiq", "time_limit", "TimeLimit in a broker's default middleware (absent: no limit)")
def _() -> Any:
    limit = dramatiq_middleware("TimeLimit")
    return None if limit is None else limit.time_limit


@probe("dramatiq", "expires", "dramatiq.middleware.AgeLimit.__init__ max_age=")
def _() -> Any:
    import dramatiq.middleware

    return param_default(dramatiq.middleware.AgeLimit.__init__, "max_age")


@probe("dramatiq", "expires", "AgeLimit in a broker's default middleware (absent: no limit)")
def _() -> Any:
    age = dramatiq_middleware("AgeLimit")
    return None if age is None else age.max_age


# ------------------------------------------------------------------------- huey


HUEY_DECORATORS = ("task", "periodic_task")


@functools.lru_cache(maxsize=None)
def huey_task() -> Any:
    """A task declared without options on an in-memory Huey, and one instance of it."""
    from huey import MemoryHuey

    huey = MemoryHuey("jobcheck_defaults")

    @huey.task()
    def plain() -> None:  # pragma: no cover - never run
        pass

    return plain, plain.s()


def huey_decorator(name: str) -> Callable[..., Any]:
    from huey import Huey

    return attribute(Huey, name)


def huey_task_class() -> Any:
    from huey.api import Task

    return Task


for _decorator in HUEY_DECORATORS:
    # A Huey task has no queue of its own: the queue is the Huey instance (its name), which
    # jobcheck reads from the `Huey("name")` call; the per-task default is "none".
    probe("huey", "queue", f"huey.Huey.{_decorator} queue= (absent: no per-task queue)")(
        functools.partial(lambda d: param_default(huey_decorator(d), "queue", absent=None), _decorator)
    )
    probe("huey", "max_retries", f"huey.Huey.{_decorator} retries=")(
        functools.partial(lambda d: param_default(huey_decorator(d), "retries"), _decorator)
    )
    probe("huey", "expires", f"huey.Huey.{_decorator} expires=")(
        functools.partial(lambda d: param_default(huey_decorator(d), "expires"), _decorator)
    )
    probe("huey", "priority", f"huey.Huey.{_decorator} priority=")(
        functools.partial(lambda d: param_default(huey_decorator(d), "priority"), _decorator)
    )
    probe("huey", "time_limit", f"huey.Huey.{_decorator} timeout= (absent: no time limit)")(
        functools.partial(lambda d: param_default(huey_decorator(d), "timeout", absent=None), _decorator)
    )


@probe("huey", "queue", "huey.api.Task.queue (absent: no per-task queue)")
def _() -> Any:
    return getattr(huey_task_class(), "queue", None)


@probe("huey", "max_retries", "huey.api.Task.default_retries")
def _() -> Any:
    return attribute(huey_task_class(), "default_retries")


@probe("huey", "max_retries", "retries of a @huey.task() without options, and of its instance")
def _() -> Any:
    wrapper, instance = huey_task()
    if wrapper.retries != instance.retries:
        raise ProbeError(f"the task wrapper says {wrapper.retries!r} retries, its instance {instance.retries!r}")
    return instance.retries


@probe("huey", "expires", "huey.api.Task.default_expires")
def _() -> Any:
    return attribute(huey_task_class(), "default_expires")


@probe("huey", "expires", "expires of a @huey.task() instance without options")
def _() -> Any:
    return huey_task()[1].expires


@probe("huey", "priority", "huey.api.Task.default_priority")
def _() -> Any:
    return attribute(huey_task_class(), "default_priority")


@probe("huey", "priority", "priority of a @huey.task() instance without options")
def _() -> Any:
    return huey_task()[1].priority


@probe("huey", "time_limit", "huey.api.Task.default_timeout (absent: no time limit)")
def _() -> Any:
    return getattr(huey_task_class(), "default_timeout", None)


@probe("huey", "time_limit", "timeout of a @huey.task() instance without options (absent: no time limit)")
def _() -> Any:
    return getattr(huey_task()[1], "timeout", None)


# ------------------------------------------------------------------------- the tests


def assumed_defaults() -> Dict[str, Dict[str, Any]]:
    return load_knowledge().defaults


def same(assumed: Any, found: Any) -> bool:
    # True == 1 and 0 == False in Python: a bool must stay a bool, a number a number
    return (
        type(assumed) is type(found)
        and assumed == found
        or (
            isinstance(assumed, (int, float))
            and isinstance(found, (int, float))
            and not isinstance(assumed, bool)
            and not isinstance(found, bool)
            and assumed == found
        )
    )


@pytest.mark.parametrize("case", PROBES, ids=lambda case: case.id)
def test_assumed_default_matches_installed_framework(case: Probe) -> None:
    pytest.importorskip(case.framework)
    version = framework_version(case.framework)
    assumed = assumed_defaults().get(case.framework, {}).get(case.key, MISSING)
    if assumed is MISSING:
        pytest.fail(
            f"{case.framework}: option {case.key!r} is probed here but missing from "
            f"defaults.{case.framework} in rules/knowledge/frameworks.yaml"
        )
    try:
        found = case.find()
    except ProbeError as error:
        pytest.fail(
            f"{case.framework} {version}: cannot check the default of {case.key!r} "
            f"(jobcheck assumes {assumed!r}) by {case.where}: {error}"
        )
    assert same(assumed, found), (
        f"{case.framework} {version}: default {case.key!r} differs: jobcheck assumes {assumed!r} "
        f"(rules/knowledge/frameworks.yaml defaults.{case.framework}.{case.key}), "
        f"the installed {case.framework} has {found!r} ({case.where})"
    )


def covered_keys() -> List[Tuple[str, str]]:
    return sorted({(case.framework, case.key) for case in PROBES})


def test_every_assumed_default_is_checked() -> None:
    assumed = {(framework, key) for framework, keys in assumed_defaults().items() for key in keys}
    unchecked = sorted(assumed - set(covered_keys()))
    assert not unchecked, (
        "defaults in rules/knowledge/frameworks.yaml that no probe in tests/test_defaults.py checks: "
        + ", ".join(f"{framework}.{key}" for framework, key in unchecked)
    )


def test_every_probe_checks_an_assumed_default() -> None:
    assumed = {(framework, key) for framework, keys in assumed_defaults().items() for key in keys}
    stray = sorted(set(covered_keys()) - assumed)
    assert not stray, "probes for keys that frameworks.yaml has no default for: " + ", ".join(
        f"{framework}.{key}" for framework, key in stray
    )


def test_comparison_keeps_bools_numbers_and_none_apart() -> None:
    # acks_late False must not pass for 0, nor max_retries 0 for None or False
    assert same(3, 3) and same(600000, 600000.0) and same(None, None) and same("default", "default")
    assert not same(False, 0) and not same(0, False) and not same(True, 1)
    assert not same(0, None) and not same(None, 0) and not same(3, 4)
