"""Build venues/fonts/FangyiPosterSans.ttf, the subset of Droid Sans Fallback the venue poster embeds.

Run once, by hand, when the subset must change (it is committed, so nothing runs at install time):

    apt-get install fonts-droid-fallback          # Apache-2.0, Google's Android CJK fallback font
    python -m venv /tmp/ft && /tmp/ft/bin/pip install fonttools==4.55.3
    /tmp/ft/bin/python scripts/poster_font_subset.py

The subset keeps printable ASCII, Latin-1, general and CJK punctuation, full-width forms and every
character of GB 2312 (its 6,763 hanzi and its symbol rows): what Chinese shop names and addresses
are written in. A character outside it (a rare hanzi of GBK or beyond) is drawn by the poster with
the reader's STSong-Light instead; see venues/poster.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

SOURCE = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
TARGET = Path(__file__).resolve().parent.parent / "venues" / "fonts" / "FangyiPosterSans.ttf"


def gb2312() -> set[int]:
    chars: set[int] = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.update(map(ord, bytes([high, low]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return chars


def codepoints() -> set[int]:
    ranges = [(0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F), (0x3000, 0x303F), (0xFF00, 0xFFEF)]
    points = {c for low, high in ranges for c in range(low, high + 1)}
    return points | gb2312()


def main() -> int:
    options = subset.Options()
    options.layout_features = []  # no shaping needed: the poster draws plain horizontal text
    options.hinting = False
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.notdef_outline = True
    font = TTFont(str(SOURCE))
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints()))
    subsetter.subset(font)
    font["name"].setName("Fangyi Poster Sans (subset of Droid Sans Fallback)", 4, 3, 1, 0x409)
    TARGET.parent.mkdir(exist_ok=True)
    font.save(str(TARGET))
    print(f"{TARGET}: {TARGET.stat().st_size:,} bytes, {len(font.getBestCmap()):,} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
