"""Unit tests of release.py's pieces: versions, specifiers, requirements, pyproject reading, changelogs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import release
from release import ReleaseError, Requirement, Specifier, Version, new_version, satisfies

ROOT = Path(__file__).resolve().parents[2]


# versions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"), [("0.1.0", (0, 1, 0)), ("1.22.333", (1, 22, 333)), (" 2.0.0\n", (2, 0, 0))]
)
def test_version_parse(text: str, parsed: tuple[int, int, int]) -> None:
    assert Version.parse(text).release == parsed


@pytest.mark.parametrize("text", ["1.2", "1.2.3.4", "v1.2.3", "01.2.3", "1.2.3rc1", "1.2.3.post1", "1.2.3+local", ""])
def test_version_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"X\.Y\.Z"):
        Version.parse(text)


def test_version_order_and_str() -> None:
    assert Version(0, 9, 9) < Version(0, 10, 0) < Version(1, 0, 0)
    assert str(Version(1, 2, 3)) == "1.2.3"
    assert max(Version.parse(v) for v in ["0.2.0", "0.10.0", "0.9.1"]) == Version(0, 10, 0)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [("patch", "1.4.3"), ("minor", "1.5.0"), ("major", "2.0.0"), ("3.0.0", "3.0.0"), ("1.4.2", "1.4.2")],
)
def test_new_version(request_: str, expected: str) -> None:
    assert str(new_version(Version(1, 4, 2), request_)) == expected


def test_new_version_refuses_nonsense() -> None:
    with pytest.raises(ReleaseError, match="neither a bump"):
        new_version(Version(1, 0, 0), "huge")
    with pytest.raises(ValueError, match="unknown bump"):
        Version(1, 0, 0).bump("huge")


# specifiers ----------------------------------------------------------------------------------------------

CASES = [
    # (version, range, admitted)
    ("0.1.0", ">=0.1,<1", True),
    ("0.9.9", ">=0.1,<1", True),
    ("1.0.0", ">=0.1,<1", False),
    ("0.0.9", ">=0.1,<1", False),
    ("1.0.0", "<=1", True),
    ("1.0.1", "<=1.0", False),
    ("1.0.0", ">1", False),
    ("1.0.1", ">1", True),
    ("1.0.0", "==1", True),
    ("1.0.0", "==1.0.0", True),
    ("1.0.1", "==1.0", False),
    ("1.2.5", "==1.2.*", True),
    ("1.3.0", "==1.2.*", False),
    ("1.3.0", "!=1.2.*", True),
    ("1.2.0", "!=1.2.0", False),
    ("1.2.1", "!=1.2.0", True),
    ("1.4.0", "~=1.2", True),
    ("2.0.0", "~=1.2", False),
    ("1.1.9", "~=1.2", False),
    ("1.2.9", "~=1.2.3", True),
    ("1.3.0", "~=1.2.3", False),
    ("1.2.2", "~=1.2.3", False),
    ("0.3.0", " >= 0.2 , < 0.4 ", True),
    ("5.0.0", "", True),
    ("2.0.0", ">=1,!=2.0.0,<3", False),
]


@pytest.mark.parametrize(("version", "spec", "admitted"), CASES)
def test_satisfies(version: str, spec: str, admitted: bool) -> None:
    assert satisfies(Version.parse(version), spec) is admitted


@pytest.mark.parametrize(("version", "spec", "admitted"), CASES)
def test_satisfies_agrees_with_packaging(version: str, spec: str, admitted: bool) -> None:
    packaging_specifiers = pytest.importorskip("packaging.specifiers")
    assert packaging_specifiers.SpecifierSet(spec).contains(version) is admitted


@pytest.mark.parametrize("spec", ["~=1", ">=1.*", "===1.0", ">=1.0a1", "=>1", "1.0", ">=", "<1,,>0"])
def test_unsupported_specifiers_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=r"unsupported|\.\*|~="):
        satisfies(Version(1, 0, 0), spec)


def test_specifier_str() -> None:
    assert [str(s) for s in release.parse_specifiers(">=0.1, <1,==2.*")] == [">=0.1", "<1", "==2.*"]
    assert Specifier.parse("~=1.2") == Specifier("~=", (1, 2))


# requirements and pyproject ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "spec"),
    [
        ("atriumn-core>=0.1,<1", "atriumn-core", ">=0.1,<1"),
        ("Atriumn_Core[otel] >=0.1, <1 ; python_version >= '3.10'", "atriumn-core", ">=0.1, <1"),
        ("atriumn.core (>=0.1,<1)", "atriumn-core", ">=0.1,<1"),
        ("atriumn-core", "atriumn-core", ""),
        ("atriumn-core @ https://example.invalid/core.whl", "atriumn-core", ""),
        ("httpx2>=2.14", "httpx2", ">=2.14"),
    ],
)
def test_requirement_parse(text: str, name: str, spec: str) -> None:
    assert Requirement.parse(text) == Requirement(name, spec)


TRICKY = """\
[build-system]
requires = ["hatchling"]

