"""Command line: `jobcheck check|tasks|rules|rule`."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import click

from jobcheck import __version__
from jobcheck.catalog import Catalog, CatalogError, load_catalog
from jobcheck.config import Config, ConfigError, load

LEVEL_ORDER = {"note": 0, "warning": 1, "error": 2}


class UsageProblem(click.ClickException):
    """One line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"jobcheck: error: {self.message}", err=True)


def _codes(values: Sequence[str]) -> Tuple[str, ...]:
    return tuple(code.strip() for value in values for code in value.split(",") if code.strip())


def _load(paths: Sequence[str], config_path: Optional[str]) -> Tuple[List[Path], Config]:
    given = [Path(p) for p in paths] or [Path(".")]
    missing = [str(p) for p in given if not p.exists() and str(p) != "-"]
    if missing:
        raise UsageProblem(f"{missing[0]}: no such file or directory")
    try:
        config = load(given, Path(config_path) if config_path else None)
    except ConfigError as error:
        raise UsageProblem(str(error)) from None
    return given, config


def _catalog() -> Catalog:
    try:
        return load_catalog()
    except (CatalogError, OSError) as error:
        raise UsageProblem(f"rule catalog: {error}") from None


def _selection(
    catalog: Catalog, config: Config, select: Iterable[str], ignore: Iterable[str], extend: Iterable[str]
) -> set:
    try:
        return catalog.select(
            _codes(list(select)) or config.select,
            (*config.ignore, *_codes(list(ignore))),
            (*config.extend_select, *_codes(list(extend))),
        )
    except CatalogError as error:
        raise UsageProblem(str(error)) from None


def _write(text: str, output: Optional[str]) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from jobcheck.output import write_atomic

    try:
        write_atomic(Path(output), text)
    except OSError as error:
        raise UsageProblem(f"{output}: cannot write the report: {error.strerror or error}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="jobcheck")
def main() -> None:
    """jobcheck: find reliability bugs in Celery, RQ, Dramatiq and Huey job code."""


CHECK_FORMATS = ["text", "concise", "json", "sarif", "github", "gitlab", "junit"]


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--output-format", type=click.Choice(CHECK_FORMATS), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report to this file.")
@click.option(
    "--select", multiple=True, help="Rule codes or prefixes to enable (comma-separated), replacing the defaults."
)
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable on top of the selection.")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "note", "never"]),
    default=None,
    help="Lowest level that makes the run fail (default: warning, or fail-on in config).",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--config", "config_path", type=click.Path(), help="A pyproject.toml or jobcheck TOML file to use.")
@click.option("--show-chain", is_flag=True, help="Show the call chain of findings reached through helpers.")
@click.option("--show-source", is_flag=True, help="Show the source line of each finding (text format).")
@click.option("--statistics", is_flag=True, help="Count findings per rule.")
@click.option(
    "--include-suppressed",
    is_flag=True,
    help="Emit suppressed and baseline findings too, marked as such (sarif, json).",
)
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False), help="Report only findings not in this baseline.")
@click.option(
    "--write-baseline", "write_baseline", type=click.Path(dir_okay=False), help="Record the current findings as a baseline."
)
@click.option("--stdin-filename", type=click.Path(), help="With PATH `-`: read the file's text from stdin, as this file.")
@click.option("--no-cache", is_flag=True, help="Parse every file again instead of reusing cached facts.")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Where to keep cached facts (default: .jobcheck_cache).")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help="Processes to parse with (default: CPU count)."
)
def check(
    paths,
    output_format,
    output,
    select,
    ignore,
    extend_select,
    fail_on,
    exit_zero,
    config_path,
    show_chain,
    show_source,
    statistics,
    include_suppressed,
    baseline_path,
    write_baseline,
    stdin_filename,
    no_cache,
    cache_dir,
    jobs,
) -> None:
    """Check PATHS (default: the current directory) and report findings."""
    from jobcheck import engine

    paths, stdin = _stdin_source(paths, stdin_filename)
    given, config = _load(paths, config_path)
    catalog = _catalog()
    selected = _selection(catalog, config, select, ignore, extend_select)
    known = _read_baseline(baseline_path) if baseline_path else None
    cache = _cache_dir(config, no_cache, cache_dir)
    result = engine.run(given, config, catalog, selected, jobs or engine.default_jobs(), stdin, cache)
    if write_baseline:
        from jobcheck import baseline

        _write(baseline.render(result), write_baseline)
    if known is not None:
        from jobcheck import baseline

        baseline.apply(result, known, baseline_path)
    report = _render(result, catalog, output_format, output, show_chain, show_source, statistics, include_suppressed)
    _write(report, output)
    sys.exit(exit_code(result, catalog, fail_on or config.fail_on, exit_zero))


def _cache_dir(config: Config, no_cache: bool, cache_dir: Optional[str]) -> Optional[Path]:
    from jobcheck.cache import DEFAULT_FOLDER

    if no_cache:
        return None
    return Path(cache_dir) if cache_dir else config.root / DEFAULT_FOLDER


def _stdin_source(paths: Sequence[str], stdin_filename: Optional[str]):
    if stdin_filename is None:
        if "-" in paths:
            raise UsageProblem("reading from stdin (`-`) needs --stdin-filename to name the file")
        return paths, None
    if list(paths) not in ([], ["-"]):
        raise UsageProblem("--stdin-filename checks one file read from stdin: pass `-` as the only path")
    data = sys.stdin.buffer.read()
    return [stdin_filename if Path(stdin_filename).exists() else str(Path(stdin_filename).parent)], (
        Path(stdin_filename),
        data,
    )


