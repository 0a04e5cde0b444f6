"""Templates page state: the template library (filled in by the console issue)."""

from __future__ import annotations

import reflex as rx


class TemplatesState(rx.State):
    @rx.event
    async def load(self):
        return None
