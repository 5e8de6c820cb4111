#!/usr/bin/env python3
"""Release one distribution of the Atriumn workspace, refusing every unsafe release.

::

    python release.py status                       # a table of every distribution
    python release.py auth patch                   # dry run: every step and command, nothing changed
    python release.py atriumn-auth 0.2.0 --execute # perform them
    python release.py core minor --execute --push  # ... and push the commit and the tag
    nox -s release -- auth patch --execute         # the same through nox

The flow, stopping at the first failure (see ``docs/releasing.md``):

1. the package exists; the new version is greater than the current one and than the package's newest tag;
   the tag ``atriumn-<name>-v<version>`` exists neither locally nor on the remote (when one is configured);
2. the working tree is clean and the branch is ``main``;
3. the package's CHANGELOG has entries under ``## Unreleased``;
4. compatibility: every workspace package that depends on this one admits the new version in its range,
   and each workspace dependency's range is satisfied by a released (tagged) version;
5. nox passes: ``lint``, ``typecheck``, the ``tests`` sessions of the package (and of every package that
   depends on it), ``build`` and ``smoke``;
6. the version goes into ``_version.py``, the Unreleased entries move under ``## <version> - <date>``,
   and both are committed as ``release: atriumn-<name> <version>``;
7. the wheel and sdist are built from the committed tree (``git archive``) and checked: exactly the two
   expected names, the version inside both, no ``atriumn/__init__.py``; they are copied to ``dist/``;
8. the annotated tag is created on that commit; it is pushed only with ``--push``.

If anything fails from step 6 on, the commit (and tag) are undone with ``git reset --hard`` to the previous
HEAD -- safe because step 2 proved the tree clean -- and the tree is left as it was.

Why the standard library only: this script runs before any environment exists (a fresh clone, or nox's
``python=False`` session). So it cannot use ``packaging`` for version ranges, and carries its own small
specifier check instead (``>=``, ``<``, ``<=``, ``>``, ``==``, ``!=``, ``~=``, and ``==X.Y.*`` prefixes,
over plain ``X.Y.Z`` release versions). That subset is all this workspace writes (``atriumn-core>=0.1,<1``)
and all it publishes (no pre-, post- or dev releases); anything outside it is refused with an error rather
than guessed at. Likewise ``tomllib`` exists only from Python 3.11, so on 3.10 ``[project] dependencies``
is read by a small scanner (tested to agree with ``tomllib``).

The nox command is ``python -m nox`` with this interpreter when it has nox, else ``nox`` on PATH; the
``--nox`` option or the ``ATRIUMN_RELEASE_NOX`` environment variable replace it (the tests use that).
Exit status: 0 on success (or a dry run whose checks passed), 1 on a refusal, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import datetime
import email.parser
import importlib.util
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
MAIN_BRANCH = "main"
NOX_ENV = "ATRIUMN_RELEASE_NOX"
BUMPS = ("major", "minor", "patch")


class ReleaseError(Exception):
    """A refusal: the message says what is wrong and, where it can, what to do about it."""


# --------------------------------------------------------------------------------------------------------
# Versions and specifiers
# --------------------------------------------------------------------------------------------------------

_VERSION_RE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


@dataclass(frozen=True, order=True)
class Version:
    """A release version ``X.Y.Z`` (no pre-, post-, dev or local parts: this workspace publishes none)."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``X.Y.Z`` exactly (no leading zeros, no ``v`` prefix); raise ``ValueError`` otherwise."""
        match = _VERSION_RE.fullmatch(text.strip())
        if not match:
            raise ValueError(f"not a version of the form X.Y.Z: {text!r}")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def bump(self, part: str) -> Version:
        """The next ``major``, ``minor`` or ``patch`` version (lower parts reset to zero)."""
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            return Version(self.major, self.minor, self.patch + 1)
        raise ValueError(f"unknown bump {part!r}: expected one of {', '.join(BUMPS)}")

    @property
    def release(self) -> tuple[int, int, int]:
        """The release segment as a tuple."""
        return (self.major, self.minor, self.patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def new_version(current: Version, request: str) -> Version:
    """The version asked for: a bump of ``current`` (``major``/``minor``/``patch``) or an explicit X.Y.Z."""
    if request in BUMPS:
        return current.bump(request)
    try:
        return Version.parse(request)
    except ValueError:
        raise ReleaseError(
            f"{request!r} is neither a bump ({', '.join(BUMPS)}) nor a version of the form X.Y.Z"
        ) from None


_OPERATORS = ("~=", "==", "!=", "<=", ">=", "<", ">")
_SPEC_RE = re.compile(r"\s*(~=|==|!=|<=|>=|<|>)\s*([0-9]+(?:\.[0-9]+)*)(\.\*)?\s*")


def _padded(release: Sequence[int], length: int) -> tuple[int, ...]:
    return tuple(release) + (0,) * (length - len(release))


def _compare(left: Sequence[int], right: Sequence[int]) -> int:
    size = max(len(left), len(right))
    a, b = _padded(left, size), _padded(right, size)
    return (a > b) - (a < b)


@dataclass(frozen=True)
class Specifier:
    """One clause of a version range, e.g. ``>=0.1`` or ``==1.2.*`` (PEP 440 semantics on releases)."""

    operator: str
    release: tuple[int, ...]
    wildcard: bool = False

    @classmethod
    def parse(cls, text: str) -> Specifier:
        """Parse one clause; raise ``ValueError`` for anything outside the supported subset."""
        match = _SPEC_RE.fullmatch(text)
        if not match:
            raise ValueError(f"unsupported version specifier {text.strip()!r} (supported: {' '.join(_OPERATORS)})")
        operator, release, wildcard = match[1], tuple(int(p) for p in match[2].split(".")), bool(match[3])
        if wildcard and operator not in ("==", "!="):
            raise ValueError(f"a .* suffix is only allowed with == and !=: {text.strip()!r}")
        if operator == "~=" and len(release) < 2:
            raise ValueError(f"~= needs at least two release parts: {text.strip()!r}")
        return cls(operator, release, wildcard)

    def contains(self, version: Version) -> bool:
        """Whether ``version`` satisfies this clause."""
        have = version.release
        if self.wildcard:
            matches = _padded(have, len(self.release))[: len(self.release)] == self.release
            return matches if self.operator == "==" else not matches
        order = _compare(have, self.release)
        if self.operator == "==":
            return order == 0
        if self.operator == "!=":
            return order != 0
        if self.operator == "<":
            return order < 0
        if self.operator == "<=":
            return order <= 0
        if self.operator == ">":
            return order > 0
        if self.operator == ">=":
            return order >= 0
        # ~=X.Y.Z means >=X.Y.Z and ==X.Y.*
        prefix = self.release[:-1]
        return order >= 0 and _padded(have, len(prefix))[: len(prefix)] == prefix

    def __str__(self) -> str:
        return self.operator + ".".join(map(str, self.release)) + (".*" if self.wildcard else "")


def parse_specifiers(text: str) -> list[Specifier]:
    """Parse a comma-separated range such as ``>=0.1,<1``; an empty string is the empty list (any version)."""
    if not text.strip():
        return []
    return [Specifier.parse(part) for part in text.split(",")]


def satisfies(version: Version, specifiers: str) -> bool:
    """Whether ``version`` is inside the range ``specifiers`` (every clause must hold)."""
    return all(spec.contains(version) for spec in parse_specifiers(specifiers))


# --------------------------------------------------------------------------------------------------------
# Requirements and pyproject files
# --------------------------------------------------------------------------------------------------------

_REQUIREMENT_RE = re.compile(
    r"\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[(?P<extras>[^\]]*)\])?"
    r"\s*(?P<rest>[^;]*?)\s*(?:;(?P<marker>.*))?"
)


def normalize(name: str) -> str:
    """A distribution name normalized as in PEP 503 (``Atriumn_Core`` -> ``atriumn-core``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """The parts of a dependency string this script needs: normalized name and version range."""

    name: str
    specifier: str

    @classmethod
    def parse(cls, text: str) -> Requirement:
        """Parse ``name[extras] range ; marker`` (a URL requirement keeps an empty range)."""
        match = _REQUIREMENT_RE.fullmatch(text)
        if not match:
            raise ValueError(f"cannot read the requirement {text!r}")
        rest = match["rest"].strip()
        if rest.startswith("@"):
            rest = ""
        if rest.startswith("(") and rest.endswith(")"):
            rest = rest[1:-1].strip()
        return cls(normalize(match["name"]), rest)


def _toml_string_array(text: str, start: int) -> list[str]:
    """Read the TOML array of strings that opens at ``text[start] == '['`` (comments and newlines allowed)."""
    items: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "]":
            return items
        if char == "#":
            i = text.find("\n", i)
            if i < 0:
                break
        elif char in "\"'":
            triple = text.startswith(char * 3, i)
            quote = char * 3 if triple else char
            i += len(quote)
            end = text.find(quote, i)
            if char == '"':
                while end > 0 and text[end - 1] == "\\" and text[end - 2] != "\\":
                    end = text.find(quote, end + 1)
            if end < 0:
                break
            value = text[i:end]
            if char == '"':
                value = value.replace('\\"', '"').replace("\\\\", "\\")
            items.append(value)
            i = end + len(quote) - 1
        i += 1
    raise ValueError("unterminated array in pyproject.toml")


def dependencies_from_toml(text: str) -> list[str]:
    """``[project] dependencies`` of a pyproject.toml, read without tomllib (for Python 3.10)."""
    in_project = False
    for match in re.finditer(r"(?m)^[ \t]*(\[\[?[^\]\n]+\]\]?|dependencies[ \t]*=[ \t]*\[)", text):
        token = match[1]
        if token.startswith("["):
            in_project = token.strip() == "[project]"
        elif in_project:
            return _toml_string_array(text, match.end() - 1)
    return []


def read_dependencies(pyproject: Path) -> list[str]:
    """The ``[project] dependencies`` strings of ``pyproject`` (tomllib where available)."""
    text = pyproject.read_text(encoding="utf-8")
    if sys.version_info >= (3, 11):
        import tomllib

        deps = tomllib.loads(text).get("project", {}).get("dependencies", [])
        return [str(d) for d in deps]
    return dependencies_from_toml(text)


# --------------------------------------------------------------------------------------------------------
# The workspace
# --------------------------------------------------------------------------------------------------------

_VERSION_LINE_RE = re.compile(r"""(?m)^__version__\s*=\s*(["'])([^"']*)\1""")


@dataclass(frozen=True)
class Package:
    """One distribution of the workspace, ``packages/atriumn-<name>/``."""

    name: str
    path: Path

    @property
    def dist(self) -> str:
        """The distribution name, ``atriumn-<name>``."""
        return f"atriumn-{self.name}"

    @property
    def version_file(self) -> Path:
        """``src/atriumn/<name>/_version.py``, the single source of the version."""
        return self.path / "src" / "atriumn" / self.name / "_version.py"

    @property
    def changelog(self) -> Path:
        """The package's CHANGELOG.md."""
        return self.path / "CHANGELOG.md"

    @property
    def pyproject(self) -> Path:
        """The package's pyproject.toml."""
        return self.path / "pyproject.toml"

    def tag(self, version: Version) -> str:
        """The release tag ``atriumn-<name>-v<version>``."""
        return f"{self.dist}-v{version}"

    @property
    def tag_pattern(self) -> str:
        """A ``git tag --list`` pattern matching this package's release tags."""
        return f"{self.dist}-v*"

    def read_version(self) -> Version:
        """The version in ``_version.py``."""
        match = _VERSION_LINE_RE.search(self.version_file.read_text(encoding="utf-8"))
        if not match:
            raise ReleaseError(f'no __version__ = "X.Y.Z" line in {self.version_file}')
        try:
            return Version.parse(match[2])
        except ValueError as exc:
            raise ReleaseError(f"{self.version_file}: {exc}") from None

    def version_text(self, version: Version) -> str:
        """The content of ``_version.py`` with ``version`` written in (the rest of the file kept)."""
        text = self.version_file.read_text(encoding="utf-8")
        return _VERSION_LINE_RE.sub(lambda m: f"__version__ = {m[1]}{version}{m[1]}", text, count=1)

    def workspace_requirements(self, names: Iterable[str]) -> dict[str, str]:
        """This package's ranges on other workspace packages, by short name (``{"core": ">=0.1,<1"}``)."""
        dists = {f"atriumn-{n}": n for n in names}
        found: dict[str, str] = {}
        for line in read_dependencies(self.pyproject):
            requirement = Requirement.parse(line)
            if requirement.name in dists and dists[requirement.name] != self.name:
                found[dists[requirement.name]] = requirement.specifier
        return found


def discover(root: Path) -> dict[str, Package]:
    """Every ``packages/atriumn-*`` with a pyproject.toml, core first, then by name."""
    found = {
        path.name.removeprefix("atriumn-"): Package(path.name.removeprefix("atriumn-"), path)
        for path in (root / "packages").glob("atriumn-*")
        if (path / "pyproject.toml").is_file()
    }
    return dict(sorted(found.items(), key=lambda item: (item[0] != "core", item[0])))


def find_package(packages: dict[str, Package], text: str) -> Package:
    """The package called ``text`` (``auth``, ``atriumn-auth`` or ``atriumn_auth``)."""
    name = normalize(text).removeprefix("atriumn-")
    if name not in packages:
        known = ", ".join(p.dist for p in packages.values()) or "none"
        raise ReleaseError(f"no package {text!r} in packages/ (known: {known})")
    return packages[name]


def dependents(packages: dict[str, Package], package: Package) -> dict[str, str]:
    """The workspace packages that depend on ``package``, directly or not, with their direct range if any."""
    direct = {p.name: p.workspace_requirements(packages) for p in packages.values()}
    result: dict[str, str] = {}
    frontier = [package.name]
    while frontier:
        target = frontier.pop()
        for name, requirements in direct.items():
            if target in requirements and name not in result and name != package.name:
                result[name] = direct[name].get(package.name, "")
                frontier.append(name)
    return {name: result[name] for name in packages if name in result}


# --------------------------------------------------------------------------------------------------------
# Changelogs
# --------------------------------------------------------------------------------------------------------

_UNRELEASED_RE = re.compile(r"(?im)^##[ \t]+\[?unreleased\]?[ \t]*$")
_SECTION_END_RE = re.compile(r"(?m)^(##[ \t]|\[[^\]\n]+\]:[ \t])")


def _unreleased_span(text: str, path: Path | str = "CHANGELOG.md") -> tuple[int, int]:
    heading = _UNRELEASED_RE.search(text)
    if not heading:
        raise ReleaseError(f"{path} has no '## Unreleased' section")
    end = _SECTION_END_RE.search(text, heading.end())
    return heading.end(), end.start() if end else len(text)


def _is_entry(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and not stripped.startswith("<!--")


def unreleased_entries(text: str, path: Path | str = "CHANGELOG.md") -> list[str]:
    """The entry lines (not blank, not sub-headings, not comments) under ``## Unreleased``."""
    start, end = _unreleased_span(text, path)
    return [line for line in text[start:end].splitlines() if _is_entry(line)]


def release_changelog(text: str, version: Version, date: str) -> str:
    """Move the Unreleased entries under ``## <version> - <date>``, leaving an empty Unreleased section.

    Sub-headings (``### Added``) are kept with their entries; those left without entries are dropped.
    """
    start, end = _unreleased_span(text)
    blocks: list[list[str]] = [[]]
    for line in text[start:end].strip("\n").splitlines():
        if line.startswith("### "):
            blocks.append([line])
        else:
            blocks[-1].append(line)
    kept = [block for block in blocks if any(_is_entry(line) for line in block)]
    body = "\n\n".join("\n".join(block).strip("\n") for block in kept)
    rest = text[end:]
    return f"{text[:start]}\n\n## {version} - {date}\n\n{body}\n" + (f"\n{rest}" if rest else "")


# --------------------------------------------------------------------------------------------------------
# Running commands
# --------------------------------------------------------------------------------------------------------


def _quote(part: str) -> str:
    if "'" in part and not re.search(r'["\\$`!]', part):
        return f'"{part}"'  # tests(package='auth') reads better in double quotes, as nox's docs write it
    return shlex.quote(part)


def show(command: Sequence[str | Path]) -> str:
    """A command as it would be typed in a shell."""
    return " ".join(_quote(str(part)) for part in command)


def run(
    command: Sequence[str | Path], cwd: Path, *, capture: bool = True, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in ``cwd`` (output captured unless ``capture`` is false); never raises on exit status."""
    try:
        return subprocess.run(
            [str(part) for part in command],
            cwd=cwd,
            text=True,
            capture_output=capture,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise ReleaseError(f"command not found: {command[0]}") from None
    except subprocess.TimeoutExpired:
        raise ReleaseError(f"timed out after {timeout} s: {show(command)}") from None


class Git:
    """Git in one repository; ``check`` raises ReleaseError with git's own message on failure."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, timeout: float | None = 120) -> str:
        result = run(["git", *args], self.root, timeout=timeout)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise ReleaseError(f"git {show(args)} failed: {detail}")
        return result.stdout.strip("\n")

    def ok(self, *args: str) -> bool:
        """Whether ``git args`` exits 0."""
        return run(["git", *args], self.root, timeout=120).returncode == 0

    def tagged_versions(self, package: Package) -> list[Version]:
        """The versions of ``package``'s release tags, lowest first."""
        versions = []
        prefix = f"{package.dist}-v"
        for tag in self("tag", "--list", package.tag_pattern).splitlines():
            try:
                versions.append(Version.parse(tag.strip().removeprefix(prefix)))
            except ValueError:
                continue
        return sorted(versions)

    def remotes(self) -> list[str]:
        """The configured remote names."""
        return self("remote").split()


# --------------------------------------------------------------------------------------------------------
# nox and builds
# --------------------------------------------------------------------------------------------------------


def nox_command(option: str | None = None) -> list[str]:
    """The nox command: ``--nox``, then ``$ATRIUMN_RELEASE_NOX``, then ``python -m nox``, then ``nox``."""
    text = option or os.environ.get(NOX_ENV)
    if text:
        return shlex.split(text)
    if importlib.util.find_spec("nox") is not None:
        return [sys.executable, "-m", "nox"]
    found = shutil.which("nox")
    if found:
        return [found]
    raise ReleaseError(f"nox not found: `python -m pip install nox`, or name the command in ${NOX_ENV} or --nox")


def select_test_sessions(
    listing: list[dict[str, Any]], packages: Iterable[str], pythons: Sequence[str] = ()
) -> list[str]:
    """The ``tests`` sessions of ``packages`` in a ``nox --list --json`` listing (optionally some pythons only)."""
    wanted = list(packages)
    chosen = []
    for package in wanted:
        for entry in listing:
            if entry.get("name") != "tests" or entry.get("call_spec", {}).get("package") != package:
                continue
            if pythons and str(entry.get("python")) not in pythons:
                continue
            chosen.append(str(entry["session"]))
    return chosen


def build_command(dist: str, out_dir: Path) -> list[str]:
    """Build a wheel and sdist of ``dist`` into ``out_dir``: uv when on PATH, else ``python -m build``.

    Build isolation is turned off only when hatchling is importable here (no download needed then).
    """
    local_backend = importlib.util.find_spec("hatchling") is not None
    if shutil.which("uv"):
        command = ["uv", "build", "--package", dist, "--out-dir", str(out_dir)]
        if local_backend:
            command += ["--no-build-isolation", "--python", sys.executable]
        return command
    if importlib.util.find_spec("build") is not None:
        command = [sys.executable, "-m", "build", "--outdir", str(out_dir)]
        if local_backend:
            command.append("--no-isolation")
        return [*command, f"packages/{dist}"]
    raise ReleaseError("neither uv nor the build package was found: `python -m pip install uv`")


def artifact_names(package: Package, version: Version) -> tuple[str, str]:
    """The expected wheel and sdist file names of ``package`` at ``version``."""
    stem = f"{package.dist.replace('-', '_')}-{version}"
    return f"{stem}-py3-none-any.whl", f"{stem}.tar.gz"


def check_artifacts(out_dir: Path, package: Package, version: Version) -> list[Path]:
    """Check the built files: exactly the two expected names, the version inside, no namespace __init__."""
    wheel_name, sdist_name = artifact_names(package, version)
    found = sorted(p.name for p in out_dir.iterdir() if not p.name.startswith("."))
    if found != sorted([wheel_name, sdist_name]):
        raise ReleaseError(f"the build made {found or 'nothing'}, expected exactly {[wheel_name, sdist_name]}")
    stem = sdist_name.removesuffix(".tar.gz")
    version_path = f"atriumn/{package.name}/_version.py"
    with zipfile.ZipFile(out_dir / wheel_name) as wheel:
        names = wheel.namelist()
        if "atriumn/__init__.py" in names:
            raise ReleaseError(f"{wheel_name} contains atriumn/__init__.py: the atriumn namespace must stay implicit")
        if version_path not in names:
            raise ReleaseError(f"{wheel_name} has no {version_path}")
        metadata = email.parser.Parser().parsestr(wheel.read(f"{stem}.dist-info/METADATA").decode())
        version_source = wheel.read(version_path).decode()
    _check_metadata(wheel_name, metadata.get("Name", ""), metadata.get("Version", ""), package, version)
    if f'"{version}"' not in version_source and f"'{version}'" not in version_source:
        raise ReleaseError(f"{wheel_name}: {version_path} does not say {version}")
    with tarfile.open(out_dir / sdist_name) as sdist:
        members = sdist.getnames()
        if f"{stem}/src/atriumn/__init__.py" in members:
            raise ReleaseError(f"{sdist_name} contains src/atriumn/__init__.py")
        pkg_info = sdist.extractfile(f"{stem}/PKG-INFO")
        if pkg_info is None:
            raise ReleaseError(f"{sdist_name} has no PKG-INFO")
        metadata = email.parser.Parser().parsestr(pkg_info.read().decode())
    _check_metadata(sdist_name, metadata.get("Name", ""), metadata.get("Version", ""), package, version)
    return [out_dir / wheel_name, out_dir / sdist_name]


def _check_metadata(file: str, name: str, found: str, package: Package, version: Version) -> None:
    if normalize(name) != package.dist:
        raise ReleaseError(f"{file}: metadata Name is {name!r}, expected {package.dist}")
    if found != str(version):
        raise ReleaseError(f"{file}: metadata Version is {found!r}, expected {version}")


def export_tree(git: Git, destination: Path) -> None:
    """Extract the committed tree (``git archive HEAD``) into ``destination``."""
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=git.root, capture_output=True, check=False)
    if archive.returncode != 0:
        raise ReleaseError(f"git archive failed: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
        else:  # pragma: no cover - Python releases without extraction filters
            tar.extractall(destination)


# --------------------------------------------------------------------------------------------------------
# The release
# --------------------------------------------------------------------------------------------------------


@dataclass
class Options:
    """What the command line asked for."""

    root: Path
    package: str
    request: str
    execute: bool = False
    push: bool = False
    remote: str = "origin"
    nox: str | None = None
    pythons: tuple[str, ...] = ()


class Release:
    """One release of one package, step by step; a dry run prints what ``--execute`` would do."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.root = options.root
        self.git = Git(self.root)
        self.packages = discover(self.root)
        self.package = find_package(self.packages, options.package)
        self.current = self.package.read_version()
        self.version = new_version(self.current, options.request)
        self.tag = self.package.tag(self.version)
        self.date = datetime.date.today().isoformat()
        self.remote: str | None = None

    # output ----------------------------------------------------------------------------------------------
    @staticmethod
    def say(text: str) -> None:
        """Print one line of the report."""
        print(text, flush=True)

    def step(self, number: int, title: str) -> None:
        """Announce a step."""
        self.say(f"\n[{number}/8] {title}")

    def ok(self, text: str) -> None:
        """Report a passed check."""
        self.say(f"  ok: {text}")

    def command(self, command: Sequence[str | Path], note: str = "") -> None:
        """Print a command that changes something (or takes long): ``run:`` or ``would run:``."""
        verb = "run" if self.options.execute else "would run"
        self.say(f"  {verb}: {show(command)}" + (f"   # {note}" if note else ""))

    def query(self, command: Sequence[str | Path]) -> None:
        """Print a read-only command that both modes run."""
        self.say(f"  $ {show(command)}")

    def rel(self, path: Path) -> str:
        """``path`` relative to the repository root."""
        return str(path.relative_to(self.root))

    # the flow --------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Every step in order; raises ReleaseError at the first refusal."""
        mode = "EXECUTE" if self.options.execute else "dry run: nothing will change; add --execute to perform"
        self.say(f"Release {self.package.dist} {self.current} -> {self.version} ({mode})")
        self.check_version_and_tag()
        self.check_tree()
        entries = self.check_changelog()
        self.check_compatibility()
        self.run_nox()
        self.commit_build_tag(entries)

    def check_version_and_tag(self) -> None:
        """Step 1: the version is new and the tag free, locally and on the remote."""
        self.step(1, "version and tag")
        toplevel = self.git("rev-parse", "--show-toplevel")
        if Path(toplevel).resolve() != self.root.resolve():
            raise ReleaseError(f"{self.root} is not the top of a git repository (that is {toplevel})")
        self.query(["git", "tag", "--list", self.package.tag_pattern])
        tagged = self.git.tagged_versions(self.package)
        newest = tagged[-1] if tagged else None
        first_release = newest is None and self.version == self.current
        if self.version <= self.current and not first_release:
            raise ReleaseError(
                f"{self.version} is not greater than the current version {self.current} of {self.package.dist} "
                f"({self.rel(self.package.version_file)})"
            )
        if newest is not None and self.version <= newest:
            raise ReleaseError(f"{self.version} is not greater than the newest release tag {self.package.tag(newest)}")
        if self.git.ok("rev-parse", "-q", "--verify", f"refs/tags/{self.tag}"):
            raise ReleaseError(f"the tag {self.tag} already exists locally")
        remotes = self.git.remotes()
        if self.options.remote in remotes:
            self.remote = self.options.remote
            command = ["git", "ls-remote", "--tags", self.remote, f"refs/tags/{self.tag}"]
            self.query(command)
            if self.git(*command[1:], timeout=60):
                raise ReleaseError(f"the tag {self.tag} already exists on the remote {self.remote}")
            where = f"locally and on {self.remote}"
        elif remotes:
            raise ReleaseError(f"no remote named {self.options.remote!r} (remotes: {', '.join(remotes)}); use --remote")
        else:
            if self.options.push:
                raise ReleaseError("--push needs a remote, and none is configured (git remote add origin URL)")
            where = "locally (no remote configured)"
        if first_release:
            self.ok(f"first release: {self.version} is the version in {self.rel(self.package.version_file)}")
        else:
            self.ok(f"{self.version} is greater than the current {self.current}")
        if newest:
            self.ok(f"{self.version} is greater than the newest tag {self.package.tag(newest)}")
        else:
            self.ok(f"{self.package.dist} has no release tag yet")
        self.ok(f"the tag {self.tag} is free {where}")

    def check_tree(self) -> None:
        """Step 2: nothing staged, modified or untracked; on ``main``."""
        self.step(2, f"clean working tree on {MAIN_BRANCH}")
        self.query(["git", "status", "--porcelain", "--untracked-files=all"])
        status = self.git("status", "--porcelain", "--untracked-files=all")
        if status:
            lines = status.splitlines()
            shown = "\n    ".join(lines[:10]) + ("\n    ..." if len(lines) > 10 else "")
            raise ReleaseError(f"the working tree is not clean (commit or remove these first):\n    {shown}")
        self.query(["git", "symbolic-ref", "--quiet", "--short", "HEAD"])
        branch = run(["git", "symbolic-ref", "--quiet", "--short", "HEAD"], self.root).stdout.strip()
        if branch != MAIN_BRANCH:
            raise ReleaseError(
                f"releases are made from {MAIN_BRANCH}, not from {branch or 'a detached HEAD'}: "
                f"git switch {MAIN_BRANCH}"
            )
        self.ok(f"nothing staged, modified or untracked; on {MAIN_BRANCH}")

    def check_changelog(self) -> list[str]:
        """Step 3: the CHANGELOG has entries under Unreleased."""
        self.step(3, "changelog")
        path = self.rel(self.package.changelog)
        if not self.package.changelog.is_file():
            raise ReleaseError(f"{path} does not exist")
        entries = unreleased_entries(self.package.changelog.read_text(encoding="utf-8"), path)
        if not entries:
            raise ReleaseError(f"{path} has no entries under '## Unreleased': say what this release changes first")
        self.ok(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} under Unreleased in {path}")
        return entries

    def check_compatibility(self) -> None:
        """Step 4: dependents admit the new version; workspace dependencies are satisfiable by released ones."""
        self.step(4, "compatibility with the other packages")
        name = self.package.dist
        users = {
            other.name: spec
            for other in self.packages.values()
            if (spec := other.workspace_requirements(self.packages).get(self.package.name)) is not None
            and other is not self.package
        }
        excluded = []
        for user, spec in users.items():
            try:
                admitted = satisfies(self.version, spec)
            except ValueError as exc:
                raise ReleaseError(f"atriumn-{user}'s requirement {name}{spec}: {exc}") from None
            if admitted:
                self.ok(f"atriumn-{user} admits {name} {self.version} ({name}{spec or ' with no range'})")
            else:
                excluded.append(f"atriumn-{user} ({name}{spec})")
        if excluded:
            listing = "\n    ".join(excluded)
            raise ReleaseError(
                f"{name} {self.version} is outside the {name} range of these packages:\n    {listing}\n"
                f"update their ranges to admit {self.version} (and test them) first, then release {name}"
            )
        if not users:
            self.ok(f"no workspace package depends on {name}")
        for dep, spec in self.package.workspace_requirements(self.packages).items():
            dependency = self.packages[dep]
            self.query(["git", "tag", "--list", dependency.tag_pattern])
            released = self.git.tagged_versions(dependency)
            try:
                matching = [v for v in released if satisfies(v, spec)]
            except ValueError as exc:
                raise ReleaseError(f"{name}'s requirement {dependency.dist}{spec}: {exc}") from None
            if not matching:
                have = ", ".join(map(str, released)) or "none"
                raise ReleaseError(
                    f"{name} requires {dependency.dist}{spec}, which no released {dependency.dist} satisfies "
                    f"(tagged: {have}): release {dependency.dist} first or change the range"
                )
            self.ok(f"{dependency.dist}{spec or ' (no range)'} is satisfied by the released {matching[-1]}")

    def nox_commands(self) -> list[list[str]]:
        """The nox runs of step 5 (reads the ``tests`` sessions from ``nox --list --json``)."""
        nox = nox_command(self.options.nox)
        users = list(dependents(self.packages, self.package))
        listing_command = [*nox, "--list", "--json", "--sessions", "tests"]
        self.query(listing_command)
        listed = run(listing_command, self.root, timeout=300)
        if listed.returncode != 0:
            raise ReleaseError(f"`{show(listing_command)}` failed:\n{(listed.stderr or listed.stdout).strip()}")
        try:
            listing = json.loads(listed.stdout)
        except json.JSONDecodeError:
            raise ReleaseError(f"`{show(listing_command)}` did not print JSON:\n{listed.stdout[:500]}") from None
        own = select_test_sessions(listing, [self.package.name], self.options.pythons)
        if not own:
            where = f" on python {', '.join(self.options.pythons)}" if self.options.pythons else ""
            raise ReleaseError(f"nox lists no tests session for {self.package.name}{where} (see nox --list)")
        sessions = own + select_test_sessions(listing, users, self.options.pythons)
        built = [self.package.name, *users]
        return [
            [*nox, "--sessions", "lint", "typecheck", *sessions],
            [*nox, "--sessions", "build", "smoke", "--", *built],
        ]

    def run_nox(self) -> None:
        """Step 5: lint, typecheck, tests (and dependents' tests), build and smoke pass."""
        self.step(5, "nox: lint, typecheck, tests, build, isolated-install smoke test")
        for command in self.nox_commands():
            self.command(command)
            if self.options.execute:
                result = run(command, self.root, capture=False)
                if result.returncode != 0:
                    raise ReleaseError(f"nox failed (exit {result.returncode}): {show(command)}; nothing was changed")
        if self.options.execute:
            self.ok("every nox session passed")

    def commit_build_tag(self, entries: list[str]) -> None:
        """Steps 6-8; any failure undoes the commit, the tag and the copied artifacts."""
        execute = self.options.execute
        previous = self.git("rev-parse", "HEAD")
        copied: list[Path] = []
        tagged = False
        try:
            self.write_and_commit(entries)
            copied = self.build_and_check()
            self.step(8, "tag")
            tag_command = ["git", "tag", "--annotate", self.tag, "--message", f"{self.package.dist} {self.version}"]
            self.command(tag_command)
            push = ["git", "push", "--atomic", self.remote or self.options.remote, MAIN_BRANCH, self.tag]
            if execute:
                self.git(*tag_command[1:])
                tagged = True
                commit = self.git("rev-list", "-n", "1", self.tag)
                self.ok(f"annotated tag {self.tag} on {commit[:12]}")
            if self.options.push:
                self.command(push)
                if execute:
                    self.git(*push[1:], timeout=300)
                    self.ok(f"pushed {MAIN_BRANCH} and {self.tag} to {self.remote}")
        except BaseException as exc:
            if execute:
                self.undo(previous, tagged, copied, exc)
            raise
        if execute:
            self.say(f"\nReleased {self.package.dist} {self.version}: tag {self.tag}; files in dist/:")
            for path in copied:
                self.say(f"  {self.rel(path)}")
            if not self.options.push:
                self.say(f"Push when ready:\n  {show(push)}")
        else:
            if not self.options.push:
                self.say(f"  then, yourself: {show(push)}")
            self.say("\nDry run complete: every check passed. Run again with --execute to release.")

    def write_and_commit(self, entries: list[str]) -> None:
        """Step 6: version file, changelog, commit."""
        self.step(6, "version file, changelog, commit")
        files = [self.package.version_file, self.package.changelog]
        changelog = release_changelog(self.package.changelog.read_text(encoding="utf-8"), self.version, self.date)
        verb = "write" if self.options.execute else "would write"
        self.say(f'  {verb}: __version__ = "{self.version}" in {self.rel(self.package.version_file)}')
        self.say(
            f"  {verb}: {len(entries)} Unreleased entr{'y' if len(entries) == 1 else 'ies'} under "
            f"'## {self.version} - {self.date}' in {self.rel(self.package.changelog)}"
        )
        message = f"release: {self.package.dist} {self.version}"
        add = ["git", "add", "--", *(self.rel(f) for f in files)]
        commit = ["git", "commit", "--quiet", "--message", message, "--", *(self.rel(f) for f in files)]
        self.command(add)
        self.command(commit)
        if self.options.execute:
            self.package.version_file.write_text(self.package.version_text(self.version), encoding="utf-8")
            self.package.changelog.write_text(changelog, encoding="utf-8")
            self.git(*add[1:])
            self.git(*commit[1:])
            self.ok(f"committed {self.git('rev-parse', '--short=12', 'HEAD')} {message!r}")

    def build_and_check(self) -> list[Path]:
        """Step 7: build from the committed tree, check the two files, copy them to dist/."""
        self.step(7, "build the wheel and sdist from the committed tree")
        wheel, sdist = artifact_names(self.package, self.version)
        dist = self.root / "dist"
        with tempfile.TemporaryDirectory(prefix="atriumn-release-") as tmp:
            tree, out = Path(tmp) / "tree", Path(tmp) / "out"
            command = build_command(self.package.dist, out)
            self.command(["git", "archive", "--format=tar", "HEAD"], note=f"extracted into {tree}")
            self.command(command, note=f"in {tree}")
            self.say(f"  check: exactly {wheel} and {sdist}, Version {self.version} in both, no atriumn/__init__.py")
            self.say(f"  copy them to {self.rel(dist)}/")
            if not self.options.execute:
                return []
            tree.mkdir()
            export_tree(self.git, tree)
            result = run(command, tree, capture=False)
            if result.returncode != 0:
                raise ReleaseError(f"the build failed (exit {result.returncode}): {show(command)}")
            built = check_artifacts(out, self.package, self.version)
            self.ok(f"{wheel} and {sdist} carry {self.version}; the wheel has no atriumn/__init__.py")
            dist.mkdir(exist_ok=True)
            copied = []
            for path in built:
                target = dist / path.name
                if target.exists():
                    raise ReleaseError(f"{self.rel(target)} already exists: remove it first")
                shutil.copy2(path, target)
                copied.append(target)
            return copied

    def undo(self, previous: str, tagged: bool, copied: list[Path], error: BaseException) -> None:
        """Put the repository back as it was before step 6 (the tree was clean, so a hard reset is exact)."""
        self.say(f"\nUndoing the release after: {error}")
        if tagged:
            self.say(f"  run: git tag --delete {self.tag}")
            run(["git", "tag", "--delete", self.tag], self.root)
        self.say(f"  run: git reset --hard --quiet {previous}")
        run(["git", "reset", "--hard", "--quiet", previous], self.root)
        for path in copied:
            self.say(f"  remove {self.rel(path)}")
            path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------------
# status
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of ``release.py status``."""

    dist: str
    version: str
    tag: str
    commits: int
    unreleased: int
    verdict: str


def status_rows(root: Path) -> list[Row]:
    """The state of every package: version, newest tag, commits since it, Unreleased entries, verdict."""
    git = Git(root)
    has_head = git.ok("rev-parse", "-q", "--verify", "HEAD")
    rows = []
    for package in discover(root).values():
        tags = git.tagged_versions(package)
        tag = package.tag(tags[-1]) if tags else ""
        path = str(package.path.relative_to(root))
        commits = int(git("rev-list", "--count", f"{tag}..HEAD" if tag else "HEAD", "--", path)) if has_head else 0
        try:
            entries = len(unreleased_entries(package.changelog.read_text(encoding="utf-8")))
        except (OSError, ReleaseError):
            entries = 0
        if entries:
            verdict = "yes" if tag else "yes (first release)"
        elif commits or not tag:
            verdict = "changes without changelog entries"
        else:
            verdict = "no"
        try:
            version = str(package.read_version())
        except (OSError, ReleaseError):
            version = "?"
        rows.append(Row(package.dist, version, tag or "-", commits, entries, verdict))
    return rows


def format_status(rows: Sequence[Row]) -> str:
    """``rows`` as an aligned text table."""
    header = ("package", "version", "newest tag", "commits since", "unreleased entries", "needs release")
    cells = [header] + [
        (r.dist, r.version, r.tag, str(r.commits), str(r.unreleased) if r.unreleased else "none", r.verdict)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    p = argparse.ArgumentParser(
        prog="release.py",
        description="Release one distribution of the Atriumn workspace (a dry run unless --execute).",
        epilog="examples: release.py status | release.py auth patch | release.py atriumn-core 1.0.0 --execute",
    )
    p.add_argument("package", help="'status', or the package to release: auth or atriumn-auth")
    p.add_argument("version", nargs="?", help="major, minor, patch or an explicit X.Y.Z")
    p.add_argument("--execute", action="store_true", help="perform the release (default: a dry run)")
    p.add_argument("--push", action="store_true", help="push main and the tag to the remote afterwards")
    p.add_argument("--remote", default="origin", help="the remote checked for the tag and pushed to (origin)")
    p.add_argument("--nox", help=f"the nox command (default: ${NOX_ENV}, else python -m nox, else nox)")
    p.add_argument(
        "--python", action="append", default=[], dest="pythons", metavar="X.Y", help="run tests on these only"
    )
    p.add_argument("--root", type=Path, default=ROOT, help="the repository root (default: beside release.py)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    p = parser()
    args = p.parse_args(argv)
    root = Path(args.root).resolve()
    try:
        if args.package == "status":
            if args.version is not None:
                p.error("status takes no version")
            print(format_status(status_rows(root)))
            return 0
        if args.version is None:
            p.error("give the version: major, minor, patch or X.Y.Z")
        options = Options(
            root=root,
            package=args.package,
            request=args.version,
            execute=args.execute,
            push=args.push,
            remote=args.remote,
            nox=args.nox,
            pythons=tuple(args.pythons),
        )
        Release(options).run()
    except ReleaseError as exc:
        print(f"\nrefused: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
