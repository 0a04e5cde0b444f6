"""The Reflex entry point: the console pages, with the JSON API in front of them.

`create_api` builds a fresh FastAPI per call that serves /healthz and /v1 and mounts the
console last, so one port serves the console, the API and every WebSocket.
"""

from __future__ import annotations

import reflex as rx
from starlette.types import ASGIApp

from backend.api.app import create_api
from backend.api.middleware import WebGuardMiddleware
from backend.server import background_engines, get_services
from backend.settings import get_settings
from mbox_app.pages import (
    artifacts,
    audit,
    credentials,
    not_found,
    policies,
    projects,
    quotas,
    runtime,
    sandbox,
    sandboxes,
    templates,
    tokens,
    upcoming,
)
from state.artifacts import ArtifactsState
from state.audit import AuditState
from state.base import backend_failure
from state.credentials import CredentialsState
from state.policies import PoliciesState
from state.projects import ProjectsState
from state.quotas import QuotasState
from state.runtime import RuntimeState
from state.sandbox import SandboxState
from state.sandboxes import SandboxesState
from state.templates import TemplatesState
from state.tokens import TokensState


class MboxApp(rx.App):
    """Reflex's app with mbox's web guard outside it: Reflex puts its own CORS layer
    outermost, so Host, Origin and CORS decisions must wrap the whole app, /_event and
    /_upload included."""

    def __call__(self) -> ASGIApp:
        return WebGuardMiddleware(super().__call__(), settings=get_settings())


def api_in_front(console: ASGIApp) -> ASGIApp:
    """The JSON API over the process's services, with the console mounted behind it."""
    return create_api(console, services=get_services())


app = MboxApp(
    api_transformer=api_in_front,
    html_lang="en",
    backend_exception_handler=backend_failure,
    head_components=[rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml")],
)

for route in ("/", "/projects"):
    app.add_page(projects.page, route=route, title="Projects · mbox", on_load=ProjectsState.load)
app.add_page(sandbox.page, route=sandbox.ROUTE, title="Sandbox · mbox", on_load=SandboxState.load)
app.add_page(
    sandboxes.page, route="/sandboxes", title="Sandboxes · mbox", on_load=SandboxesState.load
)
app.add_page(
    templates.page, route="/templates", title="Templates · mbox", on_load=TemplatesState.load
)
app.add_page(
    artifacts.page, route="/artifacts", title="Artifacts · mbox", on_load=ArtifactsState.load
)
app.add_page(audit.page, route="/audit", title="Audit · mbox", on_load=AuditState.load)
app.add_page(runtime.page, route="/runtime", title="Runtime · mbox", on_load=RuntimeState.load)
app.add_page(tokens.page, route="/tokens", title="API tokens · mbox", on_load=TokensState.load)
app.add_page(policies.page, route="/policies", title="Policies · mbox", on_load=PoliciesState.load)
app.add_page(quotas.page, route="/quotas", title="Quotas · mbox", on_load=QuotasState.load)
app.add_page(
    credentials.page,
    route="/credentials",
    title="Credentials · mbox",
    on_load=CredentialsState.load,
)
app.add_page(not_found.page, route="404", title="Page not found · mbox")
for area in upcoming.UPCOMING:
    app.add_page(
        lambda area=area: upcoming.page(area), route=f"/{area.key}", title=f"{area.title} · mbox"
    )

# Background engines (the reconciler; later the task runner and lifetime reaper).
app.register_lifespan_task(background_engines)
