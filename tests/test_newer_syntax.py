"""Syntax newer than the running Python (PEP 758 `except A, B:`, PEP 695 type parameters and
aliases, PEP 701 f-strings that reuse their quote) is read by `ast` after a rewrite that moves
nothing, with the facts libcst reads; what the rewrite cannot take goes to libcst, as any file
CPython refuses."""

import ast
import sys
import textwrap
import warnings

import pytest

from conftest import run_on, write_project
from jobcheck import engine
from jobcheck.analysis.newer_syntax import parse_downlevel


def _refused_by_this_python(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return True
    return False


def _readings(source: str, valid: bool = True):
    data = textwrap.dedent(source).lstrip("\n").encode()
    cheap, cheap_by_libcst = engine.read_facts(data, "shop/mod.py", "shop.mod", False, True)
    full, full_by_libcst = engine.read_facts(data, "shop/mod.py", "shop.mod", False, False)
    assert full_by_libcst and (full.error is None) == valid
    return cheap, cheap_by_libcst, full


READ_BY_AST = {
    "except tuple, bare": """
        import requests

        def fetch(url):
            try:
                return requests.get(url)
            except ValueError, KeyError:
                raise
    """,
    "except tuple, spaces around the colon": """
        import logging

        def fetch(url):
            try:
                return int(url)
            except ValueError, errors.Bad :
                logging.warning("bad %s", url)
            except  TypeError , KeyError:
                return None
    """,
    "except tuple, comments": """
        def fetch(url):
            try:
                return int(url)
            except ValueError, KeyError:  # the usual
                return None
            except OSError, IOError:# tight
                return None
    """,
    "generic function and class": """
        from shop.models import Order

        def first[T: (int, str)](items: list[T], default: T = Order.objects.none()) -> T:
            return items[0] if items else default

        async def later[T](x: T) -> T:
            return x

        class Box[K, V](dict[K, V], metaclass=type):
            limit = len("abc")

            def get[D](self, key: K, default: D) -> V | D:
                return super().get(key, default)
    """,
    "`type` as a plain name at the start of a line": """
        values = [
            a,
            type in [int],
        ]

        def first[T](x: T) -> T:
            return x
    """,
    "an alias in a class body": """
        class Box:
            type Key = str

            def get[D](self, key: Key, default: D) -> D:
                return default
    """,
    "a swap after an except rewrite on an earlier line": """
        def label(row):
            try:
                pass
            except A, B:
                return f'{row['a']}'
    """,
    "f-strings that reuse their quote": """
        import logging

        def label(row, width):
            logging.info(f'{row['id']}: {getattr(row, 'name', 'MISSING')} ({', '.join(row['tags'])})')
            return f"{row["total"]:>{width}} {row['unit']!r}"
    """,
    "type parameters with a ParamSpec first": """
        from typing import Callable

        def retried[**P, R](method: Callable[P, R]) -> Callable[P, R]:
            return method
    """,
    "type aliases": """
        from typing import Literal

        type Mode = Literal["fast", "slow"]  # the two modes
        type Pair[T] = tuple[T, T]
        type Nested = (
            dict[str, list[int]]
            | None
        )

        def speed(mode: Mode) -> int:
            return {"fast": 2, "slow": 1}[mode]
    """,
}


@pytest.mark.parametrize("source", READ_BY_AST.values(), ids=list(READ_BY_AST))
def test_newer_syntax_is_read_by_ast_with_libcsts_facts(source):
    cheap, cheap_by_libcst, full = _readings(source)
    assert not cheap_by_libcst
    assert cheap == full


@pytest.mark.skipif(sys.version_info < (3, 10), reason="`match` is Python 3.10")
def test_an_alias_in_a_match_case_is_read_by_ast():
    cheap, cheap_by_libcst, full = _readings(
        """
        def get[D](key, default: D) -> D:
            match key:
                case "a":
                    type Local = int
                    return default
                case _:
                    return default
        """
    )
    assert not cheap_by_libcst
    assert cheap == full


@pytest.mark.skipif(sys.version_info < (3, 11), reason="`except*` is Python 3.11")
def test_an_except_star_tuple_is_read_by_ast():
    cheap, cheap_by_libcst, full = _readings(
        """
        def fetch(url):
            try:
                return int(url)
            except* ValueError, KeyError:
                pass
        """
    )
    assert not cheap_by_libcst
    assert cheap == full


LEFT_TO_LIBCST = {
    "code right after the colon": """
        def fetch(url):
            try:
                return int(url)
            except ValueError,KeyError:return None
    """,
    "a call in an alias": """
        from typing import Annotated
        from pydantic import Field

        type Positive = Annotated[int, Field(gt=0)]
    """,
    "type parameters over several lines": """
        class Box[
            K,
            V,
        ](dict[K, V]):
            pass
    """,
    "the construct inside a string": '''
        HELP = """
        except ValueError, KeyError:
        """

        def fetch(url):
            try:
                return int(url)
            except ValueError, KeyError:
                return None
    ''',
    "an alias line inside a string": '''
        HELP = """
        type Mode = int
        """

        type Mode = int
    ''',
    "an alias and a statement on one line": """
        type Mode = list[
            int]; import os

        PATH = os.path
    """,
    "a dict in an alias": """
        type Mode = {"fast": 2}
    """,
    "a call split over lines in an alias": """
        type Positive = Annotated[
            int, Field
            (gt=0)
        ]
    """,
    "a `#` in a string hides a call": """
        type Sep = "'" | '#' | Annotated[str, Field(max_length=1)]
    """,
    "a non-ASCII comment right after the colon": """
        def fetch(url):
            try:
                return int(url)
            except ValueError, KeyError:#é
                return None
    """,
    "an f-string inside an f-string, reusing the quote": """
        def label(row):
            return f'{f'{row['id']}'}'
    """,
    "a reused quote around a backslash": """
        def label(row):
            return f'{row['a\\tb']}'
    """,
    "a reused quote around the other quote": """
        def label(row):
            return f'{row['say "hi"']}'
    """,
    "a comment in a replacement field": """
        def label(row):
            return f'''{
                row['id']  # the key
            }'''
    """,
    "a reused quote in a `=` field, which prints its own text": """
        import requests

        def label(row):
            requests.get(f'{row['id']=}')
            return f'{row['id'] = !r}'
    """,
    "a swapped quote that would make a triple quote": '''
        import requests

        def label():
            return f'{''"a" + requests.post(1) + "b"""}'
    ''',
    "a call behind two except rewrites and a swap": '''
        import requests

        def label(row):
            try:
                pass
            except A, B:
                pass
            try:
                pass
            except A, B:
                pass
            return f'{""'X' + requests.post(1) + "Y"""}'
    ''',
    "a call in a bound": """
        def f[T: make()](x):
            pass
    """,
}


@pytest.mark.parametrize("source", LEFT_TO_LIBCST.values(), ids=list(LEFT_TO_LIBCST))
def test_what_the_rewrite_cannot_take_goes_to_libcst(source):
    cheap, cheap_by_libcst, full = _readings(source)
    assert cheap_by_libcst == _refused_by_this_python(textwrap.dedent(source))
    assert cheap == full


ON_THE_LINE = """
    import logging

    def fetch(url):
        try:
            return int(url)
        except ValueError, errors.Bad: logging.warning("bad %s", url)
        except TypeError , KeyError :  return None
"""


def test_the_rewrite_moves_nothing():
    """(The facts of a handler whose body is on its line are not compared: there `ast` and
    libcst end the handler one column apart, with or without the rewrite.)"""
    source = textwrap.dedent(ON_THE_LINE).lstrip("\n").encode()
    rewritten, tree = parse_downlevel(source)
    before, after = source.split(b"\n"), rewritten.split(b"\n")
    assert len(before) == len(after)
    assert after[5] == b"    except(ValueError, errors.Bad):logging.warning(\"bad %s\", url)"
    assert after[6] == b"    except(TypeError , KeyError):  return None"
    assert [len(line) for line in before] == [len(line) for line in after]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "warning"]
    assert (calls[0].lineno, calls[0].col_offset) == (6, before[5].index(b"logging"))


