"""Debian's Chromium for the page tests (the ``browser`` fixture in tests/conftest.py) and their screenshots."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def shot(page, name: str) -> None:
    """Save a full-page screenshot as artifacts/<name>.png, for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def has_focus(page, element_id: str, timeout_ms: float = 10_000) -> bool:
    """Wait until the element ``element_id`` has the focus (autofocus lands after the page loads, not with it);
    a TimeoutError if it never does. True, so tests can ``assert has_focus(page, "q")``."""
    page.wait_for_function("id => document.activeElement && document.activeElement.id === id", arg=element_id,
                           timeout=timeout_ms)
    return True
