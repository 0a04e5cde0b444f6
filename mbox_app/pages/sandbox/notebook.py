"""The Run code tab: a notebook of Python cells run in the sandbox's Jupyter kernel
(state/sandbox_notebook.py, components/notebook.py)."""

from __future__ import annotations

import reflex as rx

from components import notebook
from mbox_app.pages.sandbox.tab import tab_head
from state.sandbox import SandboxState
from state.sandbox_notebook import NotebookTab

LABEL = "Run code"


def tab() -> rx.Component:
    return notebook.notebook(
        tab_head(
            "Run Python in this sandbox's Jupyter kernel, cell by cell: variables and imports "
            "live on between runs. Sandboxes of the Code Interpreter template have Jupyter."
        ),
        NotebookTab.cells,
        cell,
        blocked=blocked(),
        busy=NotebookTab.busy,
        on_add=NotebookTab.add_cell,
        on_restart=NotebookTab.restart,
        on_clear=NotebookTab.clear_outputs,
        error=NotebookTab.error,
        notice=NotebookTab.notice,
    )


def cell(item: rx.Var) -> rx.Component:
    return notebook.cell_view(
        item,
        on_run=NotebookTab.run_cell,
        on_remove=NotebookTab.remove_cell,
        output=notebook.output_view,
    )


def blocked() -> rx.Var[str]:
    """Why code cannot run now, in words ("" when it can)."""
    return rx.cond(
        ~SandboxState.can_operate,
        "Your role may look at this sandbox but not run code in it.",
        rx.match(
            SandboxState.view.status,
            ("running", ""),
            ("pending", "The sandbox is starting: code can run once it is running."),
            ("stopped", "The sandbox is stopped: start it to run code."),
            ("failed", "The sandbox failed: start it again to run code."),
            "Code runs only while the sandbox is running.",
        ),
    )
