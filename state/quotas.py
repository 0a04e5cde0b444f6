"""Quotas page state: a project's quota limits (editable with the govern permission) and
what it uses now against each, as bars. The limits are whatever the quota policy has
(backend.policy.service.QUOTAS): a new limit shows up here without an edit."""

from __future__ import annotations

import dataclasses
import re
import uuid
from decimal import Decimal

import reflex as rx

from backend.auth.models import Principal
from backend.errors import InvalidInput
from backend.policy import service as policy
from backend.policy.models import NEVER, ProjectQuotaPolicyRow, ProjectQuotaPolicyUpsert
from backend.projects.models import QuotaUsage
from backend.quantities import parse_quantity
from backend.reporting.usage import project_usage
from backend.validation import request_body
from state.base import Choice, acting, attempt, db_session, in_thread
from state.format import byte_size, timestamp
from state.governance import GovernedProject

ENFORCEMENTS = [
    Choice("disabled", "Disabled: limits are recorded, not enforced"),
    Choice("enforced", "Enforced: what would exceed a limit is denied"),
]
HINTS = {  # by what the limit measures; anything else is a count
    "cpu": "A quantity, such as 2 or 500m, of the running sandboxes' summed requests.",
    "memory": "A quantity, such as 8Gi, of the running sandboxes' summed requests.",
    "retained": "Bytes, as a whole number.",
}


@dataclasses.dataclass
class LimitField:
    """One limit in the form: its wire name, words, value as typed and what it takes."""

    name: str
    label: str
    value: str
    hint: str


@dataclasses.dataclass
class UsageBar:
    """One limit's usage: current and limit in words, the filled share, whether it is at
    or over the limit, and the whole in one sentence for assistive technology."""

    name: str
    label: str
    current: str
    limit: str
    width: str
    full: bool
    summary: str


@dataclasses.dataclass
class Quotas:
    enforcement: str
    updated: str
    limits: list[LimitField]
    bars: list[UsageBar]


def label_of(name: str) -> str:
    """`maxTasksInProgress` -> `Tasks in progress`; `maxCpu` -> `CPU`."""
    words = re.sub(r"([A-Z])", r" \1", name.removeprefix("max")).strip().lower()
    return words.replace("cpu", "CPU").capitalize() if words != "cpu" else "CPU"


def _amount(limit: policy.Quota, value: int | str | None) -> Decimal | None:
    """A limit or usage as a number (quantities in cores or bytes)."""
    if value is None or value == "":
        return None
    if limit.quantity or isinstance(value, str):
        parsed = parse_quantity(str(value))
        return parsed[0] if parsed else None
    return Decimal(value)


def _words(limit: policy.Quota, value: int | str | None) -> str:
    if value is None:
        return "No limit"
    if limit.unit == "bytes" and not limit.quantity:
        return byte_size(int(value))
    return str(value)


def usage_bar(limit: policy.Quota, stored: int | str | None, used: QuotaUsage | None) -> UsageBar:
    current = used.current if used is not None else 0
    label, now = label_of(limit.name), _words(limit, current)
    cap, amount = _amount(limit, stored), _amount(limit, current) or Decimal(0)
    if cap is None:
        return UsageBar(limit.name, label, now, "No limit", "", False, f"{label}: {now}, no limit")
    share = min(amount * 100 / cap, Decimal(100)) if cap else Decimal(100)
    cap_words = _words(limit, stored)
    return UsageBar(
        name=limit.name,
        label=label,
        current=now,
        limit=cap_words,
        width=f"{share:.0f}%",
        full=amount >= cap,
        summary=f"{label}: {now} of {cap_words} ({share:.0f}%)",
    )


def read_quotas(principal: Principal, project_id: str) -> Quotas:
    pid = uuid.UUID(project_id)
    with db_session(principal) as db:
        row = policy.get_quota_policy(db, pid)
        usage = project_usage(db, project_id=pid)
    used = {quota.name: quota for quota in usage.quotas}
    return Quotas(
        enforcement=row.enforcement,
        updated="Never saved" if row.updated_at == NEVER else f"Saved {timestamp(row.updated_at)}",
        limits=[limit_field(row, limit) for limit in policy.QUOTAS],
        bars=[usage_bar(q, getattr(row, q.column), used.get(q.name)) for q in policy.QUOTAS],
    )


def limit_field(row: ProjectQuotaPolicyRow, limit: policy.Quota) -> LimitField:
    value = getattr(row, limit.column)
    hint = HINTS.get(limit.measure, "A whole number.")
    return LimitField(limit.name, label_of(limit.name), "" if value is None else str(value), hint)


def quota_request(enforcement: str, limits: list[LimitField]) -> ProjectQuotaPolicyUpsert:
    """The request the form makes; InvalidInput naming the limit that is not a number."""
    body: dict[str, int | str | None] = {"enforcement": enforcement}
    quantities = {limit.name for limit in policy.QUOTAS if limit.quantity}
    for field in limits:
        text = field.value.strip()
        if not text:
            body[field.name] = None
        elif field.name in quantities:
            body[field.name] = text
        elif text.isdigit():
            body[field.name] = int(text)
        else:
            message = f"{field.label}: a whole number, or blank for no limit."
            raise InvalidInput(message, field=field.name)
    return request_body(ProjectQuotaPolicyUpsert, body)


def save_quotas(
    principal: Principal, project_id: str, enforcement: str, limits: list[LimitField]
) -> None:
    data = quota_request(enforcement, limits)
    with db_session(principal) as db:
        policy.put_quota_policy(
            db, principal=principal, project_id=uuid.UUID(project_id), data=data
        )


class QuotasState(GovernedProject, rx.State):
    enforcement: str = "disabled"
    updated: str = ""
    limits: list[LimitField] = []
    bars: list[UsageBar] = []

    @rx.var
    def enforcements(self) -> list[Choice]:
        return ENFORCEMENTS

    async def _read(self, principal: Principal) -> None:
        if not self.project:
            self.limits, self.bars = [], []
            return
        found = await attempt(
            self, in_thread(read_quotas, principal, self.project), busy=None, clear=("error",)
        )
        if found:
            quotas: Quotas = found.value
            self.enforcement, self.updated = quotas.enforcement, quotas.updated
            self.limits, self.bars = quotas.limits, quotas.bars

    @rx.event
    def set_enforcement(self, value: str):
        self.enforcement = value

    @rx.event
    def set_limit(self, name: str, value: str):
        self.limits = [
            dataclasses.replace(field, value=value) if field.name == name else field
            for field in self.limits
        ]
        self.error = self.error_field = self.notice = ""

    @rx.event
    async def save(self, _form: dict | None = None):
        principal = await acting(self)
        name = self._project_name()
        saved = await attempt(
            self,
            in_thread(save_quotas, principal, self.project, self.enforcement, self.limits),
            done=f"Saved the quotas of {name}.",
            fields={limit.name: limit.name for limit in policy.QUOTAS},
        )
        if saved:
            await self._read(principal)