[project]
name = "x"
description = "dependencies = ['not', 'these']"
dependencies = [ # a comment with a ] bracket
    "atriumn-core>=0.1,<1",  # core
    'single-quoted[extra]>=1',
    "escaped\\"quote",
    \"\"\"triple>=2\"\"\",
]

[project.optional-dependencies]
dependencies = ["not-these-either"]

[tool.other]
dependencies = ["nor-these"]
"""


def test_dependencies_from_toml_reads_the_project_table_only() -> None:
    expected = ["atriumn-core>=0.1,<1", "single-quoted[extra]>=1", 'escaped"quote', "triple>=2"]
    assert release.dependencies_from_toml(TRICKY) == expected
    assert release.dependencies_from_toml("[project]\nname = 'x'\n") == []


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is 3.11+")
@pytest.mark.parametrize(
    "pyproject", sorted(ROOT.glob("packages/atriumn-*/pyproject.toml")), ids=lambda p: p.parent.name
)
def test_dependencies_from_toml_agrees_with_tomllib(pyproject: Path) -> None:
    import tomllib

    text = pyproject.read_text()
    assert release.dependencies_from_toml(text) == tomllib.loads(text)["project"]["dependencies"]


def test_tomllib_agrees_on_the_tricky_file() -> None:
    tomllib = pytest.importorskip("tomllib")
    assert release.dependencies_from_toml(TRICKY) == tomllib.loads(TRICKY)["project"]["dependencies"]


def test_the_real_workspace() -> None:
    packages = release.discover(ROOT)
    assert next(iter(packages)) == "core"
    assert {"core", "auth", "storage"} <= set(packages)
    for name in ("auth", "atriumn-auth", "Atriumn_Auth"):
        assert release.find_package(packages, name).name == "auth"
    for package in packages.values():
        assert package.read_version() >= Version(0, 1, 0)
        for dependency, spec in package.workspace_requirements(packages).items():
            assert dependency in packages
            release.parse_specifiers(spec)  # every range in the workspace is within the supported subset
    assert "auth" in release.dependents(packages, packages["core"])
    assert packages["auth"].tag(Version(1, 2, 3)) == "atriumn-auth-v1.2.3"


# changelogs ----------------------------------------------------------------------------------------------

CHANGELOG = """\
# Changelog

## [Unreleased]

### Added

- One.
  Continued.
- Two.

### Removed

<!-- nothing yet -->

## 0.1.0 - 2026-01-01

- First.

