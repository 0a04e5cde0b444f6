"""The Tasks tab: run a command, the history, the selected task followed live
(state/sandbox_tasks.py, components/tasks.py)."""

from __future__ import annotations

import reflex as rx

from components import tasks
from state.sandbox import SandboxState
from state.sandbox_tasks import MAX_TIMEOUT, TaskItem, TasksTab

LABEL = "Tasks"


def tab() -> rx.Component:
    return tasks.tasks_layout(
        rx.cond(SandboxState.can_operate, run_form(), read_only("run commands")),
        tasks.task_history(TasksTab.tasks, task_row, on_refresh=SandboxState.refresh_tab),
        task_panel(),
        error=TasksTab.tasks_error,
        has_tasks=TasksTab.tasks.length() > 0,
    )


def read_only(what: str) -> rx.Component:
    """Where a form would be, for a role that may only look."""
    return rx.text(f"Your role may look here but not {what}.", size="2", color="gray")


def run_form() -> rx.Component:
    return tasks.run_form(
        running=SandboxState.view.status == "running",
        blocked=run_blocked(),
        busy=TasksTab.busy,
        error=TasksTab.error,
        error_field=TasksTab.error_field,
        max_timeout=MAX_TIMEOUT,
        on_command_change=TasksTab.clear_task_error.debounce(300),
        on_submit=TasksTab.run_task,
    )


def run_blocked() -> rx.Var[str]:
    """Why the form is disabled, in words."""
    return rx.match(
        SandboxState.view.status,
        ("pending", "The sandbox is starting: commands can run once it is running."),
        ("stopped", "The sandbox is stopped: start it to run commands."),
        ("failed", "The sandbox failed: start it again to run commands."),
        "Commands run only while the sandbox is running.",
    )


def task_row(task: rx.Var[TaskItem]) -> rx.Component:
    return tasks.task_row(
        task,
        selected=task.id == TasksTab.task.id,
        on_select=TasksTab.select_task(task.id),
    )


def task_panel() -> rx.Component:
    return tasks.task_panel(
        TasksTab.task,
        task_stream("stdout", "Standard output", TasksTab.task.stdout),
        task_stream("stderr", "Standard error", TasksTab.task.stderr),
        on_cancel=TasksTab.cancel_selected_task,
    )


def task_stream(name: str, label: str, view: rx.Var) -> rx.Component:
    task = TasksTab.task
    return tasks.task_stream(
        name,
        label,
        view,
        task_id=task.id,
        active=task.active,
        on_download=TasksTab.download_output(name),
    )
