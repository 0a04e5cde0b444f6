"""The Boundary tab: checks and facts of what the sandbox may reach
(state/sandbox_boundary.py, components/boundary.py)."""

from __future__ import annotations

import reflex as rx

from components import boundary
from state.sandbox import SandboxState
from state.sandbox_boundary import BoundaryTab

LABEL = "Boundary"


def tab() -> rx.Component:
    return boundary.boundary_layout(
        boundary.checklist(BoundaryTab.checks, boundary.check_row),
        boundary.fact_groups(BoundaryTab.groups),
        tally=BoundaryTab.tally,
        loaded=BoundaryTab.loaded,
        error=BoundaryTab.error,
        on_refresh=SandboxState.refresh_tab,
    )
