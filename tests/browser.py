"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright: no browser download, loopback only."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = os.environ.get("GANSEARCH_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def keep_screenshot(shot: Path, name: str | None = None) -> None:
    """Copy a screenshot to $GANSEARCH_SCREENSHOTS (the README's images) when that names a folder."""
    dest = os.environ.get("GANSEARCH_SCREENSHOTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(dest) / (name or shot.name))


def require_browser() -> None:
    pytest.importorskip("playwright.sync_api")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")


@contextlib.contextmanager
def page(width: int = 1400, height: int = 1000) -> Iterator[tuple[object, list[str]]]:
    """A fresh browser page and the list its console errors (and page errors) are appended to."""
    require_browser()
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="gansearch-browser-")
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = home
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                user_data_dir=str(Path(home) / "profile"), executable_path=CHROMIUM, headless=True,
                args=FLAGS, viewport={"width": width, "height": height},
            )
            try:
                pg = ctx.pages[0] if ctx.pages else ctx.new_page()
                pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                pg.on("pageerror", lambda e: errors.append(str(e)))
                yield pg, errors
            finally:
                ctx.close()
    finally:
        if old_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old_home
        shutil.rmtree(home, ignore_errors=True)
