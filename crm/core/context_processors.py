from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .menu import menu


def shell(request: HttpRequest) -> dict[str, Any]:
    """The menu for the shell; evaluated lazily so that partial responses pay nothing for it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"menu_nodes": lambda: menu.visible(user)}
