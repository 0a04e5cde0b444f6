"""The page for an address the console does not have: inside the console's frame (its
navigation stays), saying so in words, with the ways back."""

from __future__ import annotations

import reflex as rx

from components.feedback import empty_state
from mbox_app.pages.frame import console_page

TITLE = "Page not found"
DESCRIPTION = "The console has no page at this address."
# Where to go instead: (words, address).
WAYS_BACK = (
    ("Projects", "/projects"),
    ("Sandboxes", "/sandboxes"),
    ("Templates", "/templates"),
)


def page() -> rx.Component:
    return console_page(
        empty_state(
            "map-pin-off",
            "Nothing lives at this address",
            "The link may be old, or the page may have moved. Check the address, or go to "
            "one of these:",
            rx.hstack(
                *(
                    rx.button(rx.link(words, href=href), as_child=True, variant="soft", size="2")
                    for words, href in WAYS_BACK
                ),
                spacing="2",
                wrap="wrap",
                justify="center",
            ),
        ),
        active="",
        title=TITLE,
        description=DESCRIPTION,
    )
