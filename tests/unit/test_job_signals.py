"""A server started in the background ignores SIGINT; its sandboxes must not inherit that."""

from __future__ import annotations

import signal
import subprocess
import sys

from backend.runtime.local import _unignore_job_signals

PROBE = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"


def child_ignores_sigint() -> bool:
    output = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    return output.stdout.strip() == "True"


def test_children_get_the_default_sigint_again():
    before = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `scripts/run &` leaves it
        assert child_ignores_sigint()
        _unignore_job_signals()
        assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        assert not child_ignores_sigint()
    finally:
        signal.signal(signal.SIGINT, before)
