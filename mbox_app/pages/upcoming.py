"""Console areas that later issues build; until then each says what will live there.

When an area is built it moves to its own page module and leaves this table.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from components.feedback import empty_state
from mbox_app.pages.frame import console_page


@dataclass(frozen=True)
class Upcoming:
    key: str
    title: str
    description: str
    icon: str
    body: str


UPCOMING = (
    Upcoming(
        "policies",
        "Policies",
        "Launch policy per project.",
        "shield-check",
        "Launch policies will live here: allowed image prefixes, runtime identities and "
        "secret references, with their enforcement mode.",
    ),
    Upcoming(
        "quotas",
        "Quotas",
        "Limits on what each project may consume.",
        "gauge",
        "Quota policies will live here: active sandboxes and retained artifact bytes, "
        "with current usage against each limit.",
    ),
    Upcoming(
        "credentials",
        "Credentials",
        "References to secrets that sandboxes may use.",
        "key-round",
        "Credential references will live here: name, type, target and the secret they "
        "point at. Secret values are never shown.",
    ),
    Upcoming(
        "tokens",
        "API tokens",
        "Bearer tokens for automation.",
        "ticket",
        "Named API tokens will live here: scopes, prefix, last use, expiry and revocation. "
        "A new token's secret is shown once.",
    ),
)


def page(area: Upcoming) -> rx.Component:
    return console_page(
        empty_state(area.icon, "Coming soon", area.body),
        active=area.key,
        title=area.title,
        description=area.description,
    )
