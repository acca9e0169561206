"""What every check shares: the context it reads, and where findings about effects go."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from jobcheck.catalog import Catalog
from jobcheck.config import Config
from jobcheck.model import Effect, Location, RelatedLocation, Task


# How each framework says "run this later" and "run this after that", for the fixes messages suggest.
RETRY_LATER = {
    "celery": "`raise self.retry(exc=..., countdown=...)` on a bound task",
    "dramatiq": "`raise dramatiq.Retry(delay=...)`",
    "huey": "`raise RetryTask(delay=...)` on a task with `retries=`",
    "rq": "`retry=Retry(max=..., interval=...)` on the enqueue, or `queue.enqueue_in(...)`",
}
CHAIN = {
    "celery": "`chain(first.si(x), second.si(x)).apply_async()`, `link=`, or a chord",
    "rq": "`depends_on=` the first job",
    "dramatiq": "`pipeline([first.message(x), second.message(x)]).run()`, or a group completion callback",
    "huey": "`first.s(x).then(second, x)` enqueued with `huey.enqueue(...)`",
}


@dataclass
class CheckContext:
    project: Any  # jobcheck.frameworks.Project
    config: Config
    catalog: Catalog
    selected: Set[str]
    _effects: Dict[str, List[Effect]] = field(default_factory=dict)
    _once: Dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """A project-wide value several checks (or many calls of one) need, computed once per run."""
        if key not in self._once:
            self._once[key] = compute()
        return self._once[key]

    def options(self, code: str) -> Dict[str, Any]:
        defaults = {k: spec.get("default") for k, spec in self.catalog.rule(code).options.items()}
        defaults.update(self.config.rule_options(code))
        return defaults

    @functools.cached_property
    def analysis(self) -> Any:
        from jobcheck.analysis.effects import EffectAnalysis

        return EffectAnalysis(self.project, self.config)

    def effects(self, task: Task) -> List[Effect]:
        """The task's effects, computed once for all checks."""
        if task.qualname not in self._effects:
            self._effects[task.qualname] = self.analysis.task_effects(task)
        return self._effects[task.qualname]


def at_task_body(effect: Effect, what: str) -> Tuple[Location, Tuple[RelatedLocation, ...]]:
    """Where a finding about an effect goes (the task-body call leading to it), and the chain."""
    if not effect.chain:
        return effect.location, ()
    steps = [RelatedLocation(site, "calls", step=True) for site in effect.chain[1:]]
    steps.append(RelatedLocation(effect.location, what, step=True))
    return effect.chain[0], tuple(steps)


# what changes the world: enqueues, locks, waits and sleeps are effects of other kinds
WORLD_EFFECTS = ("db-write", "external", "increment")
BROAD_EXCEPTIONS = {"Exception", "BaseException"}  # catching or retrying these takes bugs for outages


def short(task: Task) -> str:
    return task.qualname.rsplit(".", 1)[-1]


def job_label(qualname: Optional[str], unknown: str) -> str:
    """`` `charge` `` for a task's qualified name, or the words for a job jobcheck cannot name."""
    return f"`{qualname.rsplit('.', 1)[-1]}`" if qualname else unknown
