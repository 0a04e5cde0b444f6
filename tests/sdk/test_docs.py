"""docs/sdk.md's examples run as they are against a live server: documentation that
cannot drift from the SDK."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "sdk.md").read_text(), re.S)


def test_the_guide_has_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_example_runs(number: int, client_env, tmp_path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", EXAMPLES[number]],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, f"example {number + 1}:\n{EXAMPLES[number]}\n{run.stderr[-3000:]}"
    if "print(" in EXAMPLES[number]:
        assert run.stdout.strip(), f"example {number + 1} printed nothing"
