"""What every tab of the sandbox page shares: its first line, with Refresh (the page's)."""

from __future__ import annotations

import reflex as rx

from components.runtime import tab_intro
from state.sandbox import SandboxState

TAB_PADDING = "1rem 1.25rem 1.25rem"


def tab_head(text: str) -> rx.Component:
    return tab_intro(text, on_refresh=SandboxState.refresh_tab, margin_bottom="0.75rem")
