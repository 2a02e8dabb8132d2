"""The empty template of a roster import, built in memory (its error report is
``common.spreadsheet.import_error_report``, shared with the shop import)."""

from __future__ import annotations

import io

from common.spreadsheet import xlsx_cell
from people.roster.columns import COLUMNS

# A second sheet explains the columns; no example row, so a template sent back unfilled imports nothing.
_NOTES = [
    ["姓名", "必填"],
    ["身份证号", "必填，18位；请把该列设为“文本”格式，否则 Excel 会丢掉后几位"],
    ["手机号", "11位手机号，可空"],
    ["网格", "必填，您辖区内的一级或二级网格名称；重名时写成“社区/网格”"],
    ["小区、楼栋、单元、户号", "可空；不存在的会在该网格下自动建立"],
    ["人员类别", "常住、流动、学生、教职工、后勤；空为常住"],
    ["疫苗剂次", "0 到 10 的整数；空为 0"],
    ["独居老人、行动不便、无智能手机", "是/否（也可写 Y/N、1/0、√）；空为否"],
    ["重复导入", "同一文件再次导入不会改变任何数据；身份证号已登记的人员按文件内容更新"],
]


def template_workbook() -> bytes:
    """The headers communities fill in (姓名, 身份证号 and 网格 required), and a sheet of notes."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("人员名单")
    sheet.append([xlsx_cell(sheet, c.header) for c in COLUMNS])
    notes = workbook.create_sheet("填写说明")
    for row in _NOTES:
        notes.append([xlsx_cell(notes, v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
