"""Every check a maintainer runs.

Sessions install from the committed ``uv.lock`` (``uv sync --frozen``), so a green nox run means the
locked dependency set works.  Interpreters 3.10-3.13 are looked up on the machine; an absent one is
skipped, never an error.

    nox -s ci                      # what CI runs: the whole suite on this interpreter + isolated installs
    nox -s tests                   # every package on every interpreter found
    nox -s "tests-3.12(package='core')"
    nox -s lint typecheck build smoke docs bench
    nox -s release -- auth patch   # wraps release.py
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = ["core", "auth", "storage", "ai", "ingest", "sandbox"]
# Workspace dependencies of each distribution (installed beside it in the isolated-install test).
WORKSPACE_DEPS = {
    "core": [],
    "auth": ["core"],
    "storage": ["core"],
    "ai": ["core"],
    "ingest": ["core", "storage"],
    "sandbox": [],
}
SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["ci"]
# Never let uv download an interpreter: a version that is not on the machine is skipped.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")


def _interpreter(version: str) -> str | None:
    """Return a working interpreter for ``version``, or None.

    pyenv shims answer "command not found" for versions not named in PYENV_VERSION, so the shim on
    PATH is tried first and the pyenv installation directory second.
    """
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(str(pyenv_root / "versions" / f"{version}.*" / "bin" / f"python{version}")))
    for candidate in candidates:
        if not candidate:
            continue
        try:
            subprocess.run([candidate, "-c", "pass"], check=True, capture_output=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            continue
        return candidate
    return None


PYTHONS = {v: p for v in SUPPORTED if (p := _interpreter(v))}
# Let the pyenv shims (which uv and nox find on PATH) answer for every interpreter we found.
_pyenv_names = [Path(p).parents[1].name for p in PYTHONS.values() if "/.pyenv/versions/" in p]
_current = [v for v in os.environ.get("PYENV_VERSION", "").split(":") if v]
if _pyenv_names and not set(_pyenv_names) <= set(_current):
    os.environ["PYENV_VERSION"] = ":".join(_current + [n for n in _pyenv_names if n not in _current])


def _sync(session: nox.Session, *groups: str) -> None:
    """Install the whole workspace (and ``groups``) from the lock file into the session's venv."""
    args = ["uv", "sync", "--frozen", "--all-packages", "--inexact"]
    for group in groups:
        args += ["--group", group]
    session.run_install(
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )


def _covered_pytest(
    session: nox.Session, python: str, paths: list[str], packages: list[str], *, data_file: Path
) -> None:
    """Run pytest under coverage (started before pytest loads plugins), then report per package."""
    env = {"COVERAGE_FILE": str(data_file)}
    for old in ROOT.glob(data_file.name + "*"):
        old.unlink()
    session.run(python, "-m", "coverage", "run", "-m", "pytest", *paths, *session.posargs, env=env, external=True)
    session.run(python, "-m", "coverage", "combine", "--quiet", env=env, external=True, success_codes=[0, 1])
    for package in packages:
        session.log(f"coverage of atriumn-{package}:")
        session.run(
            python,
            "-m",
            "coverage",
            "report",
            f"--include=*/atriumn/{package}/*",
            "--skip-empty",
            env=env,
            external=True,
            success_codes=[0, 1, 2],
        )


def _tests_of(package: str) -> list[str]:
    if package == "integration":  # what crosses packages: end to end, the CLI, release.py, the fault server
        paths = ["tests/integration", "tests/release", "tests/test_faultserver.py"]
    else:
        paths = [f"tests/{package}"]
    return [p for p in paths if (ROOT / p).exists()]


@nox.session(python=list(PYTHONS) or None, tags=["tests"])
@nox.parametrize("package", [*PACKAGES, "integration"])
def tests(session: nox.Session, package: str) -> None:
    """One package's tests on every interpreter of 3.10-3.13 found on this machine."""
    _sync(session, "test")
    paths = _tests_of(package)
    if not paths:
        session.skip(f"no tests for {package}")
    covered = PACKAGES if package == "integration" else [package]
    _covered_pytest(session, "python", paths, covered, data_file=ROOT / f".coverage.{package}-{session.python}")