SYNTAX_ERRORS = {
    "not an alias: a syntax error": """
        type X = int int
    """,
    "not an alias: inside brackets": """
        x = [
            type X = 1
        ]
    """,
    "empty type parameters": """
        def f[](x):
            pass
    """,
    "not an alias: inside an argument list": """
        def f(a,
        type X = int
        ): pass
    """,
    "type parameters that are not names": """
        class C[1, 2]:
            pass
    """,
}


@pytest.mark.parametrize("source", SYNTAX_ERRORS.values(), ids=list(SYNTAX_ERRORS))
def test_a_rewrite_does_not_hide_a_syntax_error(source):
    cheap, _, full = _readings(source, valid=False)
    assert cheap == full


@pytest.mark.parametrize(
    "data",
    [
        b"# coding: latin-1\nimport requests\nv = '\xe9\xe9'; x = f'{\"\"'X' + requests.post(1) + \"Y\"\"\"}'\n",
        b"\xef\xbb\xbfimport requests\nx = f'{d['a']}'; requests.post(1)\n",
        b"x = f'{x:" + b"{x:" * 497 + b"}" * 498 + b"'\n",
        b"x = f'''\\''{d['a']}'''\n",
    ],
    ids=["latin-1 before the swap", "byte order mark", "format specs nested 500 deep", "an escaped quote before a field"],
)
def test_encodings_and_depths_keep_the_readings_equal(data):
    cheap, _ = engine.read_facts(data, "shop/mod.py", "shop.mod", False, True)
    full, _ = engine.read_facts(data, "shop/mod.py", "shop.mod", False, False)
    assert cheap == full


