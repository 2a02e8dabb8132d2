"""The A4 poster of an entrance's code (场所码海报), drawn with reportlab.

Text goes through ``drawString`` (plain text, never reportlab's Paragraph markup), so a venue
name such as ``<b onmouseover=…>`` is printed literally and cannot alter the document. The QR code
is drawn as vector squares from segno's matrix, so it stays sharp at any print size. Chinese text
uses the Adobe CID font STSong-Light, which every PDF reader supplies; nothing is embedded.
"""

from __future__ import annotations

import datetime as dt
import io

import segno
from reportlab.lib.colors import HexColor, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

INSTRUCTIONS = (
    "1. 使用手机相机或微信、支付宝扫描上方二维码；",
    "2. 首次使用请用手机号验证码登录，可为无手机的同行人员一并登记；",
    "3. 向场所工作人员出示核验页面，红码禁止、黄码限制、绿码通行。",
)


def _wrap(text: str, size: float, width: float) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if pdfmetrics.stringWidth(line + ch, FONT, size) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    return [*lines, line] if line else lines


def _centred(c: canvas.Canvas, text: str, y: float, size: float, width: float) -> float:
    c.setFont(FONT, size)
    for line in _wrap(text, size, width):
        c.drawCentredString(A4[0] / 2, y, line)
        y -= size * 1.3
    return y


def render_poster(
    *, url: str, venue_name: str, address: str, entrance_name: str, code_number: str, generated_on: dt.date
) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=True)
    c.setTitle(f"场所码 {code_number}")
    page_w, page_h = A4
    inner = page_w - 40 * mm

    c.setFillColor(HexColor("#0a7d3b"))
    c.rect(0, page_h - 40 * mm, page_w, 40 * mm, stroke=0, fill=1)
    c.setFillColor(white)
    c.setFont(FONT, 40)
    c.drawCentredString(page_w / 2, page_h - 22 * mm, "场 所 码")
    c.setFont(FONT, 24)
    c.drawCentredString(page_w / 2, page_h - 34 * mm, "逢进必扫  ·  扫码登记")

    c.setFillColor(black)
    y = _centred(c, venue_name, page_h - 56 * mm, 26, inner)
    y = _centred(c, f"{entrance_name}", y - 2 * mm, 16, inner)

    qr = segno.make(url, error="m")
    rows = list(qr.matrix_iter(scale=1, border=4))
    side = 120 * mm
    module = side / len(rows)
    left, top = (page_w - side) / 2, y - 4 * mm
    c.setFillColor(white)
    c.rect(left, top - side, side, side, stroke=0, fill=1)
    c.setFillColor(black)
    for r, row in enumerate(rows):
        for col, dark in enumerate(row):
            if dark:
                # A hair of overlap so renderers leave no seams between modules.
                c.rect(left + col * module, top - (r + 1) * module, module + 0.05, module + 0.05, stroke=0, fill=1)
    y = top - side - 10 * mm

    y = _centred(c, f"地址：{address}", y, 14, inner)
    c.setFont(FONT, 12)
    c.drawCentredString(page_w / 2, y - 2 * mm, f"编号：{code_number}    生成日期：{generated_on:%Y-%m-%d}")
    y -= 14 * mm
    c.setFont(FONT, 13)
    for line in INSTRUCTIONS:
        for part in _wrap(line, 13, inner):
            c.drawString(20 * mm, y, part)
            y -= 7 * mm
    c.setFont(FONT, 10)
    c.drawCentredString(page_w / 2, 12 * mm, "如二维码无法使用，请联系所在社区更换新码。旧码作废后将无法登记。")
    c.showPage()
    c.save()
    return buf.getvalue()
