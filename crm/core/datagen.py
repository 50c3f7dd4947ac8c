"""Synthetic people per the domain research (§6): weighted surnames, real mobile prefixes, valid ID numbers.

Seeded and deterministic: ``People(seed)`` yields the same names and numbers on every machine.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from .validators import id_check_digit

# 公安部 2007 shares (%) for the top surnames, then a tail at about 1.7 → 0.8, then ~80 more.
_TOP = [
    ("王", 7.25),
    ("李", 7.19),
    ("张", 6.83),
    ("刘", 5.38),
    ("陈", 4.53),
    ("杨", 3.08),
    ("赵", 2.29),
    ("黄", 2.23),
    ("周", 2.12),
    ("吴", 2.05),
]
_MID = "徐孙马朱胡郭何高林罗郑梁"
_REST = (
    "谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹"
    "薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
SURNAMES: list[tuple[str, float]] = (
    _TOP + [(s, 1.7 - i * (0.9 / (len(_MID) - 1))) for i, s in enumerate(_MID)] + [(s, 0.35) for s in _REST]
)
GIVEN_MALE = [
    "伟",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "杰",
    "涛",
    "明",
    "超",
    "刚",
    "平",
    "辉",
    "鹏",
    "华",
    "飞",
    "鑫",
    "波",
    "斌",
    "宇",
    "浩",
    "凯",
    "健",
    "俊",
    "帆",
    "建国",
    "建华",
    "志强",
    "志刚",
    "国庆",
    "海涛",
    "晓东",
    "文博",
    "子轩",
    "宏伟",
    "振华",
    "永强",
    "建军",
    "家豪",
    "天翼",
]
GIVEN_FEMALE = [
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "艳",
    "娟",
    "霞",
    "燕",
    "玲",
    "婷",
    "雪",
    "琳",
    "颖",
    "倩",
    "洁",
    "慧",
    "红",
    "梅",
    "莉",
    "秀英",
    "桂英",
    "晓燕",
    "丽娟",
    "雅琴",
    "欣怡",
    "诗涵",
    "佳怡",
    "雨婷",
    "梦瑶",
]
MOBILE_PREFIXES = (
    [str(p) for p in range(130, 140)]
    + ["145", "147", "150", "151", "152", "153", "155", "156", "157", "158", "159"]
    + ["180", "181", "182", "185", "186", "187", "188", "189", "183", "184", "173", "176", "177"]
)
# Shanghai districts (city configurable later) with their 6-digit area codes and weights.
DISTRICTS = [
    ("浦东", "310115", 0.25),
    ("徐汇", "310104", 0.12),
    ("静安", "310106", 0.12),
    ("闵行", "310112", 0.12),
    ("长宁", "310105", 0.10),
    ("黄浦", "310101", 0.08),
    ("普陀", "310107", 0.07),
    ("杨浦", "310110", 0.07),
    ("虹口", "310109", 0.07),
]


class People:
    def __init__(self, seed: int = 2016) -> None:
        self.rng = random.Random(seed)
        self._mobiles: set[str] = set()
        self._surnames = [s for s, _ in SURNAMES]
        self._weights = [w for _, w in SURNAMES]

    def surname(self) -> str:
        return self.rng.choices(self._surnames, self._weights)[0]

    def gender(self) -> str:
        return "M" if self.rng.random() < 0.75 else "F"

    def name(self, gender: str | None = None) -> str:
        gender = gender or self.gender()
        return self.surname() + self.rng.choice(GIVEN_MALE if gender == "M" else GIVEN_FEMALE)

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self._mobiles:
                self._mobiles.add(number)
                return number

    def birthday(self, as_of: date = date(2016, 1, 1)) -> date:
        age = min(75.0, max(28.0, self.rng.normalvariate(48, 9)))
        return as_of - timedelta(days=int(age * 365.25) + self.rng.randrange(365))

    def id_number(self, birthday: date | None = None, gender: str | None = None) -> str:
        gender = gender or self.gender()
        birthday = birthday or self.birthday()
        area = self.rng.choices([d[1] for d in DISTRICTS], [d[2] for d in DISTRICTS])[0]
        seq = self.rng.randrange(0, 99) * 10 + self.rng.choice((1, 3, 5, 7, 9) if gender == "M" else (0, 2, 4, 6, 8))
        first17 = f"{area}{birthday:%Y%m%d}{seq:03d}"
        return first17 + id_check_digit(first17)
