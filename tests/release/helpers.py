"""Helpers for the release tests: a throwaway repository with a minimal copy of the workspace.

Each test gets its own repository in ``tmp_path``: packages core, auth and storage (auth and storage
depend on ``atriumn-core>=0.1,<1``), each with pyproject.toml, _version.py, CHANGELOG.md, README.md and one
trivial test, plus a small noxfile with the real session names (``lint``, ``typecheck``, ``tests`` per
package, ``build``, ``smoke``) whose sessions are quick and need no virtualenv. The tests session runs
real pytest on the package's test; each session appends its name to ``$RELEASE_NOX_LOG`` (outside the
repository, so the tree stays clean) so tests can see what nox ran.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

RELEASE = Path(__file__).resolve().parents[2] / "release.py"

ROOT_PYPROJECT = """\
[tool.uv]
package = false

[tool.uv.workspace]
members = ["packages/*"]

[tool.uv.sources]
atriumn-core = { workspace = true }
atriumn-auth = { workspace = true }
atriumn-storage = { workspace = true }

[project]
name = "throwaway-workspace"
version = "0"
requires-python = ">=3.10"
"""

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "atriumn-{name}"
dynamic = ["version"]
description = "atriumn-{name}, for the release tests."
readme = "README.md"
requires-python = ">=3.10"
dependencies = [{dependencies}]

[tool.hatch.version]
path = "src/atriumn/{name}/_version.py"

[tool.hatch.build.targets.wheel]
only-include = ["{wheel_include}"]
sources = ["src"]

[tool.hatch.build.targets.sdist]
only-include = ["src/atriumn/{name}", "README.md", "CHANGELOG.md", "pyproject.toml"]
"""

CHANGELOG = """\
# Changelog — atriumn-{name}

All notable changes to this distribution are documented here.

## Unreleased

### Added

- A change to atriumn-{name}.

### Fixed

## 0.1.0 - 2026-01-01

### Added

- The first release.
"""

NOXFILE = '''\
"""A stand-in for the workspace noxfile: the same session names, each quick and without a virtualenv."""

import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = sorted(p.name.removeprefix("atriumn-") for p in (ROOT / "packages").glob("atriumn-*"))
PYTHON = os.environ.get("RELEASE_TEST_PYTHON", sys.executable)
ENV = {
    "PYTHONPATH": os.pathsep.join(str(ROOT / "packages" / f"atriumn-{p}" / "src") for p in PACKAGES),
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}
nox.options.sessions = ["lint"]


def record(session):
    log = os.environ.get("RELEASE_NOX_LOG")
    if log:
        with open(log, "a") as f:
            f.write(" ".join([session.name, *session.posargs]) + "\\n")


@nox.session(python=False)
def lint(session):
    record(session)
    check = "import ast, pathlib; [ast.parse(p.read_text()) for p in pathlib.Path('.').rglob('*.py')]"
    session.run(PYTHON, "-c", check, external=True)


@nox.session(python=False)
def typecheck(session):
    record(session)


@nox.session(python=False)
@nox.parametrize("package", PACKAGES)
def tests(session, package):
    record(session)
    session.run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/{package}", env=ENV, external=True)


@nox.session(python=False)
def build(session):
    record(session)
    for package in session.posargs:
        assert (ROOT / "packages" / f"atriumn-{package}" / "pyproject.toml").is_file(), package


@nox.session(python=False)
def smoke(session):
    record(session)
    for package in session.posargs:
        code = f"import atriumn.{package} as m; print(m.__name__, m.__version__)"
        session.run(PYTHON, "-c", code, env=ENV, external=True)
'''


def find_nox() -> list[str] | None:
    """A working nox command: $ATRIUMN_RELEASE_NOX, this interpreter, ``nox`` on PATH, or a python with nox."""
    if os.environ.get("ATRIUMN_RELEASE_NOX"):
        return shlex.split(os.environ["ATRIUMN_RELEASE_NOX"])
    if importlib.util.find_spec("nox") is not None:
        return [sys.executable, "-m", "nox"]
    candidates: list[list[str]] = []
    if shutil.which("nox"):
        candidates.append(["nox"])
    candidates += [[py, "-m", "nox"] for py in ("python3", "python") if shutil.which(py)]
    for command in candidates:
        try:
            if subprocess.run([*command, "--version"], capture_output=True, timeout=60).returncode == 0:
                return command
        except (OSError, subprocess.SubprocessError):
            continue
    return None


