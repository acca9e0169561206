"""Frozen, picklable data types shared by every stage of the pipeline.

Nothing here imports libcst: a run served from the cache never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Dict, Optional, Tuple

# (line, col, end_line, end_col): lines 1-based, columns 0-based code points.
Span = Tuple[int, int, int, int]

NO_SPAN: Span = (1, 0, 1, 0)


@dataclass(frozen=True)
class Location:
    path: str  # relative to the project root, POSIX separators
    span: Span = NO_SPAN

    @property
    def line(self) -> int:
        return self.span[0]

    @property
    def col(self) -> int:
        return self.span[1]

    def __str__(self) -> str:
        return f"{self.path}:{self.span[0]}:{self.span[1] + 1}"


# ----------------------------------------------------------------- expressions
# A small, picklable picture of the Python expressions jobcheck reasons about.


@dataclass(frozen=True)
class Const:
    """A literal value (str, bytes, int, float, bool, None, or tuples/lists/dicts of them)."""

    value: Any


@dataclass(frozen=True)
class Name:
    """A dotted name. `qname` is resolved through the module's imports and definitions.

    kind: "global" (resolved against module scope or imports), "local" (a name bound in
    the enclosing function: `qname` is then the plain dotted text), "builtin".
    """

    qname: str
    kind: str = "global"


@dataclass(frozen=True)
class Attr:
    """An attribute of an expression that is not a plain dotted name, e.g. `Celery().conf`."""

    base: "Expr"
    attr: str


@dataclass(frozen=True)
class Call:
    func: "Expr"
    args: Tuple["Expr", ...] = ()
    kwargs: Tuple[Tuple[str, "Expr"], ...] = ()
    star_args: bool = False
    star_kwargs: bool = False
    span: Span = NO_SPAN

    def kwarg(self, name: str) -> Optional["Expr"]:
        for key, value in self.kwargs:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class BinOp:
    """An arithmetic expression that is not a constant (`F("n") + 1`)."""

    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Subscript:
    """`base[index, ...]`: generic annotations (`AsyncIterator[Session]`), lookups."""

    base: "Expr"
    index: Tuple["Expr", ...] = ()


@dataclass(frozen=True)
class Collection:
    """A list/tuple/set/dict display that is not entirely literal."""

    kind: str  # "list", "tuple", "set", "dict"
    items: Tuple["Expr", ...] = ()
    keys: Tuple["Expr", ...] = ()  # dicts only, parallel to items


@dataclass(frozen=True)
class Unknown:
    text: str = ""


Expr = Any  # Const | Name | Attr | Call | Collection | Unknown


def leaf(expr: Expr) -> Optional[str]:
    """The last name of a callee: `send` for `task.send`, `Celery` for `celery.Celery`."""
    if isinstance(expr, Name):
        return expr.qname.rsplit(".", 1)[-1]
    if isinstance(expr, Attr):
        return expr.attr
    return None


def split_method(func: Expr) -> Optional[Tuple[Expr, str]]:
    """`receiver.method` -> (receiver, "method"), for names and attributes of expressions."""
    if isinstance(func, Name) and "." in func.qname:
        head, _, method = func.qname.rpartition(".")
        return Name(head, func.kind), method
    if isinstance(func, Attr):
        return func.base, func.attr
    return None


# ----------------------------------------------------------------- per-module facts


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "positional", "keyword", "var_positional", "var_keyword"
    default: Optional[Expr] = None
    annotation: Optional[Expr] = None


@dataclass(frozen=True)
class FunctionFact:
    qualname: str  # dotted, module-relative: "Class.method", "outer.inner"
    name: str
    span: Span  # of the name
    decorators: Tuple[Expr, ...] = ()
    decorator_spans: Tuple[Span, ...] = ()
    decorator_texts: Tuple[str, ...] = ()  # as written, for messages: "app.task(bind=True)"
    params: Tuple[Param, ...] = ()
    class_qualname: Optional[str] = None
    parent: Optional[str] = None  # enclosing function's qualname
    is_async: bool = False
    locals: Tuple[Tuple[str, Expr], ...] = ()  # first binding of each local name
    rebound: Tuple[str, ...] = ()  # local names assigned more than once (their value depends on the path)
    returns: Tuple[Expr, ...] = ()
    return_annotation: Optional[Expr] = None
    # `target op= value` statements: (target as dotted text, operator, value, span, context)
    augmented: Tuple[Tuple[str, str, Expr, Span, Tuple["Frame", ...]], ...] = ()
    # `raise X(...)` / `raise X`: (the exception as written, span, context)
    raises: Tuple[Tuple[Expr, Span, Tuple["Frame", ...]], ...] = ()  # a bare `raise`: Unknown("reraise")
    # `except` clauses in the function's own body: (the types, the clause's span, as in its Frame)
    handlers: Tuple[Tuple[Tuple[Expr, ...], Span], ...] = ()
    # the spans of those clauses whose body returns a value (`except Exception: return {"error": ...}`)
    handler_returns: Tuple[Span, ...] = ()
    # `name.attr = value` on a local or parameter (not `self`): (dotted target, value, span, context)
    attr_assigns: Tuple[Tuple[str, Expr, Span, Tuple["Frame", ...]], ...] = ()

    @cached_property
    def local_values(self) -> Dict[str, Expr]:
        """`locals` as a mapping, built once (the analysis looks names up in it again and again).
        Read only."""
        return dict(self.locals)


@dataclass(frozen=True)
class ClassFact:
    qualname: str
    name: str
    span: Span
    bases: Tuple[Expr, ...] = ()
    keywords: Tuple[Tuple[str, Expr], ...] = ()
    decorators: Tuple[Expr, ...] = ()
    attrs: Tuple[Tuple[str, Expr, Span], ...] = ()  # class-level assignments
    methods: Tuple[str, ...] = ()
    parent: Optional[str] = None
    # `self.name = value` in a method: (name, value, the method's qualname), first binding
    instance_attrs: Tuple[Tuple[str, Expr, str], ...] = ()


@dataclass(frozen=True)
class Frame:
    """One level of the syntactic context of a call, inside its function.

    kind: "with" (exprs: the context managers), "loop", "try" (exprs: the handled
    exception types; text "conflict" when a handler treats HTTP 409 as done), "except" (exprs: its types; span: the except clause), "finally", "callback"
    (a lambda passed to exprs[0]), "guard" (an earlier `if ...: return/raise/continue`
    in an enclosing block: exprs are the calls in its test, names the dotted names it
    reads, text the test as written), "when" (the `if` arm the call is in, the same fields
    for its test; text is its negation for the else arm), "notfound" (after a `try` whose body
    exits, e.g. `try: X.objects.get(...); continue`: exprs are the types of the handlers that
    fall through)."""

    kind: str
    exprs: Tuple[Expr, ...] = ()
    names: Tuple[str, ...] = ()
    text: str = ""
    span: Span = NO_SPAN
    scope: str = ""  # "module:qualname" of the function the frame is in (guards, branches, with-blocks)


@dataclass(frozen=True)
class CallFact:
    call: Call
    scope: str  # qualname of the enclosing function, "" at module level
    context: Tuple[Frame, ...] = ()  # outermost first, within the enclosing function
    awaited: bool = False


@dataclass(frozen=True)
class AssignFact:
    """`target = value` at module level, or `a.b.c = value` (target kept dotted)."""

    target: str  # local dotted text, e.g. "app" or "app.conf.task_routes"
    target_qname: str  # resolved through imports
    value: Expr
    span: Span


@dataclass(frozen=True)
class SyntaxErrorFact:
    message: str
    line: int
    col: int


@dataclass(frozen=True)
class ModuleFacts:
    path: str
    module: str
    is_package: bool = False
    imports: Tuple[Tuple[str, str], ...] = ()  # local name -> qualified name
    star_imports: Tuple[str, ...] = ()
    assigns: Tuple[AssignFact, ...] = ()
    functions: Tuple[FunctionFact, ...] = ()
    classes: Tuple[ClassFact, ...] = ()
    calls: Tuple[CallFact, ...] = ()
    error: Optional[SyntaxErrorFact] = None
    # string keys of dicts written outside functions (settings, beat schedules): (key, span)
    dict_keys: Tuple[Tuple[str, Span], ...] = ()
    managed: Tuple[Span, ...] = ()  # calls used as `with` context managers


# ----------------------------------------------------------------- tasks and results


@dataclass(frozen=True)
class OptionValue:
    """An effective option of a task, and where it came from."""

    value: Any
    source: str  # "decorator", "base class Foo", "app config", "task_routes", "default"...
    location: Optional[Location] = None

    def describe(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return f"{self.source}{where}"


@dataclass(frozen=True)
class Task:
    framework: str
    name: str  # the name the framework registers (Celery: module.qualname)
    qualname: str  # Python path of the definition: "pkg.mod.func"
    module: str
    location: Location  # the name on the def/class line
    kind: str  # "function", "class", "enqueued" (RQ function found through an enqueue)
    how: str  # the decorator or base that makes it a task, as written
    options: Tuple[Tuple[str, OptionValue], ...] = ()

    def option(self, key: str) -> Optional[OptionValue]:
        for name, value in self.options:
            if name == key:
                return value
        return None


@dataclass(frozen=True)
class EnqueueSite:
    framework: str
    api: str  # "delay", "apply_async", "enqueue", "send", ...
    task: Optional[str]  # qualname of the task sent, when known
    location: Location
    scope: str  # qualified name of the enclosing function ("" for module level)
    options: Tuple[Tuple[str, Any], ...] = ()
    open_options: bool = False  # `**options` passed too: any option may be set

    def may_set(self, option: str) -> bool:
        """Whether the call sets `option` (to something other than None), or may through `**`."""
        return dict(self.options).get(option) is not None or self.open_options


@dataclass(frozen=True)
class Effect:
    """Something a task does that changes the world outside the job's memory.

    kind: "db-write", "external", "increment", "enqueue", "lock", "wait", "sleep".
    `chain` holds the call sites from the task body down to the function that makes the
    effect; `frames` the syntactic context along that chain (outermost first).
    """

    kind: str
    api: str  # what it resolved to: "Order.objects.create", "requests.post"
    detail: str  # insert/update/delete/save/upsert, email/http/payment..., the queue...
    location: Location
    chain: Tuple[Location, ...] = ()
    frames: Tuple[Frame, ...] = ()
    keyed: bool = False  # an idempotency key is passed to the call
    scope: str = ""  # "module:qualname" of the function that makes the call
    path: Tuple[str, ...] = ()  # the scopes along the chain, task body first, ending with `scope`


@dataclass(frozen=True)
class RelatedLocation:
    location: Location
    message: str
    step: bool = False  # a step of the call chain from the task body to the effect (SARIF codeFlows)


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    location: Location
    task: Optional[str] = None
    related: Tuple[RelatedLocation, ...] = ()
    extra: Dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def sort_key(self) -> Tuple[str, int, int, str]:
        return (self.location.path, self.location.span[0], self.location.span[1], self.code)
