"""Pieces of long lists and launch previews: a pager and a preflight verdict. Pure
functions of vars, usable by any page."""

from __future__ import annotations

import reflex as rx

from components.feedback import fix_link
from components.theme import SMALL_TEXT, TEXT_SECONDARY


def pager(
    words: rx.Var[str],
    *,
    has_previous: rx.Var[bool],
    has_next: rx.Var[bool],
    on_previous: rx.EventHandler,
    on_next: rx.EventHandler,
    label: str,
) -> rx.Component:
    """The range shown (`words`) with Previous and Next, as a navigation landmark named `label`."""
    return rx.el.nav(
        rx.hstack(
            rx.text(words, size="2", color=TEXT_SECONDARY, aria_live="polite"),
            rx.spacer(),
            rx.button(
                rx.icon("chevron-left", size=14),
                "Previous",
                variant="soft",
                color_scheme="gray",
                size="1",
                disabled=~has_previous,
                on_click=on_previous,
            ),
            rx.button(
                "Next",
                rx.icon("chevron-right", size=14),
                variant="soft",
                color_scheme="gray",
                size="1",
                disabled=~has_next,
                on_click=on_next,
            ),
            align="center",
            spacing="2",
            width="100%",
        ),
        aria_label=label,
    )


def preflight(
    blockers: rx.Var[list[str]],
    *,
    ready: str,
    blocked: str,
    fix: tuple[rx.Var[str], rx.Var[str]] | None = None,
) -> rx.Component:
    """The verdict before an action: `ready` in green, or `blocked` in red with every reason
    and, with `fix` (words, href), a link to where the limit is set."""
    where = fix_link(*fix) if fix is not None else rx.fragment()
    return rx.el.section(
        rx.cond(
            blockers.length() > 0,
            rx.callout.root(
                rx.callout.icon(rx.icon("octagon-x", size=16)),
                rx.vstack(
                    rx.callout.text(blocked, weight="medium"),
                    rx.el.ul(
                        rx.foreach(blockers, lambda reason: rx.el.li(reason)),
                        margin="0",
                        padding_left="1.1rem",
                        font_size=SMALL_TEXT,
                        overflow_wrap="anywhere",
                    ),
                    where,
                    spacing="1",
                ),
                color_scheme="red",
                size="1",
            ),
            rx.callout(ready, icon="shield-check", color_scheme="green", size="1"),
        ),
        aria_label="Preflight",
    )
