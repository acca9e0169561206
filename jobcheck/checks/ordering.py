"""JC701 unordered-dependent-enqueues."""

from __future__ import annotations

from typing import Dict, Iterator, List, Tuple

from jobcheck.checks.arguments import enqueue_calls, job_arguments
from jobcheck.checks.common import CHAIN, job_label
from jobcheck.model import Const, EnqueueSite, Finding

CODES = ("JC701",)

CHAINING = {"depends_on", "link", "link_error"}


def check_project(ctx) -> Iterator[Finding]:
    calls = enqueue_calls(ctx)
    by_function: Dict[Tuple[str, str], List[EnqueueSite]] = {}
    for site in ctx.project.enqueue_sites:
        if site.api != "beat" and site.task and (site.location.path, site.location.span) in calls:
            by_function.setdefault((site.location.path, site.scope), []).append(site)
    for sites in by_function.values():
        sites.sort(key=lambda s: s.location.span)
        for earlier, later in zip(sites, sites[1:]):
            if earlier.task == later.task or CHAINING & {k for k, _ in later.options}:
                continue
            if not _both_run(calls, earlier, later):
                continue
            first = _arguments(calls, earlier)
            shared = [a for a in _arguments(calls, later) if a in first]
            if not shared:
                continue
            yield Finding(
                "JC701",
                f"{job_label(later.task, '')} and {job_label(earlier.task, '')} are sent one after the other with the same "
                "argument but not chained: they can run at the same time or in either order. If the second "
                f"needs the first to have finished, chain them ({CHAIN[later.framework]}).",
                later.location,
            )


def _arguments(calls, site: EnqueueSite) -> list:
    """The job's own arguments (not enqueue options such as `run_async=` or `job_kwargs=`)."""
    _, fact = calls[(site.location.path, site.location.span)]
    keywords_are_job = site.api in ("delay", "delay_on_commit", "send")  # `task.delay(order_id=x)`
    options = [] if keywords_are_job else [value for _, value in fact.call.kwargs]  # a list: dicts are unhashable
    return [
        a for a in job_arguments(site.api, fact) if not isinstance(a, Const) and (a in fact.call.args or a not in options)
    ]


def _both_run(calls, earlier: EnqueueSite, later: EnqueueSite) -> bool:
    """Not in different arms of an `if`, and no exit between them (`send(a); return` ... `send(b)`)."""
    first, second = calls[(earlier.location.path, earlier.location.span)][1], calls[(later.location.path, later.location.span)][1]
    arms_first = {(f.span, f.text) for f in first.context if f.kind == "branch"}
    arms_second = {(f.span, f.text) for f in second.context if f.kind == "branch"}
    spans_first = {span for span, _ in arms_first}
    if any(span in spans_first and (span, text) not in arms_first for span, text in arms_second):
        return False
    guards_second = [f for f in second.context if f.kind == "guard"]
    return not any(f.span[:2] > first.call.span[:2] for f in guards_second)

