"""The console frame every page uses: the presentational shell plus who is signed in."""

from __future__ import annotations

import reflex as rx

from components.shell import account_panel, shell
from state.sign_in import SignInState


def console_page(*content: rx.Component, active: str, title: str, description: str) -> rx.Component:
    return shell(
        *content,
        active=active,
        title=title,
        description=description,
        account=account_panel(
            SignInState.identity, SignInState.auth_required, SignInState.identify
        ),
    )
