"""Generate the envd services (Connect protocol) from E2B's .proto files.

    .venv/bin/python scripts/generate_envd.py          # write backend/e2b/envd/generated
    .venv/bin/python scripts/generate_envd.py --check  # fail if it is not what is committed

The messages come from protoc-gen-py and the services from protoc-gen-connectrpc, the
generators of the `protobuf-py` and `connectrpc` packages the server runs on (the same
versions as E2B's own SDK), run by grpcio-tools' protoc.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "backend/e2b/envd/proto"
GENERATED = ROOT / "backend/e2b/envd/generated"
FILES = ("process/process.proto", "filesystem/filesystem.proto")
NOTICE = (
    "# Generated from E2B's envd .proto files (Apache-2.0, see ../proto/LICENSE)\n"
    "# by scripts/generate_envd.py. DO NOT EDIT.\n"
)


def generate(out: Path) -> None:
    import grpc_tools  # the well-known types (timestamp.proto) ship with it

    bin_dir = Path(sys.executable).parent  # the venv's protoc-gen-py / protoc-gen-connectrpc
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    includes = Path(grpc_tools.__file__).parent / "_proto"
    command = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO}", f"-I{includes}"]
    command += [f"--py_out={out}", f"--connectrpc_out={out}", *FILES]
    subprocess.run(command, check=True, cwd=PROTO, env=env)
    for path in out.rglob("*.py"):
        text = path.read_text()
        path.write_text(NOTICE + text if text else NOTICE)


def differences(left: Path, right: Path) -> list[str]:
    names = {p.relative_to(left) for p in left.rglob("*.py")}
    names |= {p.relative_to(right) for p in right.rglob("*.py")}
    return sorted(
        str(name)
        for name in names
        if not ((left / name).exists() and (right / name).exists())
        or not filecmp.cmp(left / name, right / name, shallow=False)
    )


def main() -> int:
    if "--check" in sys.argv:
        with tempfile.TemporaryDirectory() as scratch:
            generate(Path(scratch))
            stale = differences(Path(scratch), GENERATED)
        if stale:
            print(f"stale: {', '.join(stale)}; run scripts/generate_envd.py", file=sys.stderr)
            return 1
        return 0
    GENERATED.mkdir(exist_ok=True)
    for old in GENERATED.rglob("*.py"):
        old.unlink()
    generate(GENERATED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
