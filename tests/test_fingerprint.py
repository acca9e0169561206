"""primaryLocationLineHash exactly as GitHub's upload action computes it (codeql-action
src/fingerprints.ts), and jobcheck's own line-free fingerprint."""

import pytest

from jobcheck.report.fingerprint import decode_like_node, primary_location_line_hashes, stable_fingerprints

# From codeql-action's own tests (src/fingerprints.test.ts).
UPSTREAM = [
    ("", ["c129715d7a2bc9a3:1"]),
    (" a\nb\n  \t\tc\n d", ["271789c17abda88f:1", "54703d4cd895b18:1", "180aee12dab6264:1", "a23a3dc5e078b07b:1"]),
    (
        " hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End",
        ["8b7cf3e952e7aeb2:1", "b1ae1287ec4718d9:1", "bff680108adb0fcc:1", "c6805c5e1288b612:1", "b86d3392aea1be30:1", "e6ceba753e1a442:1"],
    ),
]
SEVEN = ["e9496ae3ebfced30:1", "fb7c023a8b9ccb3f:1", "ce8ba1a563dcdaca:1", "e20e36e16fcb0cc8:1", "b3edc88f2938467e:1", "c8e28b0b4002a3a0:1", "c129715d7a2bc9a3:1"]
UPSTREAM += [
    (" hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End\n", SEVEN),
    (" hello; \t\nworld!!!\r\r\r  \t\tGreetings\r End\r", SEVEN),
    (" hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n", SEVEN),
    (" hello; \t\nworld!!!\r\n\n\r  \t\tGreetings\r End\r\n", SEVEN),
    (
        "Lorem ipsum dolor sit amet.\n" * 10,
        [*(f"a7f2ff13bc495cf2:{i}" for i in range(1, 7)), "a7f2ff1481e87703:1", "a9cf91f7bbf1862b:1", "55ec222b86bcae53:1", "cc97dc7b1d7d8f7b:1", "c129715d7a2bc9a3:1"],
    ),
]

# Computed by the upstream function itself (fingerprints.ts hash(), run under node 20 with the
# `long` package, reading the file as the action does): non-BMP characters count as two UTF-16
# units, a BOM is hashed, invalid UTF-8 becomes U+FFFD, long lines, lone CRs.
FROM_NODE = [
    (b'def f():\n\treturn "\xf0\x9f\x98\x80 \xe2\x82\xac"\r\n  x = 1\r\n', ["4a97793c7f977c28:1", "91b579bc0303544e:1", "8e00d41f0ebba6bf:1", "c129715d7a2bc9a3:1"]),
    (b"\xef\xbb\xbfimport os\nx = 1\n", ["6a8e5458ffb30695:1", "8e00d41f0ebba6bf:1", "c129715d7a2bc9a3:1"]),
    (b'x = "\xff\xfe"\ny = 2\n', ["ab9f23e773a41836:1", "ab1f8ed3e7dc41c1:1", "c129715d7a2bc9a3:1"]),
    (
        b"a = " + b"x" * 300 + b"\n# \xf0\x9f\x98\x80" * 3 + b"\n",
        ["8e82a05e59e668c2:1", "d674a35c052aceb5:1", "1b9e8c964ca3f94f:1", "9ced88242fd88449:1", "c129715d7a2bc9a3:1"],
    ),
    (b"a\rb\r\rc", ["4850bf53658d4e53:1", "b0367d257df6d03c:1", "1c206f60a702cfe8:1", "188ff2f224477a1e:1"]),
]


def in_line_order(hashes):
    return [hashes[line] for line in sorted(hashes)]


@pytest.mark.parametrize("text, expected", UPSTREAM)
def test_upstream_vectors(text, expected):
    assert in_line_order(primary_location_line_hashes(text)) == expected


@pytest.mark.parametrize("data, expected", FROM_NODE)
def test_vectors_computed_by_the_upstream_code(data, expected):
    assert in_line_order(primary_location_line_hashes(decode_like_node(data))) == expected


def test_stable_fingerprint_ignores_position_and_indentation_but_not_content():
    one = stable_fingerprints([("JC101", "a.py", "t", "    requests.post(url)")])
    moved = stable_fingerprints([("JC101", "a.py", "t", "requests.post(url)  ")])
    other = stable_fingerprints([("JC101", "a.py", "t", "requests.post(other)")])
    assert one == moved and one != other
    twice = stable_fingerprints([("JC101", "a.py", "t", "x()"), ("JC101", "a.py", "t", "x()")])
    assert twice[0] != twice[1]
