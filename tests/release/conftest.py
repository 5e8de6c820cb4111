"""Fixtures of the release tests (defined in helpers.py)."""

from tests.release.helpers import make_workspace, workspace

__all__ = ["make_workspace", "workspace"]
