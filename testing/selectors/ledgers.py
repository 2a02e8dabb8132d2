"""Rows of the ledgers (台账), read in chunks for streaming exports."""

from __future__ import annotations

from typing import Any

from testing.models import Result, Round, RoundStatus, Sample, Site
from testing.selectors.coverage import CoverageRow, coverage_by_grid


def site_ledger_rows(site: Site) -> Any:
    """Tubes of the site with their members, in the order they were filled; ``area_path`` is the
    person's home at sampling time (for the reveal scope), then the sampler's name and username."""
    return (
        Sample.objects.filter(tube__site=site)
        .order_by("tube__opened_at", "tube_id", "sampled_at")
        .values_list(
            "tube__barcode",
            "tube__status",
            "tube__sealed_at",
            "person__name",
            "person__id_number",
            "area_path",
            "sampled_at",
            "sampler__display_name",
            "sampler__username",
            "is_green_channel",
            "is_repeat_in_round",
            "is_clock_skewed",
            "device_at",
        )
        .iterator(chunk_size=2000)
    )


def lab_ledger_rows(laboratory: Any) -> Any:
    return (
        Result.objects.filter(laboratory=laboratory)
        .order_by("received_at", "id")
        .values_list(
            "tube__barcode",
            "tube__pool_size",
            "tube__member_count",
            "value",
            "received_at",
            "corrected_at",
            "tube__round__name",
        )
        .iterator(chunk_size=2000)
    )


def round_ledger_rows(rnd: Round) -> list[CoverageRow]:
    """Coverage per level-1 grid: live while the round runs, the figures kept at closing once closed."""
    kept = rnd.final_figures.get("by_grid") if rnd.status == RoundStatus.CLOSED else None
    if kept is None:
        return coverage_by_grid(rnd)
    return [
        CoverageRow(g["path"], g["label"], g["area_id"], g["total"], g["covered"], g["exempted"], g["home_pending"])
        for g in kept
    ]
