"""Search keys for Chinese names, computed when a record is written.

- ``initials`` / ``pinyin``: "zw" and "zhangwei" find 张伟 (btree prefix search, any database).
- ``grams``: every character and every pair of neighbouring characters of the name, space-separated and
  framed by spaces (" 张 伟 明 张伟 伟明 "). A 1–2 character search is an exact token match (``% 伟明 %``
  is a word of its own to PostgreSQL's trigram index, which cannot serve a 2-character LIKE on the name).
  Longer searches use the name itself (a trigram index on PostgreSQL).
- On SQLite, which has no index for ``LIKE '%…%'``, a model with ``search_fts = True`` keeps these tokens
  and its mobile's 4-digit runs in an FTS5 table (customers migration 0006); searches become token lookups.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin

_NON_WORD = re.compile(r"[\s·•.\-_]+")
_PUNCTUATION = re.compile(r"[\W_]+")  # every non-word character: what a name search also tries without


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


def _fts_table(model: Any) -> str | None:
    """The FTS5 token index of ``model`` on SQLite (a model opts in with ``search_fts = True`` and a
    migration creating ``<table>_fts``); ``None`` elsewhere: PostgreSQL's trigram indexes serve LIKE."""
    if model is None or not getattr(model, "search_fts", False) or connection.vendor != "sqlite":
        return None
    return f"{model._meta.db_table}_fts"


def _tokens_q(table: str, tokens: list[str]) -> Q:
    expression = " AND ".join(f'"{t}"' for t in dict.fromkeys(tokens))
    sql = f"SELECT rowid FROM {table} WHERE {table} MATCH %s"  # noqa: S608
    return Q(pk__in=RawSQL(sql, (expression,)))  # noqa: S611 - the table is ours, the terms are bound


_WIDE_DIGITS = str.maketrans("０１２３４５６７８９＋（）－", "0123456789+()-")


def search_name(typed: str) -> str:
    """A name condition as typed; refused (a sentence) when it holds nothing to look for, only punctuation."""
    if typed.strip() and not _PUNCTUATION.sub("", typed):
        raise ValidationError(_("请输入姓名中的字或拼音。"))
    return typed


def search_mobile(typed: str) -> str:
    """A mobile condition as pasted from a card or a phone: full-width digits, spaces, dashes, brackets and a
    leading +86 aside; refused unless 4 to 11 digits are left."""
    value = re.sub(r"[\s\-()]", "", (typed or "").translate(_WIDE_DIGITS))
    if value.startswith("+86"):
        value = value[3:]
    if value and (not value.isdigit() or not 4 <= len(value) <= 11):
        raise ValidationError(_("请输入手机号中连续的至少 4 位数字。"))
    return value


def name_words(typed: str) -> str:
    """What a name search looks for in ``typed``: the characters without spaces, dots and dashes ("" for none)."""
    return _NON_WORD.sub("", (typed or "").replace('"', ""))


def name_q(term: str, model: Any = None) -> Q:
    """Records whose name matches ``term``: letters match the pinyin (initials or full) from the start,
    1–2 characters match a stored gram, longer text matches anywhere in the name. Typed with punctuation that
    the name may not hold (王晓明!), it is also looked for without it."""
    typed = (term or "").replace('"', "").strip()
    words = name_words(typed)
    plain = _PUNCTUATION.sub("", typed)
    if not words:
        return Q()
    q = _name_q(words, typed, model)
    return q | _name_q(plain, plain, model) if plain and plain != words else q


def _name_q(term: str, typed: str, model: Any) -> Q:
    if term.isascii() and term.isalpha():
        t = term.lower()
        return Q(name_initials__startswith=t) | Q(name_pinyin__startswith=t)
    table = _fts_table(model) if term.isalnum() else None
    if len(term) <= 2:
        return _tokens_q(table, [term]) if table else Q(name_grams__contains=f" {term} ")
    # as typed, or without the spaces and dots typed between the characters (王 晓明 finds 王晓明)
    text = Q(name__contains=typed) | Q(name__contains=term) if typed != term else Q(name__contains=typed)
    if table:  # every pair of the term is a token of the name; LIKE then checks the order on the few found
        return _tokens_q(table, [term[i : i + 2] for i in range(len(term) - 1)]) & text
    return text


def digits_q(digits: str, model: Any = None, field: str = "mobile") -> Q:
    """Records whose mobile holds ``digits`` (4 or more) anywhere."""
    table = _fts_table(model) if field == "mobile" and digits.isdigit() and len(digits) >= 4 else None
    if table is None:
        return Q(**{f"{field}__contains": digits})
    q = _tokens_q(table, [digits[:4], digits[-4:]])
    return q & Q(**{f"{field}__contains": digits}) if len(digits) > 4 else q
