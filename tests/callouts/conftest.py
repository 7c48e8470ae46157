"""Shared bits for the example callouts' tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CALLOUTS = REPO / "callouts"


def callout_path(name: str) -> str:
    """The absolute path of callouts/<name>.py, as a configured entry."""
    return str(CALLOUTS / f"{name}.py")