def test_lone_carriage_returns_go_to_libcst():
    """CPython counts a lone `\\r` as a line break: the rewrite, which counts `\\n`, stands aside."""
    data = b"type X = int\rimport os\rx = os.path\r"
    assert parse_downlevel(data) is None or not _refused_by_this_python(data.decode())
    cheap, _ = engine.read_facts(data, "shop/mod.py", "shop.mod", False, True)
    full, _ = engine.read_facts(data, "shop/mod.py", "shop.mod", False, False)
    assert cheap == full


def test_a_file_python_reads_needs_no_rewrite():
    assert parse_downlevel(b"def f():\n    return 1\n") is None


def test_a_task_module_with_newer_syntax_gives_the_same_findings(tmp_path):
    """End to end: the helper with newer syntax is read by `ast`, its effect reaches the task."""
    root = write_project(
        tmp_path,
        {
            "pyproject.toml": "[tool.jobcheck]\n",
            "shop/__init__.py": "",
            "shop/helpers.py": """
                import requests

                type Url = str
                PATTERN = "\\d+"  # (an invalid escape: CPython warns, jobcheck stays quiet)

                def notify[T](url: Url, payload: T) -> None:
                    try:
                        requests.post(url, json=payload)
                    except ValueError, TypeError:
                        pass
            """,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.helpers import notify

                @shared_task(queue="q", expires=60, time_limit=60, acks_late=True)
                def relay(url):
                    notify(url, {})
            """,
        },
    )
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        result = run_on(root, {"JC101", "JC001"})
    assert not warned, [(str(w.category), str(w.message)[:200], w.filename, w.lineno) for w in warned]
    assert [(f.code, f.location.path) for f in result.findings] == [("JC101", "shop/tasks.py")]
    assert "requests.post" in result.findings[0].message
    assert not result.notifications
