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


UPCOMING: tuple[Upcoming, ...] = ()


def page(area: Upcoming) -> rx.Component:
    return console_page(
        empty_state(area.icon, "Coming soon", area.body),
        active=area.key,
        title=area.title,
        description=area.description,
    )
