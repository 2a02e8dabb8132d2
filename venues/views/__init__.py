"""Pages of the venues app: staff and managers (manage), the poster scan (scan), residents (resident)."""
