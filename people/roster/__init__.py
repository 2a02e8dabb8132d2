"""Roster files: import of residents from .xlsx (Chinese headers) and export as .xlsx or .csv.

The file format is Chinese whatever the interface language, because the rosters that communities
already keep are; the reasons shown to the user go through translation like any other text.
"""

from people.roster.exporting import ExportFile, people_export
from people.roster.importing import ImportReport, RowError, roster_import

__all__ = ["ExportFile", "ImportReport", "RowError", "people_export", "roster_import"]
