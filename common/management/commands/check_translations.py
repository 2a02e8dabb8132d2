"""Fail when a zh_Hans catalogue has an empty or fuzzy entry: the UI must be Chinese throughout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Check that every zh_Hans catalogue entry is translated."

    def handle(self, *args: Any, **options: Any) -> None:
        missing: list[str] = []
        for po_path in sorted(Path(settings.BASE_DIR).glob("*/locale/zh_Hans/LC_MESSAGES/django.po")):
            for entry in polib.pofile(str(po_path)):
                if entry.obsolete:
                    continue
                if "fuzzy" in entry.flags or not (entry.msgstr or any(entry.msgstr_plural.values())):
                    missing.append(f"{po_path.parent.parent.parent.parent.name}: {entry.msgid!r}")
        if missing:
            raise CommandError("untranslated entries:\n" + "\n".join(missing))
        self.stdout.write("all catalogues translated")
