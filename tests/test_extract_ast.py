"""The `ast` reading of a module (used for helpers the analysis reaches through the index)
gives the very facts the libcst reading gives: on every fixture, on constructs where the two
trees differ in shape, and on generated programs."""

import ast
import os
import re
import textwrap
import unicodedata
import warnings

import libcst as cst
import pytest

from conftest import FIXTURES
from jobcheck.analysis import extract, extract_ast
from jobcheck.engine import analyse_source
from jobcheck.model import Name


def both(source: bytes, module: str = "pkg.mod", is_package: bool = False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(source)
    by_cst = extract.extract(cst.parse_module(source), "pkg/mod.py", module, is_package)
    by_ast = extract_ast.extract(tree, extract_ast.decode(source), "pkg/mod.py", module, is_package)
    return by_cst, by_ast


FIXTURE_FILES = sorted(p for p in FIXTURES.rglob("*.py") if "syntax" not in p.parts)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_facts_are_the_same_from_ast_and_libcst(path):
    by_cst, by_ast = both(path.read_bytes())
    assert by_ast == by_cst


TRICKY = {
    "parenthesised test with comments": """
        def f(a, b):
            if (  # why
                a and b  # more
            ):
                return g()
            if (a
                or b):
                h()
        """,
    "f-strings": r"""
        import requests
        def f(host, x):
            requests.post(f"https://{host}/api/{{v}}\t" "/tail")
            requests.get(f"{x=}" f"{ x = !r:>4}")
            return rf"\d{x}" + f'{x!s}' "plain"
        """,
    "one-line suites": """
        def f(x):
            if x: y = 1; return y
            while x: z = g(z)
        if TYPE_CHECKING: from a import b
        """,
    "parameters": """
        def f(a=g(1), /, b=g(2), *args, c=g(3), d, **kw) -> T.x:
            return a
        lambda q=g(4): q
        """,
    "arguments in any order": """
        def f(rest, kw):
            g(a=h(1), *rest, b=h(2), **kw)
            g(*rest, h(3), c=h(4))
        """,
    "subscripts": """
        def f(x):
            return x[1], x[1, 2], x[(1, 2)], x[1:2], x[::2, 3], x[g()]
        """,
    "dicts and comprehensions": """
        CONF = {"a": 1, "b" "c": g(), **OTHER, f"k{1}": 2, b"x": 3}
        def f(xs):
            return {k: g(k) for k in xs if h(k)}, [g(x) for x in xs for y in x], {*xs}
        """,
    "branches": """
        def f(mode, flag, x):
            if mode == Mode.INSERT:
                g()
            elif not flag:
                h()
            else:
                if x is None:
                    k()
            if flag and x.exists(y=True): return
            g(1)
        """,
    "try, with, loops, match": """
        async def f(x):
            try:
                obj = Model.objects.get(pk=x)
                continue_ = 1
            except (Model.DoesNotExist, KeyError) as error:
                if error.status == 409:
                    pass
            else:
                g()
            finally:
                h()
            async with lock(x) as held, other():
                await send(held)
            async for item in stream():
                g(item)
            else:
                h()
            while x:
                x -= 1
            match x:
                case Point(x=0) if g(x):
                    h()
                case _:
                    k()
        """,
    "classes and assignments": """
        @dataclass(frozen=True)
        class A(Base, metaclass=Meta):
            name: str = field(default="a")
            count = 0
            def __init__(self):
                self.value = g()
                other.attr = h()
                total: int = 0
                total += 2 ** 3
                (w := g())
        """,
    "imports": """
        import a.b.c
        import d as e
        from . import f
        from ..g import h as i, j
        from .k import *
        def m():
            import n
            from o import p
            global q
            return n, p, q
        """,
    "non-ascii columns": """
        def f():
            print("ééé"); g(1)
            x = "日本"; task.delay(x)
        """,
    "expressions": """
        A = -1
        B = 2 * 3 + 4 - 1 / 2 // 1 % 2
        C = not x, ~y, +z, -w, a if DEBUG else b, a if c else b, lambda: 1, ..., 1j, x @ y
        D = [*a, 1], (1, 2), {1, 2}, [1, 2]
        E = yield_ = (await_ for await_ in x)
        """,
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_constructs_where_the_trees_differ_give_the_same_facts(name):
    source = textwrap.dedent(TRICKY[name]).encode()
    try:
        ast.parse(source)
    except SyntaxError:
        pytest.skip("syntax newer than this Python (`match`)")
    by_cst, by_ast = both(source)
    assert by_ast == by_cst


def test_line_endings_and_encodings_give_the_same_facts():
    source = textwrap.dedent(TRICKY["branches"]).replace("\n", "\r\n").encode()
    by_cst, by_ast = both(source)
    assert by_ast == by_cst
    latin = "# -*- coding: latin-1 -*-\ndef f():\n    x = 'é'; g(x)\n".encode("latin-1")
    by_cst, by_ast = both(latin)
    assert by_ast == by_cst
    assert by_ast.calls[0].call.span == (3, 13, 3, 17)  # code points, not bytes


def test_a_file_ast_cannot_read_is_read_by_libcst():
    facts = analyse_source(b"def f(:\n    pass\n", "bad.py", "bad", False, cheap=True)
    assert facts.error is not None and facts.error.line == 1


hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")
from hypothesis import HealthCheck, given, settings  # noqa: E402

EXAMPLES = int(os.environ.get("JOBCHECK_FUZZ_EXAMPLES", "15"))


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(max_examples=EXAMPLES * 4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_node())
def test_generated_modules_give_the_same_facts(source):
    if any(unicodedata.normalize("NFKC", word) != word for word in re.findall(r"\w+", source) if not word.isascii()):
        return  # `ast` gives identifiers NFKC-normalised (`Ĳ` is `IJ` to Python), libcst as written
    data = source.encode("utf-8")
    try:
        by_cst, by_ast = both(data)
    except (SyntaxError, cst.ParserSyntaxError, RecursionError, ValueError):
        return  # not the extractors' business
    assert by_ast == by_cst


def test_deep_nesting_read_by_ast_is_analysed_or_refused_never_an_error():
    within_cpython = b"def f():\n    g(" + b"1 + " * 1500 + b"1)\n"  # deeper than libcst can take
    facts = analyse_source(within_cpython, "deep.py", "deep", False, cheap=True)
    assert facts.error is None and [fact.call.func for fact in facts.calls] == [Name("deep.g")]
    assert analyse_source(within_cpython, "deep.py", "deep", False).error.message.startswith("nesting deeper")
    beyond = b"x = " + b"-" * 5000 + b"1\n"
    refused = analyse_source(beyond, "deep.py", "deep", False, cheap=True).error.message
    assert refused in ("nesting too deep to parse", "nesting too deep to analyse")  # CPython 3.9 parses it


def test_parsing_without_node_validation_gives_the_same_tree_and_restores_validation():
    from jobcheck.engine import _parse_module

    for path in sorted(FIXTURES.rglob("*.py"))[:20]:
        data = path.read_bytes()
        try:
            validated = cst.parse_module(data)
        except cst.ParserSyntaxError:
            continue
        assert _parse_module(data).deep_equals(validated)
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")  # validation is back on for everyone else


def test_names_with_combining_marks_are_spanned_as_written():
    by_cst, by_ast = both("class Aཱ: pass\n".encode())  # U+0F71, a mark `\w` does not match
    assert by_ast == by_cst and by_ast.classes[0].span == (1, 6, 1, 8)
