"""Demo data parts: each app adds what it needs to the demo organisation (``manage.py demo``), in order,
after the organisation itself exists."""

from __future__ import annotations

from collections.abc import Callable


class DemoParts:
    def __init__(self) -> None:
        self._parts: list[tuple[int, Callable[[], dict[str, int]]]] = []

    def register(self, load: Callable[[], dict[str, int]], *, order: int = 100) -> None:
        self._parts.append((order, load))

    def load_all(self) -> dict[str, int]:
        created: dict[str, int] = {}
        for _order, load in sorted(self._parts, key=lambda p: p[0]):
            for key, n in load().items():
                created[key] = created.get(key, 0) + n
        return created


demo_parts = DemoParts()
