"""Debian's Chromium for browser tests: missing is a skip on a developer machine, a failure on CI.

CI installs Chromium itself (.ci/run), so a browser test that silently skipped there would hide a
broken set-up behind a green run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is not installed at {CHROMIUM}")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (make test installs it)")
    return CHROMIUM
