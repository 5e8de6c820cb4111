"""release.py end to end on a throwaway repository: the dry run, a real release, the rollback, ``status``."""

from __future__ import annotations

import datetime
import subprocess
import tarfile
import zipfile
from collections.abc import Callable

from tests.release.helpers import Workspace, needs_nox, write

pytestmark = needs_nox


def test_dry_run_prints_every_step_and_changes_nothing(workspace: Workspace) -> None:
    before = workspace.snapshot()
    result = workspace.run("auth", "patch")
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert "Release atriumn-auth 0.1.0 -> 0.1.1 (dry run" in out
    for number in range(1, 9):
        assert f"[{number}/8]" in out
    today = datetime.date.today().isoformat()
    for expected in [
        "$ git tag --list 'atriumn-auth-v*'",
        "$ git status --porcelain --untracked-files=all",
        "1 entry under Unreleased in packages/atriumn-auth/CHANGELOG.md",
        "atriumn-core>=0.1,<1 is satisfied by the released 0.1.0",
        "--sessions lint typecheck \"tests(package='auth')\"",
        "--sessions build smoke -- auth",
        'would write: __version__ = "0.1.1" in packages/atriumn-auth/src/atriumn/auth/_version.py',
        f"'## 0.1.1 - {today}'",
        "would run: git commit --quiet --message 'release: atriumn-auth 0.1.1'",
        "would run: git archive --format=tar HEAD",
        "build --package atriumn-auth",
        "exactly atriumn_auth-0.1.1-py3-none-any.whl and atriumn_auth-0.1.1.tar.gz",
        "would run: git tag --annotate atriumn-auth-v0.1.1 --message 'atriumn-auth 0.1.1'",
        "then, yourself: git push --atomic origin main atriumn-auth-v0.1.1",
        "Dry run complete",
    ]:
        assert expected in out, expected
    assert workspace.nox_sessions() == [], "a dry run runs no nox session"
    assert workspace.snapshot() == before


def test_dry_run_of_core_tests_its_dependents(workspace: Workspace) -> None:
    result = workspace.run("atriumn-core", "minor", "--python", "no-such-python")
    assert result.returncode == 1
    assert "nox lists no tests session for core" in result.stdout
    result = workspace.run("atriumn-core", "minor")
    assert result.returncode == 0, result.stdout
    assert "0.1.0 -> 0.2.0" in result.stdout
    assert "atriumn-auth admits atriumn-core 0.2.0 (atriumn-core>=0.1,<1)" in result.stdout
    nox_line = next(line for line in result.stdout.splitlines() if "lint typecheck" in line)
    for package in ("core", "auth", "storage"):
        assert f"\"tests(package='{package}')\"" in nox_line
    assert "--sessions build smoke -- core auth storage" in result.stdout


