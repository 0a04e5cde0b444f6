"""The envd services are generated from E2B's .proto files and committed: regenerating
them gives exactly what is committed (edit the .proto, then run the script)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_envd_code_matches_the_protos() -> None:
    check = [sys.executable, str(ROOT / "scripts/generate_envd.py"), "--check"]
    result = subprocess.run(check, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
