"""node_spans (jobcheck/analysis/positions.py) against libcst's own PositionProvider.

jobcheck computes positions cheaply instead of resolving PositionProvider; for every
Call, Name, Arg and ExceptHandler node of each source, the (line, col, end_line, end_col)
it gives must be exactly PositionProvider's syntactic range (lines 1-based, columns
0-based code points). All Names are compared, which includes the function and class names
jobcheck reports. The sources are the project's own files (globbed at test time), hand-
written edge cases, and, when hypothesmith is installed, generated programs.

Edge cases that once differed: ExceptHandler ends (hoisted from `end_node=self.body`), a
handler ending a file with no trailing newline, and lone CR line breaks.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Type

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from jobcheck.analysis.positions import node_spans

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("jobcheck", "fixtures")

KINDS: Dict[str, Type[cst.CSTNode]] = {
    "Call": cst.Call,
    "Name": cst.Name,
    "Arg": cst.Arg,
    "ExceptHandler": cst.ExceptHandler,
}
SPAN_KINDS = ("Call", "Name", "Arg")

# name -> source text (encoded to UTF-8 bytes and parsed as bytes, as jobcheck does)
EDGE_CASES: Dict[str, str] = {
    "crlf": (
        "import x\r\n"
        "\r\n"
        "@x.task(a=1,\r\n"
        "        b=g(2))\r\n"
        "def f(y):\r\n"
        "    return h(y, z=3)\r\n"
        "\r\n"
        "class C(Base, metaclass=M):\r\n"
        "    pass\r\n"
        "try:\r\n"
        "    f(1)\r\n"
        "except E as e:\r\n"
        "    f(e)\r\n"
    ),
    "tabs": (
        "if True:\n\tx = f(1,\tg(2))\n\tif x:\n\t\th(\t3,\tk=4)\ndef\tfunc(a):\n\treturn\tcall(a)\t# tab\tcomment\n"
    ),
    "emoji_before_call": (
        "s = '\U0001f600\U0001f40d'; f(x)\n"
        't = "\U0001f600" + g(1, k="\U0001f389") + h(\'\U0001f600\U0001f600\', 2)\n'
        "# \U0001f600 comment\n"
        "def \u043f\u0440\u0438\u0432\u0435\u0442(): return '\U0001f600'.join(m(3))\n"
    ),
    "non_latin1_identifiers": (
        "def \u95a2\u6570(\u5f15\u6570, *, \u03b4=1):\n"
        "    return \u5f15\u6570\n"
        "class \u039a\u03bb\u03ac\u03c3\u03b7(\u0392\u03ac\u03c3\u03b7, metaclass=\u039c):\n"
        "    pass\n"
        "\u7d50\u679c = \u95a2\u6570(\u03b4=2, \u5f15\u6570=\u039a\u03bb\u03ac\u03c3\u03b7())\n"
    ),
    "decorators_with_comments": (
        "@app.task(bind=True)  # one\n"
        "# between\n"
        "\n"
        "@retry(  # inside\n"
        "    3,\n"
        "    # a comment line among the arguments\n"
        "    delay=f(1),\n"
        ")\n"
        "# more\n"
        "@plain\n"
        "def job(self):\n"
        "    pass\n"
        "\n"
        "\n"
        "@dataclass  # c\n"
        "# d\n"
        "class C:\n"
        "    @property  # e\n"
        "    # f\n"
        "    def m(self): return g()\n"
    ),
    "multiline_calls": (
        "x = f(\n"
        "    1,\n"
        "    g(\n"
        "        2,\n"
        "    ),\n"
        "    *rest,\n"
        "    key=h(\n"
        "        3\n"
        "    ),  # trailing comment\n"
        "    **extra\n"
        ")\n"
        "y = (a\n"
        "     .b(1)\n"
        "     .c(2))\n"
        "z = k(1) + \\\n"
        "    m(2)\n"
    ),
    "calls_in_fstrings": (
        "x = f'{g(1)} and {h(a=2)!r:>{w(3)}}'\n"
        "y = f\"{f'{k(4)}'} {d['key'](5)}\"\n"
        "z = rf'''{m(\n"
        "6)} {n(7)=}'''\n"
        "u = f'\U0001f600{p(8)}\U0001f600{q(9)}'; r(10)\n"
    ),
    "nested_parens": ("y = ((f)(x))\nz = ((f)((x), (y)))\nw = (((g)))(((1)), k=((2)))\nv = ( ( h ) ( ( a ) ) )\n"),
    "no_trailing_newline": "import x\n\ndef f():\n    return x.g(1)\ny = g(1, b=f())",
    "bom": "\ufeffimport x\nx.f(1, k=g(2))\n",
    "formfeed_and_line_separators": ("\x0cf(1)\n\x0c\ng(2)\nx = 'a\u2028b\x0cc\x85d'; h(3)\n# c\u2028d\nk(4)\n"),
    "misc_syntax": (
        "class A(B, metaclass=M, **kw):\n"
        "    pass\n"
        "f(*a, **k)\n"
        "async def co():\n"
        "    await g(1)\n"
        "    async with h() as x:\n"
        "        return [i(j) async for j in k()]\n"
        "match f(x):\n"
        "    case C(a=1):\n"
        "        g()\n"
        "if (n := f(1)) > g(2):\n"
        "    lam = lambda a=f(3): a(4)\n"
        "f(...)(1)(2); g(3)\n"
    ),
    "except_handlers": (
        "try:\n"
        "    f()\n"
        "except (E, F) as e:\n"
        "    g(e)\n"
        "except G: h(1)\n"
        "except:\n"
        "    k()\n"
        "    # footer comment\n"
        "\n"
        "n()\n"
        "def inner():\n"
        "    try:\n"
        "        pass\n"
        "    except E:\n"
        "        try:\n"
        "            f()\n"
        "        except F:\n"
        "            raise\n"
        "    return 1\n"
    ),
    "except_at_end_without_newline": "try:\n    f()\nexcept E:\n    g()",
    "lone_cr_line_endings": "import x\rf(1)\rx.g(2, k=3)\r",
    "cr_in_triple_quoted_string": "x = '''a\rb'''; f(1)\ny = g(2)\n",
}

# ----------------------------------------------------------------------- sources


def project_files() -> List[Path]:
    files: List[Path] = []
    for folder in SOURCE_DIRS:
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    return files


def source_keys() -> List[str]:
    keys = [path.relative_to(ROOT).as_posix() for path in project_files()]
    keys.extend(f"edge:{name}" for name in EDGE_CASES)
    return keys


def source_bytes(key: str) -> bytes:
    if key.startswith("edge:"):
        return EDGE_CASES[key[len("edge:") :]].encode("utf-8")
    return (ROOT / key).read_bytes()


@functools.lru_cache(maxsize=None)
def parsed(key: str) -> Optional[cst.Module]:
    """The module for a source, or None when libcst cannot parse it (a syntax-error fixture)."""
    try:
        return cst.parse_module(source_bytes(key))
    except (cst.ParserSyntaxError, FileNotFoundError):
        return None


@functools.lru_cache(maxsize=None)
def has_kind(key: str, kind: str) -> bool:
    module = parsed(key)
    if module is None:
        return False
    found: List[bool] = []

    class Finder(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, KINDS[kind]):
                found.append(True)
            return not found

    module.visit(Finder())
    return bool(found)


# ----------------------------------------------------------------------- comparing

Span = Tuple[int, int, int, int]


@functools.lru_cache(maxsize=None)
def resolved(key: str) -> Tuple[cst.Module, Dict[cst.CSTNode, Span]]:
    module = parsed(key)
    if module is None:
        pytest.skip(f"{key} does not parse with libcst")
    return expected_spans(module)


def expected_spans(module: cst.Module) -> Tuple[cst.Module, Dict[cst.CSTNode, Span]]:
    wrapper = MetadataWrapper(module)
    positions = wrapper.resolve(PositionProvider)
    spans = {
        node: (r.start.line, r.start.column, r.end.line, r.end.column)
        for node, r in positions.items()
        if isinstance(node, tuple(KINDS.values()))
    }
    return wrapper.module, spans


def mismatches(module: cst.Module, expected: Dict[cst.CSTNode, Span], kind: str, aspect: str) -> List[str]:
    """Differences between node_spans and PositionProvider for nodes of `kind`.

    aspect "span" compares start and end, "start" and "end" one of them.
    """
    nodes = [node for node in expected if isinstance(node, KINDS[kind])]
    actual = node_spans(module, nodes)
    cut = {"span": slice(0, 4), "start": slice(0, 2), "end": slice(2, 4)}[aspect]
    problems = []
    for node in nodes:
        want = expected[node]
        got = actual.get(id(node))
        if got is None or tuple(got[cut]) != want[cut]:
            code = module.code_for_node(node)
            snippet = code if len(code) <= 60 else code[:57] + "..."
            problems.append(f"{kind} {snippet!r}: PositionProvider {want}, node_spans {got}")
    return problems


def report(key: str, problems: List[str]) -> str:
    shown = "\n  ".join(problems[:10])
    more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
    return f"{key}: {len(problems)} span(s) differ from libcst's PositionProvider:\n  {shown}{more}"


# ----------------------------------------------------------------------- parameters


def span_params() -> Iterator[object]:
    for key in source_keys():
        for kind in SPAN_KINDS:
            yield pytest.param(key, kind, id=f"{key}-{kind}")


def except_params(aspect: str) -> Iterator[object]:
    for key in source_keys():
        if has_kind(key, "ExceptHandler"):
            yield pytest.param(key, id=key)


@pytest.mark.parametrize(("key", "kind"), list(span_params()))
def test_spans_match_position_provider(key: str, kind: str) -> None:
    module, expected = resolved(key)
    problems = mismatches(module, expected, kind, "span")
    assert not problems, report(key, problems)


@pytest.mark.parametrize("key", list(except_params("start")))
def test_except_handler_start_matches_position_provider(key: str) -> None:
    module, expected = resolved(key)
    problems = mismatches(module, expected, "ExceptHandler", "start")
    assert not problems, report(key, problems)


@pytest.mark.parametrize("key", list(except_params("end")))
def test_except_handler_end_matches_position_provider(key: str) -> None:
    module, expected = resolved(key)
    problems = mismatches(module, expected, "ExceptHandler", "end")
    assert not problems, report(key, problems)


def test_sources_are_found_and_parse() -> None:
    keys = [path.relative_to(ROOT).as_posix() for path in project_files()]
    assert "jobcheck/analysis/positions.py" in keys, "the glob found no sources"
    # a syntax-error fixture may not parse; the analyzer's own code must
    unparsed = [key for key in keys if key.startswith("jobcheck/") and parsed(key) is None]
    assert not unparsed, f"libcst cannot parse: {unparsed}"
    assert sum(parsed(key) is not None for key in keys) >= 10


def test_edge_cases_contain_what_they_are_named_for() -> None:
    # guards against an edge case silently losing its point
    assert "\r\n" in EDGE_CASES["crlf"] and "\t" in EDGE_CASES["tabs"]
    assert any(ord(ch) > 0xFFFF for ch in EDGE_CASES["emoji_before_call"])
    assert not EDGE_CASES["non_latin1_identifiers"].startswith("\ufeff")
    assert any(ord(ch) > 0xFF for ch in EDGE_CASES["non_latin1_identifiers"])
    assert not EDGE_CASES["no_trailing_newline"].endswith("\n")
    for name in EDGE_CASES:
        key = f"edge:{name}"
        assert parsed(key) is not None, f"edge case {name} does not parse"
        assert has_kind(key, "Call") or has_kind(key, "ExceptHandler"), name


def test_position_provider_columns_are_code_points() -> None:
    """Pins the unit both sides use: columns count code points, not UTF-16 units or bytes."""
    module, expected = resolved("edge:emoji_before_call")
    calls = {module.code_for_node(n): span for n, span in expected.items() if isinstance(n, cst.Call)}
    assert calls["f(x)"][:2] == (1, len("s = '\U0001f600\U0001f40d'; "))


# ----------------------------------------------------------------------- generated programs


def check_source(source: str) -> None:
    """Shared property of the generated-program tests: spans agree wherever no known mismatch applies."""
    from hypothesis import assume

    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError):
        assume(False)
        return
    module, expected = expected_spans(module)
    problems: List[str] = []
    for kind in SPAN_KINDS:
        problems += mismatches(module, expected, kind, "span")
    problems += mismatches(module, expected, "ExceptHandler", "start")
    problems += mismatches(module, expected, "ExceptHandler", "end")
    assert not problems, report(repr(source), problems)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_hypothesmith_programs_match_position_provider() -> None:
    hypothesmith = pytest.importorskip("hypothesmith")
    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(hypothesmith.from_grammar())
    def check(source: str) -> None:
        check_source(source)

    check()


def call_programs():  # -> SearchStrategy[str]
    """Small programs dense in the node kinds under test, with awkward layout and text.

    hypothesmith's programs rarely contain a call at small sizes; these are made of calls,
    keyword and star arguments, decorators, class bases and except handlers, spread over
    lines with comments, tabs, CRLF, backslash continuations, parentheses, f-strings and
    strings with non-BMP characters.
    """
    from hypothesis import strategies as st

    names = st.sampled_from(["f", "g", "obj.meth", "caf\u00e9", "\u95a2\u6570", "\u03b4", "_x1", "app.task"])
    text = st.text(alphabet=st.sampled_from(list("ab #(){}'\"") + ["\U0001f600", "\u00e9", "\u4e2d", "\t"]), max_size=5)
    gaps = st.sampled_from(["", "", " ", "\t", "\n", "  # c\U0001f600\n", " \\\n", "\n\n  "])
    atoms = st.one_of(names, st.integers(-3, 10**6).map(str), text.map(repr))

    def call(inner):
        arg = st.one_of(
            inner,
            st.tuples(names, inner).map(lambda t: f"{t[0].split('.')[-1]}={t[1]}"),
            inner.map(lambda e: "*" + e),
            inner.map(lambda e: "**" + e),
        )

        def render(callee: str, args: List[str], g1: str, g2: str, comma: bool) -> str:
            trailing = "," if comma and args else ""
            return f"{callee}({g1}{(',' + g2).join(args)}{trailing}{g2})"

        return st.builds(
            render,
            st.one_of(names, inner.map(lambda e: f"({e})")),
            st.lists(arg, max_size=3),
            gaps,
            gaps,
            st.booleans(),
        )

    exprs = st.recursive(
        atoms,
        lambda inner: st.one_of(
            call(inner),
            st.tuples(gaps, inner, gaps).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
            st.tuples(inner, inner).map(lambda t: f"{t[0]} + {t[1]}"),
            inner.map(lambda e: "f'{" + e + "}'"),
            inner.map(lambda e: 'f"""\U0001f600{' + e + '!r:>{w}} {g(1)}"""'),
            inner.map(lambda e: f"[{e} for _ in ()]"),
        ),
        max_leaves=6,
    )

    def statement(body_expr):
        return st.one_of(
            body_expr,
            body_expr.map(lambda e: f"x = {e}"),
            st.tuples(exprs, names).map(lambda t: f"@{t[0]}\ndef {t[1].split('.')[-1]}(a=1):\n    return a"),
            st.tuples(st.lists(exprs, max_size=2)).map(lambda t: f"class C({', '.join(t[0])}):\n    pass"),
            st.tuples(exprs, exprs, exprs).map(
                lambda t: f"try:\n    {t[0]}\nexcept ({t[1]}) as e:\n    {t[2]}\nexcept E: pass"
            ),
        )

    return st.builds(
        lambda stmts, newline, trailing: (
            newline.join(s.replace("\n", newline) for s in stmts) + (newline if trailing else "")
        ),
        st.lists(statement(exprs), min_size=1, max_size=4),
        st.sampled_from(["\n", "\r\n"]),
        st.booleans(),
    )


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
def test_generated_call_programs_match_position_provider() -> None:
    from hypothesis import HealthCheck, assume, given, settings

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(call_programs())
    def check(source: str) -> None:
        try:
            compile(source, "<generated>", "exec")
        except (SyntaxError, ValueError):
            assume(False)
        check_source(source)

    check()
