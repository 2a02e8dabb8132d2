"""Compile every .po file to .mo with polib, so no GNU gettext is needed on the machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile the translation catalogues (.po → .mo) without GNU gettext."

    def handle(self, *args: Any, **options: Any) -> None:
        base = Path(settings.BASE_DIR)
        count = 0
        pattern = "locale/*/LC_MESSAGES/*.po"
        catalogues = sorted(base.glob(f"*/{pattern}")) + sorted(base.glob(pattern))
        for po_path in catalogues:
            if ".venv" in po_path.parts:
                continue
            po = polib.pofile(str(po_path))
            po.save_as_mofile(str(po_path.with_suffix(".mo")))
            count += 1
        self.stdout.write(f"compiled {count} catalogue(s)")