NOX = find_nox()


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its output (raising on failure)."""
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@dataclass
class Workspace:
    """A throwaway repository and a way to run release.py on it."""

    root: Path
    nox_log: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run release.py with ``args`` on this repository (stdout and stderr captured together)."""
        env = dict(os.environ)
        env.update(
            {
                "PYTHONDONTWRITEBYTECODE": "1",
                "RELEASE_TEST_PYTHON": sys.executable,
                "RELEASE_NOX_LOG": str(self.nox_log),
                "NO_COLOR": "1",
            }
        )
        if NOX:
            env["ATRIUMN_RELEASE_NOX"] = shlex.join(NOX)
        return subprocess.run(
            [sys.executable, str(RELEASE), *args, "--root", str(self.root)],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )

    def git(self, *args: str) -> str:
        """Run git in the repository."""
        return git(self.root, *args)

    def package(self, name: str) -> Path:
        """``packages/atriumn-<name>``."""
        return self.root / "packages" / f"atriumn-{name}"

    def version_file(self, name: str) -> Path:
        """The package's _version.py."""
        return self.package(name) / "src" / "atriumn" / name / "_version.py"

    def changelog(self, name: str) -> Path:
        """The package's CHANGELOG.md."""
        return self.package(name) / "CHANGELOG.md"

    def commit(self, message: str) -> None:
        """Commit everything."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def nox_sessions(self) -> list[str]:
        """The nox sessions run so far (name and posargs), in order."""
        return self.nox_log.read_text().splitlines() if self.nox_log.exists() else []

    def snapshot(self) -> dict[str, str]:
        """Everything a release could change: HEAD, branch, refs, index and worktree status, every file."""
        state = {
            "HEAD": self.git("rev-parse", "HEAD"),
            "branch": self.git("rev-parse", "--abbrev-ref", "HEAD"),
            "refs": self.git("for-each-ref", "--format=%(refname) %(objectname)"),
            "status": self.git("status", "--porcelain", "--ignored", "--untracked-files=all"),
        }
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and ".git" not in path.relative_to(self.root).parts:
                state[str(path.relative_to(self.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        return state


def add_package(root: Path, name: str, *, core_range: str | None = ">=0.1,<1", failing: bool = False) -> None:
    """Write ``packages/atriumn-<name>`` and ``tests/<name>`` (a failing test when ``failing``)."""
    package = root / "packages" / f"atriumn-{name}"
    dependencies = "" if core_range is None else f'"atriumn-core{core_range}"'
    write(
        package / "pyproject.toml",
        PYPROJECT.format(name=name, dependencies=dependencies, wheel_include=f"src/atriumn/{name}"),
    )
    write(package / "README.md", f"# atriumn-{name}\n")
    write(package / "CHANGELOG.md", CHANGELOG.format(name=name))
    source = package / "src" / "atriumn" / name
    write(source / "_version.py", '"""The version."""\n\n__version__ = "0.1.0"\n')
    write(source / "__init__.py", f'"""atriumn.{name}."""\n\nfrom atriumn.{name}._version import __version__\n')
    write(source / "py.typed", "")
    assertion = "assert 1 + 1 == 3, 'this package is broken'" if failing else "assert __version__"
    write(
        root / "tests" / name / f"test_{name}.py",
        f"from atriumn.{name} import __version__\n\n\ndef test_{name}():\n    {assertion}\n",
    )


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[..., Workspace]:
    """Build the throwaway repository; ``failing`` names packages whose test fails."""

    def make(*, failing: tuple[str, ...] = (), tags: tuple[str, ...] = ("core", "auth", "storage")) -> Workspace:
        root = tmp_path / "repo"
        write(root / "pyproject.toml", ROOT_PYPROJECT)
        write(root / "noxfile.py", NOXFILE)
        write(root / ".gitignore", "dist/\n__pycache__/\n*.pyc\n.nox/\n")
        add_package(root, "core", core_range=None, failing="core" in failing)
        add_package(root, "auth", failing="auth" in failing)
        add_package(root, "storage", failing="storage" in failing)
        git(root.parent, "init", "-q", "-b", "main", str(root))
        git(root, "config", "user.name", "Release Test")
        git(root, "config", "user.email", "release-test@example.invalid")
        git(root, "config", "commit.gpgsign", "false")
        git(root, "config", "tag.gpgsign", "false")
        workspace = Workspace(root, tmp_path / "nox.log")
        workspace.commit("the workspace at 0.1.0")
        for name in tags:
            workspace.git("tag", "-a", f"atriumn-{name}-v0.1.0", "-m", f"atriumn-{name} 0.1.0")
        # Work after the 0.1.0 releases (the Unreleased entries were written by the fixture).
        write(root / "packages" / "atriumn-auth" / "src" / "atriumn" / "auth" / "_client.py", '"""A client."""\n')
        workspace.commit("auth: a client")
        return workspace

    return make


@pytest.fixture
def workspace(make_workspace: Callable[..., Workspace]) -> Workspace:
    """The default throwaway repository: every package at 0.1.0, tagged, with Unreleased entries."""
    return make_workspace()


needs_nox = pytest.mark.skipif(NOX is None, reason="nox is not installed (python -m pip install nox)")
