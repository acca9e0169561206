"""JC601 swallowed-task-exception, JC602 early-ack-task, JC603 unhandled-final-failure."""

from __future__ import annotations

import re
from typing import Iterator, Tuple

from jobcheck.analysis.index import Where
from jobcheck.checks.common import BROAD_EXCEPTIONS, RETRY_LATER, WORLD_EFFECTS, short
from jobcheck.model import Collection, Const, Expr, Finding, Location, Name, Span, Task, leaf, split_method

CODES = ("JC601", "JC602", "JC603")

# calls that hand the failure to the framework: a retry, or rejecting / failing the message
HANDS_OVER = {"retry", "Reject", "Retry", "RetryTask", "fail", "CancelExecution"}
FAILURE_KEYWORDS = {"status", "state", "error", "failure", "failed"}
METRIC_CALLS = {"incr", "increment", "inc", "count", "gauge", "timing"}


def check_task(ctx, task: Task) -> Iterator[Finding]:
    if "JC601" in ctx.selected:
        yield from _swallowed(ctx, task)
    if "JC602" in ctx.selected:
        yield from _early_ack(ctx, task)


# ------------------------------------------------------------------ JC601


def _swallowed(ctx, task: Task) -> Iterator[Finding]:
    entry = ctx.analysis.entry(task)
    if entry is None:
        return
    module, function = entry
    where = Where(module, function)
    for types, span in function.handlers:
        if not _broad(types, ctx, where) or _hands_over(ctx, module, function, span):
            continue
        if _in_cleanup(ctx, module, function, span):
            continue  # a `try` inside `finally:` guards cleanup; the job's own failure is handled outside
        line, col = span[0], span[1]
        caught = "everything" if not types else "`Exception`"
        yield Finding(
            "JC601",
            f"`{short(task)}` catches {caught} and carries on: the job ends as a success although its work "
            "failed, so no retry runs and nothing reaches the failed-job queue. Re-raise after logging "
            f"(`raise`), retry ({RETRY_LATER[task.framework]}), or catch only the errors you can handle.",
            Location(module.path, (line, col, line, col + len("except"))),
            task.qualname,
        )


def _in_cleanup(ctx, module, function, span: Span) -> bool:
    for fact in ctx.analysis.calls_of(module, function):
        kinds = [f.kind for f in fact.context if f.kind in ("finally", "except") and (f.kind == "finally" or f.span == span)]
        if "except" in kinds and kinds.index("except") > 0 and kinds[0] == "finally":
            return True
    return False


def _broad(types: Tuple[Expr, ...], ctx, where: Where) -> bool:
    """A bare `except:`, or `Exception`/`BaseException` alone or in a tuple."""
    if not types:
        return True
    names = []
    for expr in types:
        items = expr.items if isinstance(expr, Collection) else (expr,)
        names.extend(item for item in items if isinstance(item, Name))
    return any(name.kind == "builtin" and name.qname in BROAD_EXCEPTIONS for name in names)


def _hands_over(ctx, module, function, span: Span) -> bool:
    """The handler raises (a bare `raise` included), retries, rejects, returns a result that reports
    the failure, or records it in the database."""
    inside = lambda frames: any(f.kind == "except" and f.span == span for f in frames)  # noqa: E731
    if any(inside(frames) for _, _, frames in function.raises):
        return True
    if span in function.handler_returns:
        return True  # the job's result reports the failure (`return {"error": ...}`) to whoever reads it
    if any(
        target.rsplit(".", 1)[-1] in FAILURE_KEYWORDS and (inside(frames) or (at[:2] > span[2:] and _says_failure(value)))
        for target, value, at, frames in function.attr_assigns
    ):
        return True  # `job.status = FAILED` in the handler, or after the try it falls out of
    where = Where(module, function)
    for fact in ctx.analysis.calls_of(module, function):
        if not inside(fact.context):
            continue
        if leaf(fact.call.func) in HANDS_OVER or _sets_failure_state(fact.call):
            return True
        effect = ctx.analysis.classify(fact, where, Location(module.path, fact.call.span))
        if effect is not None and effect.kind == "db-write":
            return True  # the failure is recorded (`job.status = FAILED; job.save()`)
        if _records_failure(ctx, fact, where):
            return True
    return False


def _says_failure(value: Expr) -> bool:
    """`JobStatus.FAILED`, `"error"`: a value that names a failure (not `"done"`)."""
    text = value.value if isinstance(value, Const) else (leaf(value) or "")
    return isinstance(text, str) and any(word in text.lower() for word in ("fail", "error"))


def _sets_failure_state(call) -> bool:
    """`job.terminate(status=ERRORED, error=repr(e))`, `mark_failed(job)`: not a log call."""
    name = (leaf(call.func) or "").lower()
    if "fail" in name:
        return True
    if name in METRIC_CALLS and any(
        isinstance(a, Const) and isinstance(a.value, str) and ("error" in a.value or "fail" in a.value) for a in call.args
    ):
        return True  # `statsd.incr("refresh_schema.error")`: the failure is counted where someone watches
    split = split_method(call.func)
    receiver = leaf(split[0]) if split is not None else None
    if receiver in ("log", "logger", "logging", "LOGGER", "LOG", "task_logger"):
        return False
    return any(key in FAILURE_KEYWORDS for key, _ in call.kwargs)


