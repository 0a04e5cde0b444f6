"""`mbox audit-events`: the audit feed, with every filter the API takes."""

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from mbox.cli._core import client, emit


def _filter(name: str, help: str, kind: type = str) -> inspect.Parameter:
    option = "--" + name.replace("_", "-")
    if name == "request_id":
        option = "--filter-request-id"  # --request-id is the global option
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[kind | None, typer.Option(option, help=help)],
        default=None,
    )


FILTERS = [
    _filter("project_id", "Only this project's events (id or slug)."),
    _filter("action", "Only this action, e.g. sandbox.create."),
    _filter("resource_type", "Only this kind of resource, e.g. sandbox."),
    _filter("resource_id", "Only this resource."),
    _filter("actor", "Only this actor."),
    _filter("source", "Only this source."),
    _filter("request_id", "Only this request id."),
    _filter("operation", "Only this operation."),
    _filter("since", "From this time (RFC 3339)."),
    _filter("until", "Until this time (RFC 3339)."),
    _filter("limit", "At most this many (one page).", int),
    inspect.Parameter(
        "all_pages",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[
            bool, typer.Option("--all", help="Every matching event, page after page.")
        ],
        default=False,
    ),
]
FILTER_NAMES = frozenset(param.name for param in FILTERS)


def with_audit_filters(*, project: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command every audit filter as an option; it receives them as `filters`."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func)
        own = [param for param in signature.parameters.values() if param.name != "filters"]
        extra = [param for param in FILTERS if project or param.name != "project_id"]

        def command(**kwargs: Any) -> Any:
            filters = {name: kwargs.pop(name) for name in list(kwargs) if name in FILTER_NAMES}
            return func(**kwargs, filters=filters)

        command.__name__ = func.__name__
        command.__doc__ = func.__doc__
        command.__signature__ = signature.replace(parameters=own + extra)  # type: ignore[attr-defined]
        return command

    return decorate


def run_audit_events(filters: dict[str, Any], project: str | None = None) -> None:
    all_pages = filters.pop("all_pages", False)
    project = project or filters.pop("project_id", None)
    filters.pop("project_id", None)
    given = {name: value for name, value in filters.items() if value is not None}
    with client() as mbox:
        if project:
            given["project_id"] = mbox.resolve_project(project)
        events = list(mbox.audit.iter_events(**given)) if all_pages else mbox.audit.events(**given)
        emit(events, "AuditEvent")


@with_audit_filters(project=True)
def audit_events(filters: dict) -> None:
    """The audit feed, newest first: one page (--limit) or every match (--all)."""
    run_audit_events(filters)


def register(app: typer.Typer) -> None:
    app.command("audit-events")(audit_events)
