"""Framework-light helpers shared by every app: ID numbers, phones, masking, spreadsheet safety, errors."""
