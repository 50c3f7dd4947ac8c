"""Tabs other apps add to a customer's page (客户详细的标签页).

The customer's page belongs to this app, but some of what a club wants to see on it belongs to apps that
come later (消费记录 and 积分 from ``crm.loyalty``). Those apps depend on this one, never the other way round,
so they register their tabs here from their ``AppConfig.ready()``::

    profile_tabs.register("points", _("积分"), "loyalty.view_pointsentry", render_points_tab, order=20)

``render(request, customer)`` returns the tab's HTML. The customer has already been read through the
viewer's data scope by the customer's page (a customer out of scope is 404 before any tab is drawn), and the
tab is shown only to people holding ``permission``. A tab is drawn when it is opened: the page holds a
placeholder that fetches ``customers:customer_tab`` the first time the tab is shown, and the same address
answers the tab's own requests (its next page, with the request's query), so a tab may keep its own
paging without any code here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

#: the tabs the customer's page draws itself
BUILT_IN = frozenset({"basic", "hobbies", "properties", "vehicles", "family", "followups", "history"})
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,29}$")


@dataclass(frozen=True)
class ProfileTab:
    key: str
    label: Any
    permission: str | None
    render: Callable[[HttpRequest, Any], str]
    order: int = 100

    def allowed(self, user: Any) -> bool:
        return self.permission is None or bool(user.has_perm(self.permission))


class ProfileTabRegistry:
    def __init__(self) -> None:
        self._tabs: dict[str, ProfileTab] = {}

    def register(
        self,
        key: str,
        label: Any,
        permission: str | None,
        render: Callable[[HttpRequest, Any], str],
        *,
        order: int = 100,
    ) -> ProfileTab:
        if not _KEY.match(key):
            raise ValueError(f"profile tab key {key!r}: lower-case letters, digits and _ only")
        if key in BUILT_IN or key in self._tabs:
            raise ValueError(f"profile tab {key!r} registered twice")
        tab = ProfileTab(key, label, permission, render, order)
        self._tabs[key] = tab
        return tab

    def unregister(self, key: str) -> None:
        self._tabs.pop(key, None)

    def get(self, key: str) -> ProfileTab | None:
        return self._tabs.get(key)

    def all(self) -> list[ProfileTab]:
        return sorted(self._tabs.values(), key=lambda t: (t.order, t.key))

    def for_user(self, user: Any) -> list[ProfileTab]:
        """The tabs ``user`` may open, in their order."""
        return [t for t in self.all() if t.allowed(user)]


profile_tabs = ProfileTabRegistry()
