from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .menu import menu


def shell(request: HttpRequest) -> dict[str, Any]:
    """The menu of the shell; evaluated lazily so that partial (htmx) responses pay nothing for it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"menu_html": lambda: menu.render(user)}
