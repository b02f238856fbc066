"""The dashboard's own logic that is not drawing: local calendar periods (web/src/lib/*.test.js,
Node's built-in test runner; no npm install needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WEB_LIB = Path(__file__).resolve().parents[2] / "web" / "src" / "lib"


@pytest.mark.skipif(
    shutil.which("node") is None and not os.environ.get("KOPROGO_CI"),
    reason="Node.js is not installed here",
)
def test_local_periods_across_daylight_saving_changes():
    tests = sorted(str(p) for p in WEB_LIB.glob("*.test.js"))
    assert tests
    run = subprocess.run(
        ["node", "--test", *tests], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout
