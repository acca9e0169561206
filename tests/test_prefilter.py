"""The first prefilter stage: which files import a job framework, decided on their bytes."""

import re
import subprocess
import sys

import pytest

from jobcheck import prefilter

FRAMEWORKS = ["celery", "rq", "django_rq", "dramatiq", "huey"]


def imports_a_framework(source: bytes) -> bool:
    return prefilter.FrameworkImports(FRAMEWORKS).search(prefilter.import_text(source))


@pytest.mark.parametrize(
    "source",
    [
        b"from celery import shared_task\n",
        b"import celery\n",
        b"import dramatiq.brokers.redis as broker\n",
        b"from django_rq import job\n",
        b"import os, celery\n",
        b"import os as o, rq\n",
        b"try:\n    from huey import crontab\nexcept ImportError:\n    pass\n",
        b"if TYPE_CHECKING: import celery\n",
        b"import os; import celery\n",
        b"from celery import (\n    shared_task,\n)\n",
        b"from celery \\\n    import shared_task\n",
        b"from celery.\\\napp import task\n",
        b"from celery . app import task\n",
        b"\xef\xbb\xbffrom celery import shared_task\n",  # a UTF-8 byte order mark
        b"# C:\\temp\\\nfrom celery import shared_task\n",  # a comment ending in a backslash
        b"x = 1\r\nfrom celery import shared_task\r\n",
    ],
)
def test_a_framework_import_is_found(source):
    assert imports_a_framework(source)


@pytest.mark.parametrize(
    "source",
    [
        b"from myapp import celery\n",
        b"import celery_helpers\n",
        b"from rqlite import client\n",
        b"x = '''\nThe docs: from celery docs we learn\n'''\n",
        b"reimport celery\n",
        b"from myapp.celery import app\n",
    ],
)
def test_other_imports_are_not_framework_imports(source):
    assert not imports_a_framework(source)


def test_long_dotted_names_do_not_send_the_search_into_backtracking():
    """The `from` head is matched one way only. With backtracking over the ways to split a
    name, these lines would take longer than the universe is old; the guard ends the test."""
    program = (
        "from jobcheck import prefilter\n"
        "source = b'from ' + b'a.' * 5000 + b'b x import y\\n' + b'from ' + b'. ' * 5000 + b'x import y\\n'\n"
        "assert not prefilter.FrameworkImports(['celery']).search(prefilter.import_text(source))\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True, timeout=120)


def test_the_from_head_expression_matches_each_name_one_way():
    assert prefilter.FROM_HEAD.search(b"from ..a . b.c ").group(1) == b"from ..a . b.c "
    assert prefilter.FROM_HEAD.search(b"from . ").group(1) == b"from . "
    assert re.fullmatch(prefilter._LISTED, b"os, sys as s, ")