def test_patch_release(workspace: Workspace, tmp_path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    workspace.git("remote", "add", "origin", str(remote))
    workspace.git("push", "-q", "origin", "main", "--tags")
    previous = workspace.git("rev-parse", "HEAD")

    result = workspace.run("auth", "patch", "--execute")
    assert result.returncode == 0, result.stdout
    today = datetime.date.today().isoformat()

    # nox ran every session for auth, in order.
    assert workspace.nox_sessions() == ["lint", "typecheck", "tests(package='auth')", "build auth", "smoke auth"]
    assert "1 passed" in result.stdout  # the real pytest run of tests/auth

    # One commit on top of the previous HEAD, touching the version file and the changelog only.
    assert workspace.git("log", "-1", "--format=%s") == "release: atriumn-auth 0.1.1"
    assert workspace.git("rev-parse", "HEAD~1") == previous
    changed = workspace.git("diff", "--name-only", "HEAD~1", "HEAD").splitlines()
    assert changed == ["packages/atriumn-auth/CHANGELOG.md", "packages/atriumn-auth/src/atriumn/auth/_version.py"]
    assert workspace.git("status", "--porcelain") == ""

    # An annotated tag on that commit, not pushed.
    assert workspace.git("cat-file", "-t", "atriumn-auth-v0.1.1") == "tag"
    assert workspace.git("rev-list", "-n", "1", "atriumn-auth-v0.1.1") == workspace.git("rev-parse", "HEAD")
    assert workspace.git("tag", "-l", "--format=%(contents:subject)", "atriumn-auth-v0.1.1") == "atriumn-auth 0.1.1"
    assert "atriumn-auth-v0.1.1" not in workspace.git("ls-remote", "--tags", "origin")
    assert "git push --atomic origin main atriumn-auth-v0.1.1" in result.stdout

    # The version file and the changelog.
    assert workspace.version_file("auth").read_text() == '"""The version."""\n\n__version__ = "0.1.1"\n'
    changelog = workspace.changelog("auth").read_text()
    assert (
        f"## Unreleased\n\n## 0.1.1 - {today}\n\n### Added\n\n- A change to atriumn-auth.\n\n## 0.1.0 - 2026-01-01\n"
    ) in changelog, changelog
    assert "### Fixed" not in changelog  # an empty sub-heading does not survive

    # The wheel and the sdist, built from the committed tree.
    dist = sorted(p.name for p in (workspace.root / "dist").iterdir())
    assert dist == ["atriumn_auth-0.1.1-py3-none-any.whl", "atriumn_auth-0.1.1.tar.gz"]
    with zipfile.ZipFile(workspace.root / "dist" / dist[0]) as wheel:
        names = wheel.namelist()
        metadata = wheel.read("atriumn_auth-0.1.1.dist-info/METADATA").decode()
        assert '__version__ = "0.1.1"' in wheel.read("atriumn/auth/_version.py").decode()
    assert "atriumn/__init__.py" not in names
    assert "atriumn/auth/_client.py" in names
    assert "Name: atriumn-auth\n" in metadata and "Version: 0.1.1\n" in metadata
    assert "Requires-Dist: atriumn-core<1,>=0.1" in metadata or "Requires-Dist: atriumn-core>=0.1,<1" in metadata
    with tarfile.open(workspace.root / "dist" / dist[1]) as sdist:
        pkg_info = sdist.extractfile("atriumn_auth-0.1.1/PKG-INFO")
        assert pkg_info is not None and "Version: 0.1.1\n" in pkg_info.read().decode()

    # status agrees: nothing left to release for auth.
    status = workspace.run("status").stdout
    auth_row = next(line for line in status.splitlines() if line.startswith("atriumn-auth "))
    assert auth_row.split() == ["atriumn-auth", "0.1.1", "atriumn-auth-v0.1.1", "0", "none", "no"]

    # The next release is refused until there is something new to release.
    again = workspace.run("auth", "patch")
    assert again.returncode == 1
    assert "no entries under '## Unreleased'" in again.stdout


def test_push(workspace: Workspace, tmp_path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    workspace.git("remote", "add", "upstream", str(remote))
    result = workspace.run("storage", "minor", "--execute", "--push", "--remote", "upstream")
    assert result.returncode == 0, result.stdout
    remote_refs = subprocess.run(["git", "ls-remote", str(remote)], capture_output=True, text=True, check=True).stdout
    head = workspace.git("rev-parse", "HEAD")
    assert f"{head}\trefs/heads/main" in remote_refs
    assert "refs/tags/atriumn-storage-v0.2.0" in remote_refs
    assert "pushed main and atriumn-storage-v0.2.0 to upstream" in result.stdout


def test_failure_after_the_commit_undoes_it(make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace()
    # A package whose wheel would carry atriumn/__init__.py: the build succeeds, the check after it fails.
    pyproject = workspace.package("auth") / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"src/atriumn/auth"', '"src/atriumn"'))
    write(workspace.package("auth") / "src" / "atriumn" / "__init__.py", "")
    workspace.commit("auth: a regular package by mistake")
    before = workspace.snapshot()

    result = workspace.run("auth", "patch", "--execute")
    assert result.returncode == 1, result.stdout
    assert "committed" in result.stdout  # it got as far as the commit ...
    assert "contains atriumn/__init__.py" in result.stdout
    assert "Undoing the release" in result.stdout  # ... and undid it
    assert workspace.snapshot() == before
    assert workspace.git("tag", "--list", "atriumn-auth-v0.1.1") == ""
    assert not (workspace.root / "dist").exists() or not any((workspace.root / "dist").iterdir())


def test_first_release_of_the_version_in_the_file(make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace(tags=("core",))
    result = workspace.run("auth", "0.1.0")
    assert result.returncode == 0, result.stdout
    assert "first release: 0.1.0 is the version in packages/atriumn-auth/src/atriumn/auth/_version.py" in result.stdout
    assert "atriumn-auth has no release tag yet" in result.stdout


def test_status(workspace: Workspace) -> None:
    storage = workspace.changelog("storage")
    storage.write_text(storage.read_text().replace("- A change to atriumn-storage.\n", ""))
    workspace.git("tag", "-d", "atriumn-core-v0.1.0")
    workspace.commit("storage: nothing to release")
    result = workspace.run("status")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split("  ")[0] == "package"
    assert "newest tag" in lines[0] and "commits since" in lines[0] and "needs release" in lines[0]
    rows = {line.split()[0]: line.split(maxsplit=5) for line in lines[2:]}
    assert rows["atriumn-core"] == ["atriumn-core", "0.1.0", "-", "1", "1", "yes (first release)"]
    # auth: one commit after its tag touched packages/atriumn-auth (the client); one Unreleased entry.
    assert rows["atriumn-auth"] == ["atriumn-auth", "0.1.0", "atriumn-auth-v0.1.0", "1", "1", "yes"]
    # storage: one commit (the changelog edit) but no entries.
    assert rows["atriumn-storage"][1:5] == ["0.1.0", "atriumn-storage-v0.1.0", "1", "none"]
    assert rows["atriumn-storage"][5] == "changes without changelog entries"
    assert list(rows) == ["atriumn-core", "atriumn-auth", "atriumn-storage"]
