"""Reflex configuration for the mbox console.

The port is not set here: `mbox-server` runs `reflex run --env prod --backend-port
$MBOX_PORT`, and prod serves the console, /v1 API, /healthz and WebSockets on that one
port. (Reflex reads this file before it knows the env mode, so ports set here would also
apply to dev, where vite and the backend need two.) The console never uses Reflex's own
database (no db_url): product state lives in backend.db with its own Alembic migrations.

CORS is off in Reflex (no origins): Reflex's default allows every origin with credentials.
mbox's WebGuardMiddleware (around the whole app, see mbox_app) answers for CORS, Origin and
Host itself, from MBOX_ALLOWED_ORIGINS and MBOX_ALLOWED_HOSTS.
"""

import reflex as rx

config = rx.Config(
    app_name="mbox_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    cors_allowed_origins=[],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
