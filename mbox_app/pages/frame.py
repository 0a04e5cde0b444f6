"""The console frame every page uses: the presentational shell plus who is signed in, its
role, and the areas that role may use."""

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
            SignInState.identity,
            SignInState.auth_required,
            SignInState.identify,
            role=SignInState.role,
            scope=SignInState.scope,
        ),
        areas=SignInState.areas,
    )
