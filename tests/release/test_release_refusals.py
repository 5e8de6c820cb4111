"""Every refusal of release.py: each one stops the release, says why, and leaves the repository untouched.

The refusals run with ``--execute`` to show that they hold even when the maintainer asked to perform.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.release.helpers import Workspace, needs_nox, write

pytestmark = needs_nox


def refused(workspace: Workspace, *args: str) -> str:
    """Run release.py, check that it refused without changing anything, and return its output."""
    before = workspace.snapshot()
    result = workspace.run(*args)
    assert result.returncode == 1, result.stdout
    assert "refused: " in result.stdout
    assert workspace.snapshot() == before
    return result.stdout


@pytest.mark.parametrize("change", ["modified", "staged", "untracked"])
def test_dirty_tree(workspace: Workspace, change: str) -> None:
    readme = workspace.package("auth") / "README.md"
    if change == "untracked":
        write(workspace.root / "notes.txt", "scratch\n")
    else:
        readme.write_text("# changed\n")
        if change == "staged":
            workspace.git("add", str(readme))
    out = refused(workspace, "auth", "patch", "--execute")
    assert "the working tree is not clean" in out
    assert ("notes.txt" if change == "untracked" else "packages/atriumn-auth/README.md") in out
    assert workspace.nox_sessions() == []


def test_wrong_branch(workspace: Workspace) -> None:
    workspace.git("switch", "-q", "-c", "feature")
    out = refused(workspace, "auth", "patch", "--execute")
    assert "releases are made from main, not from feature" in out


def test_detached_head(workspace: Workspace) -> None:
    workspace.git("switch", "-q", "--detach")
    assert "not from a detached HEAD" in refused(workspace, "auth", "patch")


def test_existing_tag_locally(workspace: Workspace) -> None:
    workspace.git("tag", "atriumn-auth-v0.1.1")
    out = refused(workspace, "auth", "patch", "--execute")
    assert "0.1.1 is not greater than the newest release tag atriumn-auth-v0.1.1" in out


def test_existing_tag_on_the_remote(workspace: Workspace, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(workspace.root), str(remote)], check=True)
    subprocess.run(["git", "tag", "atriumn-auth-v0.1.1", "main"], cwd=remote, check=True)
    workspace.git("remote", "add", "origin", str(remote))
    out = refused(workspace, "auth", "patch", "--execute")
    assert "the tag atriumn-auth-v0.1.1 already exists on the remote origin" in out


def test_unknown_remote(workspace: Workspace, tmp_path: Path) -> None:
    workspace.git("remote", "add", "upstream", str(tmp_path / "nowhere.git"))
    assert "no remote named 'origin' (remotes: upstream)" in refused(workspace, "auth", "patch")


def test_push_without_a_remote(workspace: Workspace) -> None:
    assert "--push needs a remote" in refused(workspace, "auth", "patch", "--execute", "--push")


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("0.0.9", "0.0.9 is not greater than the current version 0.1.0 of atriumn-auth"),
        ("0.1.0", "0.1.0 is not greater than the current version 0.1.0"),
    ],
)
def test_lower_or_equal_version(workspace: Workspace, version: str, message: str) -> None:
    assert message in refused(workspace, "auth", version, "--execute")


def test_version_below_the_newest_tag(workspace: Workspace) -> None:
    # _version.py says 0.1.0 but 0.3.0 was already released (say, from another branch).
    workspace.git("tag", "atriumn-auth-v0.3.0")
    out = refused(workspace, "auth", "0.2.0", "--execute")
    assert "0.2.0 is not greater than the newest release tag atriumn-auth-v0.3.0" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("nothing", "patch"),
            "no package 'nothing' in packages/ (known: atriumn-core, atriumn-auth, atriumn-storage)",
        ),
        (("auth", "1.2"), "'1.2' is neither a bump (major, minor, patch) nor a version of the form X.Y.Z"),
        (("auth", "v1.2.3"), "'v1.2.3' is neither a bump"),
    ],
)
def test_bad_arguments(workspace: Workspace, args: tuple[str, ...], message: str) -> None:
    assert message in refused(workspace, *args)


def test_empty_changelog(workspace: Workspace) -> None:
    changelog = workspace.changelog("auth")
    changelog.write_text(changelog.read_text().replace("- A change to atriumn-auth.\n", ""))
    workspace.commit("auth: forget the changelog")
    out = refused(workspace, "auth", "patch", "--execute")
    assert "packages/atriumn-auth/CHANGELOG.md has no entries under '## Unreleased'" in out


def test_changelog_without_unreleased(workspace: Workspace) -> None:
    changelog = workspace.changelog("auth")
    changelog.write_text(changelog.read_text().replace("## Unreleased", "## Next"))
    workspace.commit("auth: a changelog without Unreleased")
    assert "has no '## Unreleased' section" in refused(workspace, "auth", "patch")


def test_failing_nox_session(make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace(failing=("storage",))
    out = refused(workspace, "storage", "patch", "--execute")
    assert "this package is broken" in out  # pytest's own report, run by nox
    assert "nox failed (exit 1)" in out
    assert "nothing was changed" in out
    assert "tests(package='storage')" in workspace.nox_sessions()
    assert "build storage" not in workspace.nox_sessions()  # stopped after the failing run
    assert workspace.git("tag", "--list", "atriumn-storage-v0.1.1") == ""


def test_core_release_runs_the_failing_tests_of_a_dependent(make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace(failing=("storage",))
    out = refused(workspace, "core", "patch", "--execute")
    assert "nox failed" in out
    assert {"tests(package='core')", "tests(package='auth')", "tests(package='storage')"} <= set(
        workspace.nox_sessions()
    )


def test_core_major_bump_outside_the_dependents_ranges(workspace: Workspace) -> None:
    out = refused(workspace, "core", "major", "--execute")
    assert "atriumn-core 1.0.0 is outside the atriumn-core range of these packages:" in out
    assert "atriumn-auth (atriumn-core>=0.1,<1)" in out
    assert "atriumn-storage (atriumn-core>=0.1,<1)" in out
    assert "update their ranges to admit 1.0.0" in out
    assert workspace.nox_sessions() == []


def test_core_major_bump_lists_only_the_packages_left_to_update(workspace: Workspace) -> None:
    pyproject = workspace.package("auth") / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("atriumn-core>=0.1,<1", "atriumn-core>=0.1,<2"))
    workspace.commit("auth: admit core 1.x")
    out = refused(workspace, "core", "major")
    assert "atriumn-storage (atriumn-core>=0.1,<1)" in out
    assert "atriumn-auth (" not in out
    assert "atriumn-auth admits atriumn-core 1.0.0" in out


def test_dependent_whose_core_range_no_release_satisfies(workspace: Workspace) -> None:
    pyproject = workspace.package("auth") / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("atriumn-core>=0.1,<1", "atriumn-core~=0.2"))
    workspace.commit("auth: needs core 0.2")
    out = refused(workspace, "auth", "patch", "--execute")
    assert "atriumn-auth requires atriumn-core~=0.2, which no released atriumn-core satisfies (tagged: 0.1.0)" in out
    assert "release atriumn-core first" in out


def test_dependent_before_core_was_ever_released(make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace(tags=("auth",))
    out = refused(workspace, "auth", "patch")
    assert "no released atriumn-core satisfies (tagged: none)" in out