@nox.session(python=False)
def ci(session: nox.Session) -> None:
    """What CI runs: the whole suite on one interpreter (this one), then the isolated-install smoke test."""
    venv = ROOT / ".nox" / "ci-venv"
    session.run("uv", "venv", "--allow-existing", "--python", sys.executable, str(venv), external=True)
    session.run(
        "uv",
        "sync",
        "--frozen",
        "--all-packages",
        "--group",
        "test",
        env={"UV_PROJECT_ENVIRONMENT": str(venv)},
        external=True,
    )
    py = str(venv / "bin" / "python")
    _covered_pytest(session, py, ["tests"], PACKAGES, data_file=ROOT / ".coverage.ci")
    session.notify("smoke")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    _sync(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package."""
    _sync(session, "lint", "test")
    srcs = [f"packages/atriumn-{p}/src/atriumn/{p}" for p in PACKAGES]
    session.run("mypy", "--strict", *srcs)


def _build(session: nox.Session, packages: list[str]) -> Path:
    out = ROOT / "dist"
    for package in packages:
        for old in out.glob(f"atriumn_{package}-*"):
            old.unlink()
        session.run("uv", "build", "--package", f"atriumn-{package}", "--out-dir", str(out), external=True)
    for wheel in out.glob("*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            if "atriumn/__init__.py" in zf.namelist():
                session.error(f"{wheel.name} contains atriumn/__init__.py: the namespace must stay implicit")
    return out


@nox.session(python=False)
def build(session: nox.Session) -> None:
    """Wheel and sdist of every distribution (or of those named: ``nox -s build -- auth``)."""
    _build(session, session.posargs or PACKAGES)


@nox.session(python=False)
def smoke(session: nox.Session) -> None:
    """Install each wheel alone (with its workspace dependencies) into a fresh venv, then import it.

    No cache and no workspace: only the wheels we built plus their third-party requirements from the
    index, so a missing dependency declaration fails here.
    """
    packages = session.posargs or PACKAGES
    out = _build(session, sorted({d for p in packages for d in [p, *WORKSPACE_DEPS[p]]}))
    for package in packages:
        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp) / "venv"
            session.run("uv", "venv", "--quiet", "--python", sys.executable, str(venv), external=True)
            wheels = [str(next(out.glob(f"atriumn_{p}-*.whl"))) for p in [package, *WORKSPACE_DEPS[package]]]
            session.run(
                "uv",
                "pip",
                "install",
                "--quiet",
                "--no-cache",
                "--python",
                str(venv / "bin" / "python"),
                *wheels,
                external=True,
            )
            expected = sorted(f"atriumn-{p}" for p in [package, *WORKSPACE_DEPS[package]])
            check = SMOKE_CHECK.format(package=package, expected=expected)
            session.run(str(venv / "bin" / "python"), "-c", check, external=True)


SMOKE_CHECK = """
import importlib, importlib.metadata as md
import atriumn
module = importlib.import_module("atriumn.{package}")
assert atriumn.__file__ is None, f"atriumn is not a namespace package: {{atriumn.__file__}}"
assert module.__version__
names = {{d.metadata["Name"].lower() for d in md.distributions()}}
assert "httpx" not in names, "the old httpx is in the runtime dependency tree"
ours = sorted(n for n in names if n.startswith("atriumn-"))
assert ours == {expected}, f"installing atriumn-{package} brought {{ours}}"
print("atriumn.{package}", module.__version__, "imports alone; distributions:", ", ".join(ours))
"""


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    _sync(session, "docs")
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: our clients side by side with bare httpx2 and the official SDKs; writes docs/benchmarks.md."""
    _sync(session, "test", "bench")
    session.run("python", "tests/benchmarks/run.py", *session.posargs)


@nox.session(python=False)
def release(session: nox.Session) -> None:
    """Release one package: ``nox -s release -- auth patch [--execute]``."""
    session.run(sys.executable, "release.py", *session.posargs, external=True)
