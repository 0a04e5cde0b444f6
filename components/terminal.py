"""The terminal: a shell's screen (xterm.js on the terminal WebSocket), its connection
badge and controls, and a field to paste text into it. Focus mode gives the terminal the
whole window; Escape pressed twice moves the keyboard out of it (to `KEYS_ID`, the line
that says so: Tab goes on from there)."""

from __future__ import annotations

import reflex as rx
from reflex_xtermjs import THEMES, xterm

from components.feedback import error_callout, notice_callout
from components.forms import field
from components.theme import MONO, TEXT_SECONDARY, TEXT_TERTIARY

THEME = THEMES["github-dark"]
SCREEN = "#0d1117"  # the theme's background, around the screen too
FONT = 'ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace'
KEYS_ID = "terminal-keys"  # where Escape twice puts the keyboard focus
SCREEN_MARK = "data-terminal-screen"  # the screen's box (the key handler looks for it)
KEYS_HINT = (
    "Keys go straight to the shell (Ctrl+C interrupts it). Press Esc twice to move the "
    "keyboard out of the terminal, then Tab on. To copy, select text and press Copy; to "
    "paste, use the field or the browser's paste."
)
# The screen leaves room for the page above it (header, status, tabs, toolbar) so it is
# whole in a 720-pixel-high window; in focus mode it takes the window less the toolbar.
SCREEN_HEIGHT = "max(14rem, min(34rem, calc(100vh - 25rem)))"
FOCUS_SCREEN_HEIGHT = "calc(100vh - 7.5rem)"
CONNECTION = (
    ("connecting", "Connecting…", "blue"),
    ("connected", "Connected", "green"),
    ("reconnecting", "Reconnecting…", "amber"),
    ("disconnected", "Disconnected", "gray"),
    ("ended", "Shell ended", "gray"),
)


def connection_words(status: rx.Var[str]) -> rx.Var[str]:
    return rx.match(
        status, *((value, words) for value, words, _ in CONNECTION), "Not connected"
    ).to(str)


def connection_badge(status: rx.Var[str]) -> rx.Component:
    """`● Connected` in green, `● Reconnecting…` in amber…, announced as it changes."""
    words = connection_words(status)
    return rx.badge(
        rx.box(
            width="0.45rem", height="0.45rem", border_radius="9999px", background="currentColor"
        ),
        words,
        role="status",
        aria_label="Terminal connection: " + words,
        color_scheme=rx.match(status, *((value, color) for value, _, color in CONNECTION), "gray"),
        variant="soft",
        radius="full",
        size="2",
        gap="0.4rem",
        white_space="nowrap",
    )


def tool_button(icon: str, text: str, on_click: rx.EventHandler, **props) -> rx.Component:
    return rx.button(
        rx.icon(icon, size=14),
        text,
        on_click=on_click,
        variant=props.pop("variant", "soft"),
        color_scheme=props.pop("color_scheme", "gray"),
        size="1",
        **props,
    )


