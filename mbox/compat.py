"""The compatibility check the reference defines, on a server's `/v1/info`.

API version labels are `v<major>[alpha|beta<n>]`, ordered alpha < beta < stable within a
major. A client is compatible when client, server and the server's minimum all parse, all
share the minimum's major, and the client is at least the minimum; required capabilities
are checked separately.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

CLIENT_API_VERSION = "v1alpha1"
_LABEL = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_STAGES = {"alpha": 0, "beta": 1, None: 2}


@dataclass(frozen=True)
class Compatibility:
    ok: bool
    client: Literal["cli", "sdk"]
    client_api_version: str
    server_api_version: str
    minimum_api_version: str
    required_capabilities: list[str] = field(default_factory=list)
    missing_capabilities: list[str] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "client": self.client,
            "clientApiVersion": self.client_api_version,
            "serverApiVersion": self.server_api_version,
            "minimumApiVersion": self.minimum_api_version,
            "requiredCapabilities": self.required_capabilities,
            "missingCapabilities": self.missing_capabilities,
            "message": self.message,
        }


def _order(label: str) -> tuple[int, int] | None:
    match = _LABEL.match(label or "")
    if not match:
        return None
    major, stage, number = match.groups()
    return int(major), _STAGES[stage] * 1000 + int(number or 0)


def check_compatibility(
    info: Mapping[str, Any],
    client: Literal["cli", "sdk"] = "sdk",
    client_api_version: str = CLIENT_API_VERSION,
    required_capabilities: Iterable[str] = (),
) -> Compatibility:
    server = str(info.get("apiVersion", ""))
    minimums = info.get("compatibility") or {}
    key = "minimumCliApiVersion" if client == "cli" else "minimumSdkApiVersion"
    minimum = str(minimums.get(key, "") or server)
    required = list(dict.fromkeys(required_capabilities))
    offered = set(info.get("capabilities") or ())
    missing = [capability for capability in required if capability not in offered]
    mine, theirs, floor = _order(client_api_version), _order(server), _order(minimum)
    if mine is None or theirs is None or floor is None:
        bad = [
            label
            for label, order in ((client_api_version, mine), (server, theirs), (minimum, floor))
            if order is None
        ]
        message = f"unrecognised API version label: {', '.join(bad)}"
        version_ok = False
    elif mine[0] != floor[0] or theirs[0] != floor[0]:
        message = (
            f"{client} API {client_api_version} is not in the server's API family "
            f"{minimum} (server {server})"
        )
        version_ok = False
    elif mine < floor:
        message = f"{client} API {client_api_version} is older than the server's minimum {minimum}"
        version_ok = False
    else:
        version_ok = True
        message = f"{client} API {client_api_version} works with server API {server}"
    if version_ok and missing:
        message = f"the server lacks capabilities: {', '.join(missing)}"
    return Compatibility(
        ok=version_ok and not missing,
        client=client,
        client_api_version=client_api_version,
        server_api_version=server,
        minimum_api_version=minimum,
        required_capabilities=required,
        missing_capabilities=missing,
        message=message,
    )
