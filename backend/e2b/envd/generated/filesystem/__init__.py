# Generated from E2B's envd .proto files (Apache-2.0, see ../proto/LICENSE)
# by scripts/generate_envd.py. DO NOT EDIT.
from __future__ import annotations
