"""Reflex configuration for the mbox console.

The console never uses Reflex's own database (no db_url): product state lives in
backend.db with its own Alembic migrations.
"""

import os

import reflex as rx

PORT = int(os.environ.get("MBOX_PORT", "3000"))

# Prod serves the console, /v1 API, /healthz and WebSockets on ONE port; dev keeps
# Reflex's usual split (vite on 3000, backend on 8000) for hot reload.
_ports = {"frontend_port": PORT, "backend_port": PORT}
_prod = os.environ.get("REFLEX_ENV_MODE") == "prod"

config = rx.Config(
    app_name="mbox_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
    **(_ports if _prod else {}),
)