def terminal_toolbar(
    status: rx.Var[str],
    short_id: rx.Var[str],
    *,
    live: rx.Var[bool],
    on_connect: rx.EventHandler,
    on_disconnect: rx.EventHandler,
    on_new: rx.EventHandler,
    on_copy: rx.EventHandler,
    on_take_control: rx.EventHandler,
    focus_mode: rx.Var[bool],
    on_focus_mode: rx.EventHandler,
    can_type: rx.Var[bool] | bool = True,
) -> rx.Component:
    """The connection and the terminal's id on the left, the controls on the right. Without
    `can_type` (a role that may only watch) there is no New terminal nor Take control."""
    disabled = ~rx.State.is_hydrated
    return rx.flex(
        rx.hstack(
            connection_badge(status),
            rx.text(
                "Terminal ",
                rx.code(short_id, variant="ghost", size="1"),
                size="1",
                color=TEXT_SECONDARY,
                aria_label="Terminal id " + short_id,
            ),
            spacing="3",
            align="center",
        ),
        rx.spacer(),
        rx.hstack(
            rx.cond(
                live,
                tool_button("unplug", "Disconnect", on_disconnect, disabled=disabled),
                rx.cond(
                    status != "ended",
                    tool_button(
                        "plug",
                        "Connect",
                        on_connect,
                        disabled=disabled,
                        variant="solid",
                        color_scheme="indigo",
                    ),
                ),
            ),
            rx.cond(
                can_type,
                tool_button(
                    "plus",
                    "New terminal",
                    on_new,
                    disabled=disabled,
                    variant=rx.cond(status == "ended", "solid", "soft"),
                    color_scheme=rx.cond(status == "ended", "indigo", "gray"),
                ),
            ),
            tool_button("copy", "Copy", on_copy, disabled=disabled, title="Copy the selection"),
            rx.cond(
                can_type,
                tool_button(
                    "keyboard",
                    "Take control",
                    on_take_control,
                    disabled=disabled | (status != "connected"),
                    title="Type from this window when several windows share the terminal",
                ),
                rx.badge("Watching: your role cannot type here", color_scheme="gray"),
            ),
            rx.button(
                rx.cond(focus_mode, rx.icon("minimize-2", size=14), rx.icon("maximize-2", size=14)),
                rx.cond(focus_mode, "Exit focus mode", "Focus mode"),
                on_click=on_focus_mode,
                aria_pressed=rx.cond(focus_mode, "true", "false"),
                title="Give the terminal the whole window",
                variant="soft",
                color_scheme="gray",
                size="1",
            ),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        align="center",
        gap="0.75rem",
        wrap="wrap",
        width="100%",
    )


def terminal_screen(
    terminal_id: rx.Var[str],
    *,
    retry_ms: rx.Var[int],
    on_ready: rx.EventHandler,
    on_open: rx.EventHandler,
    on_close: rx.EventHandler,
    on_error: rx.EventHandler,
    focus_mode: rx.Var[bool],
) -> rx.Component:
    """The shell's screen, fitted to its pane. It reconnects by itself after `retry_ms`
    when the connection drops; a new `terminal_id` mounts a new screen."""
    return rx.box(
        xterm(
            terminal_id=terminal_id,
            key=terminal_id,
            addons=["fit", "web-links"],
            auto_fit=True,
            renderer="dom",
            reconnect=True,
            reconnect_delay_ms=retry_ms,
            theme=THEME,
            font_family=FONT,
            font_size=13,
            line_height=1.2,
            cursor_blink=True,
            scrollback=5000,
            on_ready=on_ready,
            on_socket_open=on_open,
            on_socket_close=on_close,
            on_socket_error=on_error,
        ),
        role="region",
        aria_label="Terminal",
        custom_attrs={SCREEN_MARK: terminal_id},
        height=rx.cond(focus_mode, FOCUS_SCREEN_HEIGHT, SCREEN_HEIGHT),
        min_height="14rem",
        padding="0.5rem 0.25rem 0.25rem 0.75rem",
        background=SCREEN,
        border_radius="0.5rem",
        overflow="hidden",
    )


def paste_form(
    *, on_submit: rx.EventHandler, on_clipboard: rx.EventHandler, connected: rx.Var[bool]
) -> rx.Component:
    """A line of text to send as if pasted (or the clipboard's text, if the browser lets)."""
    text = rx.input(
        id="terminal-paste",
        name="paste",
        placeholder="Text to paste into the shell",
        font_family=MONO,
        autocomplete="off",
        spellcheck=False,
        width="100%",
        size="1",
    )
    return rx.form(
        rx.flex(
            field("Paste text", text, html_for="terminal-paste", flex="1", min_width="0"),
            rx.button(
                rx.icon("clipboard-paste", size=14),
                "Paste",
                type="submit",
                size="1",
                variant="soft",
                disabled=~connected,
            ),
            rx.button(
                "Paste clipboard",
                type="button",
                on_click=on_clipboard,
                size="1",
                variant="soft",
                color_scheme="gray",
                disabled=~connected,
            ),
            align="end",
            gap="0.5rem",
            width="100%",
        ),
        on_submit=on_submit,
        reset_on_submit=True,
        aria_label="Paste into the terminal",
    )


def terminal_layout(
    toolbar: rx.Component,
    screen: rx.Component,
    paste: rx.Component,
    *,
    detail: rx.Var[str],
    error: rx.Var[str],
    notice: rx.Var[str],
    focus_mode: rx.Var[bool],
) -> rx.Component:
    """Toolbar, the connection in words, messages, the screen, the keys, then the paste
    field. In focus mode the whole of it covers the window."""
    return rx.vstack(
        toolbar,
        rx.cond(detail, rx.text(detail, size="1", color=TEXT_SECONDARY)),
        error_callout(error),
        notice_callout(notice),
        screen,
        rx.text(KEYS_HINT, id=KEYS_ID, tab_index=-1, size="1", color=TEXT_TERTIARY),
        paste,
        spacing="3",
        align="stretch",
        style=rx.cond(
            focus_mode,
            {
                "position": "fixed",
                "inset": "0",
                "zIndex": "50",
                "padding": "0.75rem 1rem",
                "background": rx.color("gray", 1),
            },
            {},
        ),
        role="group",
        aria_label=rx.cond(focus_mode, "Terminal in focus mode", "Terminal and its controls"),
    )


def terminal_unavailable(reason: rx.Var[str] | str) -> rx.Component:
    """Why there is no terminal now, in a calm panel of the screen's size."""
    return rx.center(
        rx.vstack(
            rx.icon("square-terminal", size=22, color=TEXT_TERTIARY),
            rx.text(reason, size="2", color=TEXT_SECONDARY, text_align="center"),
            align="center",
            spacing="2",
            max_width="28rem",
        ),
        role="region",
        aria_label="Terminal",
        min_height="14rem",
        padding="2rem",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="0.5rem",
        background=rx.color("gray", 2),
    )
