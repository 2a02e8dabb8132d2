"""The roster columns, their Chinese headers and accepted aliases, and cell conversions."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from people.models import Category
from territory.models import AreaKind


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the Chinese header written in templates and exports
    aliases: tuple[str, ...] = ()
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", ("name", "fullname"), required=True),
    Column("id_number", "身份证号", ("idnumber", "id", "身份证", "身份证号码", "公民身份号码"), required=True),
    Column("phone", "手机号", ("phone", "mobile", "手机", "手机号码", "联系电话")),
    Column("grid", "网格", ("grid", "所属网格"), required=True),
    Column("estate", "小区", ("estate", "compound")),
    Column("building", "楼栋", ("building", "楼号")),
    Column("unit", "单元", ("unit",)),
    Column("household", "户号", ("household", "householdno", "room", "门牌号", "房号")),
    Column("category", "人员类别", ("category", "类别")),
    Column("vaccine_doses", "疫苗剂次", ("vaccinedoses", "doses", "疫苗接种剂次")),
    Column("is_elderly_alone", "独居老人", ("elderlyalone", "elderlylivingalone")),
    Column("is_mobility_impaired", "行动不便", ("mobilityimpaired", "limitedmobility")),
    Column("has_no_smartphone", "无智能手机", ("nosmartphone",)),
)
BY_KEY = {c.key: c for c in COLUMNS}

# Levels below the grid, outermost first, with the kind of area each becomes.
PLACE_LEVELS: tuple[tuple[str, str], ...] = (
    ("estate", AreaKind.ESTATE),
    ("building", AreaKind.BUILDING),
    ("unit", AreaKind.UNIT),
    ("household", AreaKind.HOUSEHOLD),
)
FLAG_KEYS = ("is_elderly_alone", "is_mobility_impaired", "has_no_smartphone")

# The short forms communities write; the export writes the first one so a file can be re-imported.
CATEGORY_WORDS: dict[str, str] = {
    "常住": Category.RESIDENT,
    "常住人口": Category.RESIDENT,
    "户籍": Category.RESIDENT,
    "流动": Category.FLOATING,
    "流动人口": Category.FLOATING,
    "学生": Category.STUDENT,
    "教职工": Category.STAFF,
    "教师": Category.STAFF,
    "后勤": Category.LOGISTICS,
    "后勤人员": Category.LOGISTICS,
    **{c.value: c.value for c in Category},
}
CATEGORY_OUT: dict[str, str] = {Category.RESIDENT: "常住", Category.FLOATING: "流动", Category.STUDENT: "学生",
                Category.STAFF: "教职工", Category.LOGISTICS: "后勤"}

_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "有"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗", "无", ""}

_HEADER_NOISE = re.compile(r"[\s*＊_\-:：()（）]+")


def normalize_header(value: Any) -> str:
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    return _HEADER_NOISE.sub("", text).lower()


_LOOKUP: dict[str, str] = {}
for _c in COLUMNS:
    for _h in (_c.header, _c.key, *_c.aliases):
        _LOOKUP[normalize_header(_h)] = _c.key


def column_for_header(value: Any) -> str | None:
    return _LOOKUP.get(normalize_header(value))


def cell_text(value: Any) -> str:
    """A cell as text: numbers without a trailing ".0", strings stripped, empty for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value).strip()


def parse_flag(value: Any) -> bool | None:
    """True/False for the accepted spellings (是/否/Y/N/1/0/√), None when not understood."""
    text = unicodedata.normalize("NFKC", cell_text(value)).lower()
    if text in _TRUE or value == "√":
        return True
    if text in _FALSE:
        return False
    return None


def parse_category(value: Any) -> str | None:
    text = cell_text(value)
    if not text:
        return Category.RESIDENT
    return CATEGORY_WORDS.get(text) or CATEGORY_WORDS.get(text.lower())


def parse_doses(value: Any) -> int | None:
    text = unicodedata.normalize("NFKC", cell_text(value))
    if not text:
        return 0
    return int(text) if text.isdigit() else None
