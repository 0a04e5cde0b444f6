"""The console frame: a navigation rail, a page header and the content column.

Pages call `shell(...)` with the key of their nav item; the active item is static
per page. The areas shown are a var (those the signed-in principal's role may use).
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import reflex as rx

from components.theme import TEXT_SECONDARY, TEXT_TERTIARY

RAIL_WIDTH = "15rem"


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    route: str
    icon: str


NAV: tuple[tuple[str, tuple[NavItem, ...]], ...] = (
    (
        "Workspace",
        (
            NavItem("projects", "Projects", "/projects", "folder-kanban"),
            NavItem("templates", "Templates", "/templates", "layout-template"),
            NavItem("sandboxes", "Sandboxes", "/sandboxes", "box"),
            NavItem("artifacts", "Artifacts", "/artifacts", "package"),
        ),
    ),
    (
        "Governance",
        (
            NavItem("policies", "Policies", "/policies", "shield-check"),
            NavItem("quotas", "Quotas", "/quotas", "gauge"),
            NavItem("credentials", "Credentials", "/credentials", "key-round"),
            NavItem("tokens", "API tokens", "/tokens", "ticket"),
        ),
    ),
    (
        "Operations",
        (
            NavItem("audit", "Audit", "/audit", "scroll-text"),
            NavItem("runtime", "Runtime", "/runtime", "server"),
        ),
    ),
)


def shell(
    *content: rx.Component,
    active: str,
    title: str,
    description: str,
    account: rx.Component | None = None,
    areas: rx.Var[list[str]] | None = None,
) -> rx.Component:
    """A full console page: rail on the left (with who is signed in at its foot), header
    and content on the right. `areas`: the keys of the nav items to show (None: all)."""
    return rx.box(
        skip_link(),
        rail(active, account, areas),
        rx.el.main(
            header(title, description),
            rx.box(*content, padding="1.5rem 2rem 3rem", max_width="80rem"),
            id="content",
            tab_index=-1,
            margin_left=RAIL_WIDTH,
            min_height="100vh",
            outline="none",
        ),
        background=rx.color("gray", 1),
    )


def skip_link() -> rx.Component:
    """The first Tab stop: keyboard users jump past the navigation."""
    return rx.el.a(
        "Skip to content",
        href="#content",
        position="absolute",
        left="-999px",
        z_index="100",
        padding="0.5rem 0.75rem",
        border_radius="0.375rem",
        background=rx.color("accent", 9),
        color="white",
        _focus={"left": "1rem", "top": "1rem"},
    )


def rail(
    active: str, account: rx.Component | None = None, areas: rx.Var[list[str]] | None = None
) -> rx.Component:
    return rx.flex(
        rx.el.nav(
            brand(),
            *(nav_section(label, items, active, areas) for label, items in NAV),
            aria_label="Console",
        ),
        rx.spacer(),
        account or rx.fragment(),
        direction="column",
        position="fixed",
        inset="0 auto 0 0",
        width=RAIL_WIDTH,
        padding="1.25rem 0.75rem",
        overflow_y="auto",
        background=rx.color("gray", 2),
        border_right=f"1px solid {rx.color('gray', 5)}",
    )


def account_panel(
    identity: rx.Var[str],
    auth_required: rx.Var[bool],
    on_mount: rx.EventHandler,
    role: rx.Var[str] | str = "",
    scope: rx.Var[str] | str = "",
) -> rx.Component:
    """Who is signed in, with its role and project scope, and the way out; or a plain
    warning when nobody has to sign in."""
    return rx.box(
        rx.cond(
            auth_required,
            rx.vstack(
                rx.text("Signed in as", size="1", color=TEXT_TERTIARY),
                rx.text(identity, size="2", weight="medium", id="signed-in-as"),
                role_line(role, scope),
                rx.button(
                    rx.icon("log-out", size=14),
                    "Sign out",
                    # POST (never a link a page could trigger); then the sign-in page.
                    on_click=rx.call_script(
                        "fetch('/logout', {method: 'POST'})"
                        ".finally(() => window.location.assign('/login'))"
                    ),
                    variant="soft",
                    color_scheme="gray",
                    size="1",
                ),
                spacing="1",
                align="start",
            ),
            rx.hstack(
                rx.icon("shield-off", size=14, color=rx.color("amber", 11)),
                rx.text(
                    "Authentication is off: anyone who reaches this server can use it.",
                    size="1",
                    color=TEXT_SECONDARY,
                ),
                spacing="2",
                align="start",
            ),
        ),
        on_mount=on_mount,
        aria_label="Account",
        role="region",
        padding="0.75rem",
        border_top=f"1px solid {rx.color('gray', 5)}",
    )


def role_line(role: rx.Var[str] | str, scope: rx.Var[str] | str) -> rx.Component:
    """The signed-in role (a badge) and the projects it reaches."""
    return rx.cond(
        role != "",
        rx.hstack(
            rx.badge(role, color_scheme="indigo", variant="soft", id="signed-in-role"),
            rx.text(scope, size="1", color=TEXT_SECONDARY, id="signed-in-scope"),
            spacing="2",
            align="center",
        ),
        rx.fragment(),
    )


def brand() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.center(
                rx.icon("box", size=18, color="white"),
                width="2rem",
                height="2rem",
                border_radius="0.5rem",
                background=rx.color("accent", 9),
            ),
            rx.vstack(
                rx.text("mbox", weight="bold", size="3", line_height="1"),
                rx.text("sandbox platform", size="1", color=TEXT_TERTIARY),
                spacing="1",
            ),
            align="center",
            spacing="3",
        ),
        href="/",
        aria_label="mbox home",
        underline="none",
        color="inherit",
        display="block",
        padding="0 0.5rem 1.25rem",
    )


def nav_section(
    label: str, items: tuple[NavItem, ...], active: str, areas: rx.Var[list[str]] | None = None
) -> rx.Component:
    section = rx.vstack(
        rx.text(
            label.upper(),
            size="1",
            weight="medium",
            color=TEXT_TERTIARY,
            letter_spacing="0.06em",
            padding="0 0.75rem",
        ),
        *(shown(nav_link(item, item.key == active), item.key, areas) for item in items),
        spacing="1",
        padding_bottom="1.25rem",
        align="stretch",
    )
    if areas is None:
        return section
    any_shown = functools.reduce(operator.or_, (areas.contains(item.key) for item in items))
    return rx.cond(any_shown, section, rx.fragment())


def shown(component: rx.Component, key: str, areas: rx.Var[list[str]] | None) -> rx.Component:
    """The component when `key` is among `areas` (always when areas is None)."""
    if areas is None:
        return component
    return rx.cond(areas.contains(key), component, rx.fragment())


def nav_link(item: NavItem, current: bool) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon(item.icon, size=16), rx.text(item.label, size="2"), spacing="3", align="center"
        ),
        href=item.route,
        underline="none",
        aria_current="page" if current else None,
        padding="0.45rem 0.75rem",
        border_radius="0.375rem",
        color=rx.color("accent", 11) if current else rx.color("gray", 12),
        background=rx.color("accent", 3) if current else "transparent",
        font_weight="500" if current else "400",
        _hover={"background": rx.color("accent", 3) if current else rx.color("gray", 4)},
    )


def header(title: str, description: str) -> rx.Component:
    return rx.el.header(
        rx.hstack(
            rx.vstack(
                rx.heading(title, as_="h1", size="6", weight="bold"),
                rx.text(description, size="2", color=TEXT_SECONDARY),
                spacing="1",
            ),
            rx.spacer(),
            theme_toggle(),
            align="center",
            width="100%",
        ),
        padding="1.5rem 2rem 1.25rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
    )


def theme_toggle() -> rx.Component:
    return rx.icon_button(
        rx.color_mode_cond(light=rx.icon("moon", size=18), dark=rx.icon("sun", size=18)),
        on_click=rx.toggle_color_mode,
        aria_label="Toggle dark mode",
        title="Toggle dark mode",
        variant="ghost",
        color_scheme="gray",
        size="2",
    )
