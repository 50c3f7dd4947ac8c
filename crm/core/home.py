"""Panels of the home page. Apps register what a person should see first (their to-do, this week's
follow-ups…); the home page shows the panels the person may see, in order. Like the menu, one registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string


@dataclass(frozen=True)
class HomePanel:
    key: str
    template: str
    context: Callable[[Any], dict[str, Any] | None]  # None: nothing to show to this person
    order: int = 100
    permission: str | None = None

    def render(self, request: Any) -> str | None:
        user = request.user
        if self.permission and not user.has_perm(self.permission):
            return None
        data = self.context(user)
        if data is None:
            return None
        return render_to_string(self.template, data, request=request)


class HomePanels:
    def __init__(self) -> None:
        self._panels: dict[str, HomePanel] = {}

    def register(self, panel: HomePanel) -> HomePanel:
        if panel.key in self._panels:
            raise ValueError(f"home panel {panel.key!r} registered twice")
        self._panels[panel.key] = panel
        return panel

    def render(self, request: Any) -> list[str]:
        panels = sorted(self._panels.values(), key=lambda p: p.order)
        return [html for p in panels if (html := p.render(request)) is not None]


home_panels = HomePanels()
