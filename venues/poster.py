"""The A4 poster of an entrance's code (场所码海报), drawn with reportlab.

Text goes through ``drawString`` (plain text, never reportlab's Paragraph markup), so a venue
name such as ``<b onmouseover=…>`` is printed literally and cannot alter the document. The QR code
is drawn as vector squares from segno's matrix, so it stays sharp at any print size.

Fonts. Chinese text is drawn with an embedded font, ``fonts/FangyiPosterSans.ttf``: a subset of
Droid Sans Fallback (Apache-2.0, Debian's fonts-droid-fallback) holding CJK punctuation, full-width
forms and all of GB 2312, about 1 MB in the repository; reportlab embeds only the glyphs a poster
uses (some 17 KB per PDF). Digits and Latin letters, which that font lacks, are drawn in Helvetica,
one of the 14 standard fonts that every PDF reader must supply.

The trade. It used to be the Adobe CID font STSong-Light, which is never embedded: a reader is
expected to bring it, and Acrobat does only with its Asian font pack, while pdfium (Chrome's and
Android's viewer) and poppler substitute a system CJK font if the machine has one and otherwise
draw nothing: on a Linux print station without CJK fonts the poster came out with the QR code and
not a word of Chinese (test_poster.py). The cost is 1 MB in the repository. A character outside the
subset (a rare hanzi of GBK or beyond, in a shop's name) is still drawn with STSong-Light, so it
prints wherever that font is supplied; ``scripts/poster_font_subset.py`` rebuilds the subset. Noto
Sans CJK would cover everything but is 16-20 MB per weight, and no well-kept PyPI package ships a
CJK font of reasonable size.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import segno
from reportlab.lib.colors import HexColor, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT = "FangyiPosterSans"
FALLBACK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"  # one of the 14 standard fonts every PDF reader must supply
pdfmetrics.registerFont(TTFont(FONT, str(Path(__file__).with_name("fonts") / "FangyiPosterSans.ttf")))
pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
_COVERED = frozenset(pdfmetrics.getFont(FONT).face.charToGlyph)

INSTRUCTIONS = (
    "1. 使用手机相机或微信、支付宝扫描上方二维码；",
    "2. 首次使用请用手机号验证码登录，可为无手机的同行人员一并登记；",
    "3. 向场所工作人员出示核验页面，红码禁止、黄码限制、绿码通行。",
)


def _font_for(ch: str) -> str:
    if ord(ch) < 0x2000:
        try:
            ch.encode("cp1252")  # the standard fonts' WinAnsi encoding
            return LATIN_FONT
        except UnicodeEncodeError:
            pass
    return FONT if ord(ch) in _COVERED else FALLBACK_FONT


def _runs(text: str) -> list[tuple[str, str]]:
    """``text`` cut into (font, run): Latin in Helvetica, CJK in the embedded font, the rest fallen back."""
    runs: list[tuple[str, str]] = []
    for ch in text:
        font = _font_for(ch)
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + ch)
        else:
            runs.append((font, ch))
    return runs


def _width(text: str, size: float) -> float:
    return sum(pdfmetrics.stringWidth(run, font, size) for font, run in _runs(text))


def _draw(c: canvas.Canvas, x: float, y: float, text: str, size: float) -> None:
    for font, run in _runs(text):
        c.setFont(font, size)
        c.drawString(x, y, run)
        x += pdfmetrics.stringWidth(run, font, size)


def _draw_centred(c: canvas.Canvas, y: float, text: str, size: float) -> None:
    _draw(c, (A4[0] - _width(text, size)) / 2, y, text, size)


def _wrap(text: str, size: float, width: float) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if _width(line + ch, size) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    return [*lines, line] if line else lines


def _centred(c: canvas.Canvas, text: str, y: float, size: float, width: float) -> float:
    for line in _wrap(text, size, width):
        _draw_centred(c, y, line, size)
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
    _draw_centred(c, page_h - 22 * mm, "场 所 码", 40)
    _draw_centred(c, page_h - 34 * mm, "逢进必扫  ·  扫码登记", 24)

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
    _draw_centred(c, y - 2 * mm, f"编号：{code_number}    生成日期：{generated_on:%Y-%m-%d}", 12)
    y -= 14 * mm
    for line in INSTRUCTIONS:
        for part in _wrap(line, 13, inner):
            _draw(c, 20 * mm, y, part, 13)
            y -= 7 * mm
    _draw_centred(c, 12 * mm, "如二维码无法使用，请联系所在社区更换新码。旧码作废后将无法登记。", 10)
    c.showPage()
    c.save()
    return buf.getvalue()
