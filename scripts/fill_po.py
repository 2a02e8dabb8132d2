"""Fill empty zh_Hans entries of the app catalogues from a JSON dictionary {msgid: msgstr}.

Usage: python scripts/fill_po.py translations.json [app ...]
Plural entries take a list [singular, plural] or a single string for both (Chinese has no plural).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    table = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    apps = sys.argv[2:]
    paths = [ROOT / a / "locale/zh_Hans/LC_MESSAGES/django.po" for a in apps] if apps else sorted(
        ROOT.glob("*/locale/zh_Hans/LC_MESSAGES/django.po")
    )
    missing = set()
    for path in paths:
        po = polib.pofile(str(path))
        po.metadata["Language"] = "zh_Hans"
        po.metadata["Plural-Forms"] = "nplurals=1; plural=0;"
        for entry in po:
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
                entry.msgstr = ""
                entry.msgstr_plural = {k: "" for k in entry.msgstr_plural}
            value = table.get(entry.msgid)
            if entry.msgid_plural:
                if not entry.msgstr_plural.get(0):
                    if value is None:
                        missing.add(entry.msgid)
                        continue
                    entry.msgstr_plural = {0: value[0] if isinstance(value, list) else value}
            elif not entry.msgstr:
                if value is None:
                    missing.add(entry.msgid)
                    continue
                entry.msgstr = value
        po.save(str(path))
    for m in sorted(missing):
        print("MISSING:", json.dumps(m, ensure_ascii=False))


if __name__ == "__main__":
    main()
