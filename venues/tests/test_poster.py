"""The poster's text prints in any PDF reader: its fonts are embedded, not left to the reader."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from pypdf import PdfReader

from venues.poster import render_poster


def _poster(name: str) -> bytes:
    return render_poster(
        url="https://fangyi.example/v/token/", venue_name=name, address="济宁高新区崇文大道1号", entrance_name="正门",
        code_number="000001-01-1", generated_on=dt.date(2022, 4, 20),
    )  # fmt: skip


def _fonts(pdf: bytes) -> dict[str, Any]:
    resources = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    out = {}
    for ref in resources.values():
        font = ref.get_object()
        descriptor = font.get("/FontDescriptor")
        if descriptor is None and "/DescendantFonts" in font:
            descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
        descriptor = descriptor.get_object() if descriptor is not None else {}
        out[str(font["/BaseFont"])] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    return out


def test_every_font_of_a_poster_is_embedded_so_readers_without_asian_font_packs_print_it() -> None:
    pdf = _poster("龙城一号饭店")
    fonts = _fonts(pdf)
    # Helvetica is one of the 14 standard fonts that every reader supplies; everything else is embedded.
    assert fonts.pop("/Helvetica") is False
    assert fonts and all(fonts.values()), fonts
    text = "".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())  # runs of fonts break lines
    for words in ("场所码", "逢进必扫", "龙城一号饭店", "崇文大道1号", "000001-01-1", "2022-04-20", "红码禁止"):
        assert words in text
    assert len(pdf) < 60_000  # the glyphs used, not the whole font


def test_a_character_outside_the_embedded_subset_falls_back_to_the_readers_song_font() -> None:
    fonts = _fonts(_poster("堃喆小吃"))  # hanzi of GBK, not of GB 2312
    assert "/STSong-Light" in fonts and not fonts["/STSong-Light"]
    assert sum(fonts.values()) >= 1  # the rest of the poster still embedded


def test_the_venue_name_shows_when_rendered_by_pdfium() -> None:
    """pdfium (Chrome's and Android's PDF viewer) draws nothing for a non-embedded CJK font on a machine
    without CJK fonts; the embedded glyphs show whatever the machine has."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(_poster("龙城一号饭店"))
    try:
        image = doc[0].render(scale=1).to_pil().convert("L")
    finally:
        doc.close()
    width, height = image.size
    band = image.crop((0, int(height * 0.16), width, int(height * 0.20)))  # the venue name's line
    dark = sum(band.histogram()[:128])
    assert dark > 300, dark
