"""Audit page state: the audit feed (filled in by the console issue)."""

from __future__ import annotations

import reflex as rx


class AuditState(rx.State):
    @rx.event
    async def load(self):
        return None
