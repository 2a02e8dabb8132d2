"""Reads of the venues app."""
