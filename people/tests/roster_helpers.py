"""Building roster workbooks in tests."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

HEADERS = ["姓名", "身份证号", "手机号", "网格", "小区", "楼栋", "单元", "户号", "人员类别", "疫苗剂次", "独居老人",
           "行动不便", "无智能手机"]


def xlsx_bytes(rows: list[list[Any]], headers: list[str] | None = None, title_rows: int = 0) -> bytes:
    wb = Workbook()
    ws = wb.active
    for _ in range(title_rows):
        ws.append(["接庄社区居民花名册"])
    ws.append(headers or HEADERS)
    for row in rows:
        ws.append(row)
    # Cells must stay text even when they look like formulas (as a user who typed them as text).
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(rows: list[list[Any]], **kwargs: Any) -> SimpleUploadedFile:
    return SimpleUploadedFile("roster.xlsx", xlsx_bytes(rows, **kwargs),
                              content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
