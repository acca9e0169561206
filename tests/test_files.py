"""File discovery: .gitignore, skipped folders, symlinks, module names."""

import os
from pathlib import Path

import pytest

from jobcheck.config import Config
from jobcheck.files import ModuleNamer, discover


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def found(root: Path, config=None, paths=None):
    config = config or Config(root=root)
    result = discover(paths or [root], config)
    return [f.rel for f in result.files], result.errors


def test_skips_venvs_node_modules_build_hidden_and_tests(tmp_path):
    touch(
        tmp_path,
        "app/tasks.py",
        "app/tests/test_tasks.py",
        "app/test_views.py",
        "node_modules/x.py",
        "build/lib/app.py",
        ".hidden/x.py",
        "env/lib/site.py",
        "notes.txt",
    )
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    assert found(tmp_path)[0] == ["app/tasks.py"]


def test_respects_gitignore_at_every_level(tmp_path):
    touch(tmp_path, "a/keep.py", "a/generated.py", "b/skip/x.py", "b/y.py")
    (tmp_path / ".gitignore").write_text("b/skip/\n")
    (tmp_path / "a" / ".gitignore").write_text("generated.py\n")
    assert found(tmp_path)[0] == ["a/keep.py", "b/y.py"]
    assert found(tmp_path, Config(root=tmp_path, respect_gitignore=False))[0] == [
        "a/generated.py",
        "a/keep.py",
        "b/skip/x.py",
        "b/y.py",
    ]


def test_gitignore_negations_and_anchors(tmp_path):
    touch(tmp_path, "gen/a_pb2.py", "gen/keep.py", "src/gen/b.py", "src/c.py", "top.py", "sub/top.py")
    (tmp_path / ".gitignore").write_text("# generated\ngen/*\n!gen/keep.py\n/top.py\n")
    (tmp_path / "src" / ".gitignore").write_text("*.py\n!c.py\n")
    assert found(tmp_path)[0] == ["gen/keep.py", "src/c.py", "sub/top.py"]


def test_exclude_and_extend_exclude(tmp_path):
    touch(tmp_path, "a/x.py", "scripts/run.py", "tests/t.py")
    config = Config(root=tmp_path, exclude=("scripts",))
    assert found(tmp_path, config)[0] == ["a/x.py", "tests/t.py"]
    config = Config(root=tmp_path, extend_exclude=("scripts/*",))
    assert found(tmp_path, config)[0] == ["a/x.py"]


def test_never_reads_a_file_twice(tmp_path):
    touch(tmp_path, "a/x.py")
    files, _ = found(tmp_path, paths=[tmp_path, tmp_path / "a", tmp_path / "a" / "x.py"])
    assert files == ["a/x.py"]


def test_symlink_out_of_root_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    touch(outside, "secret.py")
    root = tmp_path / "root"
    touch(root, "a/x.py")
    os.symlink(outside, root / "a" / "linked")
    os.symlink(outside / "secret.py", root / "a" / "secret.py")
    files, errors = found(root)
    assert files == ["a/x.py"]
    assert any("outside the project root" in problem for _, problem in errors)


def test_symlink_loop_terminates(tmp_path):
    touch(tmp_path, "a/x.py")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    assert found(tmp_path)[0] == ["a/x.py"]


def test_missing_path_is_reported(tmp_path):
    _, errors = found(tmp_path, paths=[tmp_path / "nope"])
    assert errors and "no such file" in errors[0][1]


@pytest.mark.parametrize(
    "files, rel, expected",
    [
        (["pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/mod.py"], "pkg/sub/mod.py", ("pkg.sub.mod", False)),
        (["pkg/__init__.py"], "pkg/__init__.py", ("pkg", True)),
        (["src/pkg/__init__.py", "src/pkg/m.py"], "src/pkg/m.py", ("pkg.m", False)),
        (["server/polar/__init__.py", "server/polar/w.py"], "server/polar/w.py", ("polar.w", False)),
        (["scripts/run.py"], "scripts/run.py", ("run", False)),
        # a namespace portion inside a regular package (saleor's migrations/tasks/)
        (
            ["app/__init__.py", "app/migrations/__init__.py", "app/migrations/tasks/t.py"],
            "app/migrations/tasks/t.py",
            ("app.migrations.tasks.t", False),
        ),
    ],
)
def test_module_names(tmp_path, files, rel, expected):
    touch(tmp_path, *files)
    assert ModuleNamer(tmp_path)(rel) == expected


def test_the_gitignore_prefilter_never_hides_an_ignored_path():
    """The combined expression only saves asking the spec: whatever the spec ignores, it matches."""
    import itertools

    import pathspec

    from jobcheck.files import _any_ignoring

    lines = [
        "__pycache__/", "*.py[cod]", "build/", "/top.py", "docs/_build", "**/gen/*.py", "!gen/keep.py",
        "a/**/b", "*.egg-info/", "node_modules", "!important.pyc", "[Ss]ettings_local.py", "dir/sub/",
    ]
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    candidates = _any_ignoring(spec)
    everything = _any_ignoring(pathspec.GitIgnoreSpec.from_lines(["*", "!*.py", "**/"]))
    assert everything is not None and everything.search("a/b.txt")  # expressions without `^`
    names = ["top.py", "x.pyc", "important.pyc", "build", "gen", "keep.py", "settings_local.py", "b", "sub", "m.py"]
    folders = ["", "a/", "a/x/", "docs/", "docs/_build/", "src/gen/", "dir/", "pkg.egg-info/", "node_modules/"]
    checked = 0
    for folder, name, slash in itertools.product(folders, names, ("", "/")):
        path = folder + name + slash
        if spec.match_file(path):
            checked += 1
            assert candidates is not None and candidates.search(path), path
    assert checked > 40