[unreleased]: https://example.invalid/compare
"""


def test_unreleased_entries() -> None:
    assert release.unreleased_entries(CHANGELOG) == ["- One.", "  Continued.", "- Two."]
    assert release.unreleased_entries("# C\n\n## Unreleased\n\n### Added\n\n## 0.1.0\n\n- x\n") == []
    with pytest.raises(ReleaseError, match="no '## Unreleased' section"):
        release.unreleased_entries("# C\n\n## 0.1.0\n\n- x\n")


def test_release_changelog() -> None:
    released = release.release_changelog(CHANGELOG, Version(0, 2, 0), "2026-11-22")
    assert released == (
        "# Changelog\n\n## [Unreleased]\n\n"
        "## 0.2.0 - 2026-11-22\n\n### Added\n\n- One.\n  Continued.\n- Two.\n\n"
        "## 0.1.0 - 2026-01-01\n\n- First.\n\n[unreleased]: https://example.invalid/compare\n"
    )
    assert release.unreleased_entries(released) == []


def test_release_changelog_at_the_end_of_the_file() -> None:
    released = release.release_changelog("# C\n\n## Unreleased\n- Only.\n", Version(1, 0, 0), "2026-01-02")
    assert released == "# C\n\n## Unreleased\n\n## 1.0.0 - 2026-01-02\n\n- Only.\n"


# nox sessions and artifacts ------------------------------------------------------------------------------

LISTING = [
    {"session": "lint", "name": "lint", "python": None, "call_spec": {}},
    {"session": "tests-3.12(package='core')", "name": "tests", "python": "3.12", "call_spec": {"package": "core"}},
    {"session": "tests-3.12(package='auth')", "name": "tests", "python": "3.12", "call_spec": {"package": "auth"}},
    {"session": "tests-3.13(package='core')", "name": "tests", "python": "3.13", "call_spec": {"package": "core"}},
    {"session": "tests-3.13(package='auth')", "name": "tests", "python": "3.13", "call_spec": {"package": "auth"}},
]


def test_select_test_sessions() -> None:
    assert release.select_test_sessions(LISTING, ["auth"]) == [
        "tests-3.12(package='auth')",
        "tests-3.13(package='auth')",
    ]
    assert release.select_test_sessions(LISTING, ["core", "auth"], ["3.13"]) == [
        "tests-3.13(package='core')",
        "tests-3.13(package='auth')",
    ]
    assert release.select_test_sessions(LISTING, ["storage"]) == []


def test_artifact_names() -> None:
    package = release.Package("auth", ROOT / "packages" / "atriumn-auth")
    assert release.artifact_names(package, Version(0, 2, 0)) == (
        "atriumn_auth-0.2.0-py3-none-any.whl",
        "atriumn_auth-0.2.0.tar.gz",
    )


def test_nox_command(monkeypatch: pytest.MonkeyPatch) -> None:
    assert release.nox_command("uvx nox==2025.5.1") == ["uvx", "nox==2025.5.1"]
    monkeypatch.setenv(release.NOX_ENV, "/opt/nox/bin/nox --no-color")
    assert release.nox_command() == ["/opt/nox/bin/nox", "--no-color"]


def test_format_status() -> None:
    rows = [
        release.Row("atriumn-core", "0.1.0", "atriumn-core-v0.1.0", 0, 0, "no"),
        release.Row("atriumn-auth", "0.2.0", "-", 3, 2, "yes (first release)"),
    ]
    assert release.format_status(rows).splitlines() == [
        "package       version  newest tag           commits since  unreleased entries  needs release",
        "------------  -------  -------------------  -------------  ------------------  -------------------",
        "atriumn-core  0.1.0    atriumn-core-v0.1.0  0              none                no",
        "atriumn-auth  0.2.0    -                    3              2                   yes (first release)",
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["nox", "--sessions", "lint", "tests-3.12(package='auth')"],
        ["git", "commit", "--message", "release: atriumn-auth 0.1.1"],
        ["echo", "it's $HOME", 'say "hi"', ""],
    ],
)
def test_show_round_trips_through_a_shell(command: list[str]) -> None:
    import shlex

    assert shlex.split(release.show(command)) == command


def test_show_writes_nox_session_names_as_nox_does() -> None:
    assert release.show(["nox", "-s", "tests-3.12(package='auth')"]) == "nox -s \"tests-3.12(package='auth')\""
