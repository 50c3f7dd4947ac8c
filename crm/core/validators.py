"""Validators for Chinese mobile numbers and 居民身份证 numbers (GB 11643, MOD 11-2)."""

from __future__ import annotations

import re
from datetime import date
from operator import mul

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


_ZERO = ord("0") * sum(ID_WEIGHTS)


def id_check_digit(first17: str) -> str:
    """The MOD 11-2 check character of the first 17 digits (arithmetic on the code points: imports check
    hundreds of thousands of these)."""
    return ID_CHECK[(sum(map(mul, first17.encode(), ID_WEIGHTS)) - _ZERO) % 11]


_MOBILE_NOISE = re.compile(r"[\s\-()（）]")


def normalize_mobile(value: str) -> str:
    """A mobile as stored: without spaces, dashes or brackets, and without the country code written before it
    (+86, 0086, 86, (+86))."""
    digits = _MOBILE_NOISE.sub("", value or "")
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix) :]
    return digits


def validate_mobile(value: str) -> None:
    if not MOBILE_RE.match(normalize_mobile(value)):
        raise ValidationError(_("手机号应为 11 位数字,以 13–19 开头。"), code="mobile")


def validate_id_number(value: str) -> None:
    value = (value or "").strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise ValidationError(_("身份证号应为 18 位,最后一位可以是数字或 X。"), code="id_format")
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(_("身份证号中的出生日期无效。"), code="id_birthday") from None
    if id_check_digit(value[:17]) != value[17]:
        raise ValidationError(_("身份证号校验位不正确,请核对。"), code="id_check")
