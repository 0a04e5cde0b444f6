"""Sandbox page, Boundary tab: what the sandbox may reach and what is really enforced, from
the boundary service (backend/reporting/boundary.py): its checks as a checklist, then the
facts grouped in plain words.

`BoundaryTab` is a tab of the sandbox page (state/sandbox.py); the page reads it when it
opens, on Refresh and on the page's tick.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, ClassVar

import reflex as rx

from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.reporting import boundary as boundary_service
from backend.reporting.boundary import BoundarySummary
from state.base import db_session, in_thread, services
from state.format import duration, sentence
from state.sandbox import SandboxState, SandboxTab


@dataclasses.dataclass
class CheckItem:
    id: str = ""
    label: str = ""
    status: str = ""  # pass | warn | fail
    message: str = ""
    evidence: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Fact:
    """One line of a group: a label and its value, or (no label) a statement."""

    label: str = ""
    value: str = ""


@dataclasses.dataclass
class FactGroup:
    title: str = ""
    icon: str = ""
    facts: list[Fact] = dataclasses.field(default_factory=list)


def _or(items: list[str] | None, empty: str) -> str:
    return ", ".join(items) if items else empty


def _identity(summary: BoundarySummary) -> FactGroup:
    ref = summary.runtime_ref or {}
    runtime = f"{ref.get('adapter', '')} {ref.get('namespace', '')}/{ref.get('name', '')}"
    return FactGroup(
        "Identity & placement",
        "id-card",
        [
            Fact("Project", summary.project_name or "None"),
            Fact("Template", summary.template_name),
            Fact("Namespace", f"{summary.namespace} (recorded; Linux namespaces isolate here)"),
            Fact("Service account", f"{summary.service_account_name}; no token is mounted"),
            Fact("Runtime", runtime if ref else "None yet"),
            Fact("Image", f"{summary.image}: recorded, not pulled"),
            Fact("Working directory", summary.working_dir),
        ],
    )


def _isolation(summary: BoundarySummary) -> FactGroup:
    runtime = summary.runtime
    state = "available" if runtime.available else f"unavailable: {runtime.message}"
    requests = summary.resource_requests
    declared = [
        f"{name} {value}"
        for name, value in (
            ("cpu", requests.cpu if requests else None),
            ("memory", requests.memory if requests else None),
            ("storage", summary.storage_request),
        )
        if value
    ]
    return FactGroup(
        "Isolation",
        "shield",
        [
            Fact("Runtime", f"{runtime.adapter}, {state}"),
            *(Fact("", sentence(line)) for line in runtime.isolation),
            Fact("Requests", _or(declared, "None declared (the runtime's limits apply)")),
        ],
    )


def _network(summary: BoundarySummary, reach: str) -> FactGroup:
    reach = sentence(reach)  # one wording for the API and the console
    ports = [f"{p.name} :{p.port} {p.protocol}" for p in summary.preview_ports or []]
    return FactGroup(
        "Network",
        "network",
        [
            Fact("Policy", summary.network_policy.capitalize()),
            Fact("Reach", reach),
            Fact("Preview ports", _or(ports, "None declared")),
        ],
    )


def _secrets(summary: BoundarySummary) -> FactGroup:
    count = summary.env_var_count
    env = f"{count}, injected into every process" if count else "None"
    secrets = [ref.name + (f":{ref.key}" if ref.key else "") for ref in summary.secret_refs or []]
    credentials = [
        f"{ref.slug} ({ref.type}{f' for {ref.target}' if ref.target else ''}, "
        f"secret {ref.secret_ref})"
        for ref in summary.credential_refs or []
    ]
    return FactGroup(
        "Secrets & credentials",
        "key-round",
        [
            Fact("Environment variables", env),
            Fact("Secret references", _or(secrets, "None") + (": not mounted" if secrets else "")),
            Fact(
                "Credentials",
                _or(credentials, "None in this project") + (": not mounted" if credentials else ""),
            ),
        ],
    )


def _lifecycle(summary: BoundarySummary) -> FactGroup:
    policy = summary.lifecycle_policy or {}
    rules = [
        f"{label} {duration(policy[key])}"
        for key, label in (("ttlSeconds", "lease"), ("idleTimeoutSeconds", "idle timeout"))
        if key in policy
    ]
    text = ", ".join(rules)
    enforced = (
        f"{sentence(text)}, enforced by the lifetime engine"
        if rules
        else "None: it runs until someone stops or deletes it"
    )
    return FactGroup(
        "Lifecycle",
        "hourglass",
        [
            Fact("Policy", enforced),
            *(Fact("", sentence(line)) for line in summary.cleanup),
        ],
    )


def _launch_policy(summary: BoundarySummary) -> FactGroup:
    return FactGroup(
        "Launch policy",
        "shield-check",
        [
            Fact("Enforcement", summary.policy_enforcement.capitalize()),
            Fact("Allowed images", _or(summary.allowed_image_prefixes, "Any")),
            Fact("Allowed service accounts", _or(summary.allowed_service_accounts, "Any")),
            Fact("Allowed secret references", _or(summary.allowed_secret_refs, "Any")),
        ],
    )


def _access(summary: BoundarySummary) -> FactGroup:
    lines = [*summary.runtime_access, *summary.controller_permissions]
    return FactGroup(
        "Access & control",
        "terminal",
        [Fact("", sentence(line)) for line in lines],
    )


def fact_groups(summary: BoundarySummary, reach: str) -> list[FactGroup]:
    """The facts grouped; `reach` is what the sandbox's network policy gets, in words."""
    return [
        _identity(summary),
        _isolation(summary),
        _network(summary, reach),
        *(build(summary) for build in (_secrets, _lifecycle, _launch_policy, _access)),
    ]


def read_boundary(principal: Principal, sandbox_id: str) -> tuple[BoundarySummary, str]:
    """The sandbox's boundary, and its network reach in the API's words."""
    runtime = services().runtime
    with db_session(principal) as db:
        summary = boundary_service.sandbox_boundary(
            db, sandbox_id=uuid.UUID(sandbox_id), runtime=runtime
        )
    egress = runtime.describe().network.egress(summary.network_policy)
    return summary, boundary_service.network_reach(egress)


class BoundaryTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "boundary"
    checks: list[CheckItem] = []
    groups: list[FactGroup] = []

    @rx.var
    def tally(self) -> str:
        """`8 passed · 4 warnings · 1 failed`: the checklist at a glance."""
        counts = {status: 0 for status in ("pass", "warn", "fail")}
        for check in self.checks:
            counts[check.status] = counts.get(check.status, 0) + 1
        warnings = "warning" if counts["warn"] == 1 else "warnings"
        return f"{counts['pass']} passed · {counts['warn']} {warnings} · {counts['fail']} failed"

    @classmethod
    async def read(cls, principal: Principal, sandbox_id: str) -> dict[str, Any]:
        try:
            summary, reach = await in_thread(read_boundary, principal, sandbox_id)
        except ServiceError as exc:
            return {"error": exc.message, "loaded": True}
        checks = [
            CheckItem(c.id, c.label, c.status, c.message, c.evidence or []) for c in summary.checks
        ]
        return {
            "checks": checks,
            "groups": fact_groups(summary, reach),
            "error": "",
            "loaded": True,
        }
