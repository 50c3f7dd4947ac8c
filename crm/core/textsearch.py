"""Search keys for Chinese names, computed when a record is written.

- ``initials`` / ``pinyin``: "zw" and "zhangwei" find 张伟 (btree prefix search, any database).
- ``grams``: every character and every pair of neighbouring characters of the name, space-separated and
  framed by spaces (" 张 伟 明 张伟 伟明 "). A 1–2 character search is an exact token match: PostgreSQL
  answers it from a GIN index over the tokens, and no trigram index can serve it. Longer searches use the
  name itself (a trigram index on PostgreSQL).
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.db.models import Q
from pypinyin import Style, lazy_pinyin

_NON_WORD = re.compile(r"[\s·•.\-_]+")


@lru_cache(maxsize=65536)
def _syllables(name: str) -> tuple[str, ...]:
    return tuple(s.lower() for s in lazy_pinyin(name, style=Style.NORMAL, errors="ignore") if s.isascii())


def pinyin_keys(name: str) -> tuple[str, str]:
    """``(initials, full pinyin)`` of a name: ("zw", "zhangwei") for 张伟."""
    syllables = _syllables(_NON_WORD.sub("", name or ""))
    return "".join(s[0] for s in syllables if s)[:32], "".join(syllables)[:100]


def grams(name: str) -> str:
    chars = _NON_WORD.sub("", name or "")[:30]
    tokens = list(dict.fromkeys([*chars, *(chars[i : i + 2] for i in range(len(chars) - 1))]))
    return f" {' '.join(tokens)} " if tokens else ""


@lru_cache(maxsize=65536)
def _search_keys(name: str) -> tuple[str, str, str]:
    initials, full = pinyin_keys(name)
    return initials, full, grams(name)


def search_keys(name: str) -> dict[str, str]:
    """The stored search columns of a name (``name_initials``, ``name_pinyin``, ``name_grams``)."""
    initials, full, name_grams = _search_keys(name or "")
    return {"name_initials": initials, "name_pinyin": full, "name_grams": name_grams}


def name_q(term: str, prefix: str = "") -> Q:
    """Records whose name matches ``term``: letters match the pinyin (initials or full) from the start,
    1–2 characters match a stored gram, longer text matches anywhere in the name."""
    term = _NON_WORD.sub("", term or "")
    if not term:
        return Q()
    if term.isascii() and term.isalpha():
        t = term.lower()
        return Q(**{f"{prefix}name_initials__startswith": t}) | Q(**{f"{prefix}name_pinyin__startswith": t})
    if len(term) <= 2:
        return Q(**{f"{prefix}name_grams__contains": f" {term} "})
    return Q(**{f"{prefix}name__contains": term})