def _records_failure(ctx, fact, where: Where) -> bool:
    """A project helper called from the handler that writes to the database (`mark_failed(job)`)."""
    found = ctx.analysis.index.function_of(ctx.analysis.index.denote(fact.call.func, where))
    if found is None:
        return False
    effects, _ = ctx.analysis.summary(found[0], found[1], [])
    return any(e.kind == "db-write" for e in effects)


# ------------------------------------------------------------------ JC602


def _early_ack(ctx, task: Task) -> Iterator[Finding]:
    if task.framework != "celery":
        return
    acks_late = task.option("acks_late")
    if acks_late is not None and acks_late.value is True:
        return
    effects = [e for e in ctx.effects(task) if e.kind in WORLD_EFFECTS]
    if not effects:
        return
    yield Finding(
        "JC602",
        f"`{short(task)}` is acknowledged before it runs (no `acks_late`) and has effects (`{effects[0].api}`): "
        "if the worker dies mid-task the job is gone, half done. Set `acks_late=True` (or `task_acks_late` "
        "for the app) once the task is safe to run twice.",
        task.location,
        task.qualname,
    )


# ------------------------------------------------------------------ JC603

APP_TYPES = {"celery": "celery.Celery", "dramatiq": "dramatiq.Broker", "huey": "huey.Huey", "rq": "rq.Queue"}
# per framework: keywords (at a send, on a decorator, on a worker) and names that handle a final failure
FINAL_FAILURE = {
    "celery": ({"link_error"}, ("task_failure", "task_failure.connect")),
    "dramatiq": ({"on_failure", "on_retry_exhausted"}, ()),
    "rq": ({"on_failure", "exception_handlers"}, ("push_exc_handler",)),
    "huey": (set(), ("SIGNAL_ERROR",)),
}
# a Sentry integration reports every final failure too: looked for in every file's text
SENTRY_INTEGRATIONS = {
    "celery": b"CeleryIntegration(",
    "dramatiq": b"DramatiqIntegration(",
    "rq": b"RqIntegration(",
    "huey": b"HueyIntegration(",
}


def check_project(ctx) -> Iterator[Finding]:
    if "JC603" not in ctx.selected:
        return
    retried = [t for t in ctx.project.tasks if _retried(t)]
    for framework in sorted({t.framework for t in retried}):
        if _handles_final_failure(ctx, framework):
            continue
        first = next(t for t in retried if t.framework == framework)
        yield Finding(
            "JC603",
            f"Jobs here are retried (e.g. `{short(first)}`) but nothing handles their final failure: when the "
            "last retry fails the job is dropped (or parked) silently. Add a failure handler "
            f"({HANDLERS[framework]}) that alerts or records it.",
            _definition(ctx, framework) or first.location,
        )


HANDLERS = {
    "celery": "a `task_failure` signal handler, `on_failure` on a base task class, or `link_error=`",
    "dramatiq": "`on_retry_exhausted=`/`on_failure=` on the actors",
    "huey": "a `@huey.signal(SIGNAL_ERROR)` handler",
    "rq": "`on_failure=` on the jobs, or worker exception handlers",
}


LAST_ATTEMPT = re.compile(
    rb"request\.retries\s*(?:>=|==|>)\s*[\w.]*max_retries|max_retries\s*(?:<=|==|<)\s*[\w.]*request\.retries"
)


def _retried(task: Task) -> bool:
    retries = task.option("retries")
    value = retries.value if retries is not None else 0
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0)


def _handles_final_failure(ctx, framework: str) -> bool:
    keywords, names = FINAL_FAILURE[framework]
    integration = SENTRY_INTEGRATIONS[framework]
    if any(integration in data for data in ctx.project.texts.values()):
        return True  # set up anywhere, even in a module that does not import the framework
    if framework == "celery" and any(LAST_ATTEMPT.search(data) for data in ctx.project.texts.values()):
        return True  # a task that handles its own last attempt (`if self.request.retries >= self.max_retries:`)
    for module in ctx.project.index.scanned():
        if framework == "celery" and any("on_failure" in cls.methods for cls in module.classes):
            return True
        for fact in module.calls:
            if keywords & {key for key, _ in fact.call.kwargs}:
                return True
            if framework == "huey" and leaf(fact.call.func) == "signal" and not fact.call.args:
                return True  # `@huey.signal()` with no signal named receives them all, errors included
            if names and any(isinstance(n, Name) and n.qname.endswith(names) for n in (fact.call.func, *fact.call.args)):
                return True
        for function in module.functions:
            for decorator in function.decorators:
                for part in (decorator, getattr(decorator, "func", None), *getattr(decorator, "args", ())):
                    if names and isinstance(part, Name) and part.qname.endswith(names):
                        return True
    return False


def _definition(ctx, framework: str):
    """Where the project defines its app, broker or Huey instance."""
    index = ctx.project.index
    wanted = APP_TYPES[framework]
    for module in index.scanned():
        for assign in module.assigns:
            if "." in assign.target or not hasattr(assign.value, "func"):
                continue
            target = index.call_result(assign.value, Where(module))
            if wanted in index.instance_types(target):
                return Location(module.path, assign.span)
    return None
