"""Write the blocking client (mbox/_sync) from the async one (mbox/_async).

The async code is the source: `unasync` drops async/await and renames the few names that
differ (the `_aio` primitives become `_io`, httpx's AsyncClient becomes Client, ...).
Run after changing anything in mbox/_async; `--check` fails when mbox/_sync is stale.

    .venv/bin/python scripts/generate_sync_client.py [--check]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "mbox" / "_async"
TARGET = ROOT / "mbox" / "_sync"
RENAMES = {
    "_aio": "_io",
    "_async": "_sync",
    "AsyncClient": "Client",
    "AsyncMbox": "Mbox",
    "AsyncSandbox": "Sandbox",
    "AsyncTerminal": "Terminal",
    "aclose": "close",
    "aread": "read",
    "aiter_bytes": "iter_bytes",
    "aiter_lines": "iter_lines",
}
HEADER = "# Generated from mbox/_async by scripts/generate_sync_client.py: do not edit.\n"


def generate(target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "_async"
        shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
        rule = unasync.Rule(f"{scratch}/_async/", f"{scratch}/_sync/", RENAMES)
        unasync.unasync_files([str(path) for path in sorted(source.glob("*.py"))], [rule])
        produced = Path(scratch) / "_sync"
        for path in produced.glob("*.py"):
            path.write_text(HEADER + path.read_text())
        ruff = Path(sys.executable).with_name("ruff")
        fix = [str(ruff), "check", "--fix", "--exit-zero", "-q", str(produced)]
        subprocess.run(fix, check=True, capture_output=True)
        subprocess.run([str(ruff), "format", "-q", str(produced)], check=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(produced, target)


def stale() -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "_sync"
        generate(fresh)
        names = {p.name for p in fresh.glob("*.py")} | {p.name for p in TARGET.glob("*.py")}
        return sorted(
            name
            for name in names
            if not (TARGET / name).exists()
            or not (fresh / name).exists()
            or (TARGET / name).read_text() != (fresh / name).read_text()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if mbox/_sync is stale")
    if parser.parse_args().check:
        if differing := stale():
            sys.exit(f"mbox/_sync is stale ({', '.join(differing)}): run {__file__}")
        return
    generate(TARGET)


if __name__ == "__main__":
    main()