def _read_baseline(path: str):
    from jobcheck import baseline

    try:
        return baseline.load(Path(path))
    except baseline.BaselineError as error:
        raise UsageProblem(str(error)) from None


def _render(result, catalog, output_format, output, show_chain, show_source, statistics, include_suppressed) -> str:
    from jobcheck.report import ci, sarif, text
    from jobcheck.report import json as json_report

    if output_format == "json":
        return json_report.render(result, catalog, include_suppressed=include_suppressed)
    if output_format == "sarif":
        return sarif.render(result, catalog, include_suppressed=include_suppressed)
    if output_format == "concise":
        return text.concise(result, catalog)
    if output_format in ("github", "gitlab", "junit"):
        return getattr(ci, output_format)(result, catalog)
    color = output is None and sys.stdout.isatty()
    return text.render(
        result, catalog, color=color, show_chain=show_chain, statistics=statistics, show_source=show_source
    )


def exit_code(result, catalog: Catalog, fail_on: str, exit_zero: bool) -> int:
    if result.notifications:
        return 2
    if exit_zero or fail_on == "never":
        return 0
    threshold = LEVEL_ORDER[fail_on]
    for finding in result.findings:
        level = catalog.rule(finding.code).level if finding.code in catalog else "error"
        if LEVEL_ORDER[level] >= threshold:
            return 1
    return 0


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--config", "config_path", type=click.Path(), help="A pyproject.toml or jobcheck TOML file to use.")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help="Processes to parse with (default: CPU count)."
)
@click.option(
    "--effects", is_flag=True, help="Also list each task's effects, the call chain to them, and their guards."
)
def tasks(paths, output_format, config_path, jobs, effects) -> None:
    """List every task in PATHS with its effective options and where each comes from."""
    from jobcheck import engine
    from jobcheck.report import tasks as tasks_report

    given, config = _load(paths, config_path)
    result = engine.run(given, config, _catalog(), {"JC001"}, jobs or engine.default_jobs())
    found = result.project.tasks if result.project is not None else []
    analysis = summaries = None
    if effects:
        from jobcheck.analysis.effects import EffectAnalysis

        analysis = EffectAnalysis(result.project, config)
        summaries = {}
        for task in found:
            try:
                summaries[task.qualname] = analysis.task_effects(task)
            except Exception as error:  # one task's analysis must not stop the listing
                result.notifications.append(
                    engine.Notification(task.location.path, engine.internal_error_message(error), "internal")
                )
    queues = tasks_report.queue_table(result.project) if result.project is not None else []
    if output_format == "json":
        click.echo(tasks_report.render_json(found, result.files_checked, summaries, analysis, queues), nl=False)
    else:
        click.echo(tasks_report.render_text(found, result.files_checked, summaries, analysis, queues), nl=False)
    for notification in result.notifications:
        click.echo(f"jobcheck: error: {notification.path}: {notification.message}", err=True)
    sys.exit(2 if result.notifications else 0)


@main.command()
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(output_format) -> None:
    """List every rule with its level and whether it is on by default."""
    import json

    catalog = _catalog()
    if output_format == "json":
        rows = [
            {"code": r.code, "name": r.name, "level": r.level, "default": r.default, "summary": r.summary}
            for r in catalog.rules.values()
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for rule in catalog.rules.values():
        state = "on" if rule.default else "off"
        click.echo(f"{rule.code}  {rule.name:<34} {rule.level:<8} {state:<4} {rule.summary}")


@main.command()
@click.argument("code")
def rule(code) -> None:
    """Explain the rule CODE (e.g. JC101)."""
    catalog = _catalog()
    code = code.strip().upper()
    if code not in catalog:
        raise UsageProblem(f"unknown rule code `{code}` (see `jobcheck rules`)")
    click.echo(catalog.render(code), nl=False)


def run() -> None:
    """Entry point: no input ends in a traceback; usage errors are one line and exit 2."""
    gc.disable()  # a one-shot process: see engine._without_cycle_collection
    try:
        code = main(standalone_mode=False)
    except click.exceptions.Exit as done:  # --help, --version
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except UsageProblem as problem:
        problem.show()
        sys.exit(problem.exit_code)
    except click.UsageError as error:
        click.echo(f"jobcheck: error: {error.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as error:
        click.echo(f"jobcheck: error: {error.format_message()}", err=True)
        sys.exit(2)
    except SystemExit as done:  # `check` ends here, with its status
        _leave(_exit_status(done.code))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # pragma: no cover - the last line of defence
        click.echo(f"jobcheck: internal error: {type(error).__name__}: {error}", err=True)
        sys.exit(2)
    _leave(code if isinstance(code, int) else 0)


def _exit_status(code: object) -> int:
    """What `sys.exit(code)` makes the process's exit status (a message is printed, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    click.echo(code, err=True)
    return 1


def _leave(code: int) -> None:
    """Exit without freeing the run's objects one by one, which takes a third of a second after
    a cold run on saleor: what the run wrote (reports, baselines, caches) is written atomically
    and closed by now, so only the standard streams need flushing."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # (None when the process was started with the descriptor closed)
                stream.flush()
        except (OSError, ValueError):  # a reader that went away (`| head`)
            pass
    os._exit(code)
