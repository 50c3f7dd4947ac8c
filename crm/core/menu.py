"""The one menu registry. Apps add nodes in their ``menus.py``; the shell shows what a user may open.

A node lists the permissions that belong to it: holding any of its ``permissions`` shows it, and the
role editor groups every permission under the node it belongs to (``permissions`` + ``extra``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language


@dataclass
class MenuNode:
    key: str
    label: Any
    url_name: str | None = None
    permissions: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    icon: str = "bi-circle"
    order: int = 100
    login_only: bool = False
    badge_url_name: str | None = None  # a count shown beside the node, refreshed without a page reload
    tab_title: Any = None  # the title of the tab it opens, where the label alone is ambiguous (default: the label)
    children: list[MenuNode] = field(default_factory=list)

    @property
    def url(self) -> str | None:
        return reverse(self.url_name) if self.url_name else None

    def allowed(self, user: Any) -> bool:
        if self.login_only:
            return bool(user.is_authenticated)
        return any(user.has_perm(p) for p in self.permissions)

    @property
    def all_permissions(self) -> tuple[str, ...]:
        return self.permissions + self.extra


@dataclass
class VisibleNode:
    node: MenuNode
    children: list[VisibleNode]

    @property
    def key(self) -> str:
        return self.node.key

    @property
    def label(self) -> Any:
        return self.node.label

    @property
    def tab_title(self) -> Any:
        return self.node.tab_title or self.node.label

    @property
    def url(self) -> str | None:
        return self.node.url

    @property
    def icon(self) -> str:
        return self.node.icon

    @property
    def badge_url(self) -> str | None:
        return reverse(self.node.badge_url_name) if self.node.badge_url_name else None


class MenuRegistry:
    def __init__(self) -> None:
        self._roots: list[MenuNode] = []
        self._by_key: dict[str, MenuNode] = {}
        self._rendered: dict[tuple[Any, ...], str] = {}

    def register(self, node: MenuNode, parent: str | None = None) -> MenuNode:
        if node.key in self._by_key:
            raise ValueError(f"menu node {node.key!r} registered twice")
        siblings = self._by_key[parent].children if parent else self._roots
        siblings.append(node)
        siblings.sort(key=lambda n: n.order)
        self._by_key[node.key] = node
        self._rendered.clear()
        for child in list(node.children):
            self._by_key.setdefault(child.key, child)
        return node

    def get(self, key: str) -> MenuNode:
        return self._by_key[key]

    def walk(self) -> list[tuple[MenuNode, int]]:
        out: list[tuple[MenuNode, int]] = []

        def visit(nodes: list[MenuNode], depth: int) -> None:
            for n in nodes:
                out.append((n, depth))
                visit(n.children, depth + 1)

        visit(self._roots, 0)
        return out

    def render(self, user: Any) -> str:
        """The menu's HTML for ``user``. Rendered once per distinct menu (set of visible nodes, language and
        mount point) and then reused: every full page shows it, and it only changes with permissions."""
        nodes = self.visible(user)
        keys: list[str] = []

        def collect(ns: list[VisibleNode]) -> None:
            for n in ns:
                keys.append(n.key)
                collect(n.children)

        collect(nodes)
        cache_key = (tuple(keys), get_language(), get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
        html = self._rendered.get(cache_key)
        if html is None:
            html = render_to_string("core/_menu.html", {"menu_nodes": nodes})
            self._rendered[cache_key] = html
        return mark_safe(html)  # noqa: S308 - our own template's output

    def visible(self, user: Any) -> list[VisibleNode]:
        def visit(nodes: list[MenuNode]) -> list[VisibleNode]:
            shown = []
            for n in nodes:
                kids = visit(n.children)
                if kids or (n.url_name and n.allowed(user)):
                    shown.append(VisibleNode(n, kids))
            return shown

        return visit(self._roots)


menu = MenuRegistry()
