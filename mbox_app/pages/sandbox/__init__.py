"""One sandbox: status and actions, start-up timings, lifetime, runtime, and tabs: a
terminal (first, and shown at once while the sandbox runs), previews of its ports, tasks
(run a command, follow its output), a notebook (run Python cells in its Jupyter
kernel), workspace files, artifacts (what it kept), logs and
events, its sessions, its boundary (what it may reach, what is enforced), and how to use
it from code (curl, CLI and SDK snippets).

One module per tab, named like its state (state/sandbox_<tab>.py) and its components
(components/<tab>.py); overview.py is the top of the page (state/sandbox.py)."""

from __future__ import annotations

from types import ModuleType

import reflex as rx

from components.feedback import empty_state, error_callout, notice_callout
from components.forms import panel
from components.theme import TEXT_SECONDARY
from mbox_app.pages.frame import console_page
from mbox_app.pages.sandbox import (
    artifacts,
    boundary,
    code,
    events,
    files,
    logs,
    notebook,
    overview,
    preview,
    sessions,
    tasks,
    terminal,
)
from mbox_app.pages.sandbox.tab import TAB_PADDING
from state.sandbox import SandboxState

ROUTE = "/sandboxes/[sandbox_id]"

# The tabs in the order: each module has its `LABEL` and `tab()`, and its state
# (state/sandbox_<name>.py) is a substate the page state finds by itself. A new tab is a
# module here, one in state/ and its components, and a line in this tuple.
TABS = (
    terminal,
    preview,
    tasks,
    notebook,
    files,
    artifacts,
    logs,
    events,
    sessions,
    boundary,
    code,
)


def page() -> rx.Component:
    return console_page(
        back_link(),
        rx.cond(
            SandboxState.missing,
            unavailable(),
            rx.cond(SandboxState.loaded, detail(), loading()),
        ),
        active="sandboxes",
        title=SandboxState.heading,
        description=SandboxState.subheading,
    )


def back_link() -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("arrow-left", size=14), "All sandboxes", spacing="1", align="center"),
        href="/sandboxes",
        size="2",
        color=TEXT_SECONDARY,
        underline="hover",
        display="inline-block",
        margin_bottom="1rem",
    )


def loading() -> rx.Component:
    return rx.vstack(
        rx.skeleton(height="4.5rem", width="100%"),
        rx.skeleton(height="9rem", width="100%"),
        spacing="4",
        aria_busy="true",
    )


def unavailable() -> rx.Component:
    return empty_state(
        "box",
        "Sandbox unavailable",
        "There is no sandbox at this address: it was deleted, or the link is wrong.",
        rx.link("Back to Sandboxes", href="/sandboxes", size="2", weight="medium"),
    )


def detail() -> rx.Component:
    return rx.vstack(
        overview.status_bar(),
        error_callout(SandboxState.error),
        notice_callout(SandboxState.notice),
        rx.cond(SandboxState.view.validates, overview.validation_run()),
        overview.cards(),
        runtime_tabs(),
        spacing="4",
        align="stretch",
    )


def _name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def runtime_tabs() -> rx.Component:
    return panel(
        rx.tabs.root(
            rx.tabs.list(
                *(rx.tabs.trigger(module.LABEL, value=_name(module)) for module in TABS),
                padding_x="0.75rem",
                overflow_x="auto",
            ),
            *(tab_content(module) for module in TABS),
            value=SandboxState.tab,
            on_change=SandboxState.set_tab,
        ),
    )


def tab_content(module: ModuleType) -> rx.Component:
    if getattr(module, "KEEP_MOUNTED", False):  # hidden, not unmounted, while another shows
        return rx.tabs.content(
            module.tab(),
            value=_name(module),
            force_mount=True,
            padding=TAB_PADDING,
            style={"&[data-state='inactive']": {"display": "none"}},
        )
    return rx.tabs.content(module.tab(), value=_name(module), padding=TAB_PADDING)
