"""Every example under docs/examples runs in the test suite; the quickstart runs end to end here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "docs" / "examples"


def test_quickstart_runs_on_the_embedded_sandbox(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATRIUMN_", "OPENAI_", "ANTHROPIC_", "GEMINI_"))}
    env.update(
        {
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(tmp_path / "xdg"),
        }
    )
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for heading in ("1. Account", "2. Storage", "3. Ingest", "4. Prompts", "5. Chat", "6. Trace summary"):
        assert heading in out
    assert "(embedded sandbox)" in out
    assert "identical: True" in out
    assert out.count("completed") == 3
    assert "Summarise the quarterly report in twenty words." in out
    assert "skipped" not in out, out
    assert "Traceback" not in proc.stderr


def test_every_example_is_exercised_by_a_test() -> None:
    """Each docs/examples/*.py is run by some test (named in a test module)."""
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    missing = [p.name for p in sorted(EXAMPLES.glob("*.py")) if p.name not in tests and p.stem not in tests]
    assert not missing, f"examples no test runs: {missing}"
