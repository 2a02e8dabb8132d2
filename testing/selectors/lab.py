"""Laboratory lists: exceptions, results, corrections."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from testing.models import (
    Result,
    ResultCorrection,
    ResultException,
)


def exceptions_for(laboratory: Any, *, open_only: bool = True) -> QuerySet[ResultException]:
    qs = ResultException.objects.filter(laboratory=laboratory)
    if open_only:
        qs = qs.filter(status="open")
    return qs.order_by("-created_at")


def result_for_lab(laboratory: Any, barcode: str) -> Result:
    result = Result.objects.select_related("tube").filter(tube__barcode=barcode.strip(), laboratory=laboratory).first()
    if result is None:
        raise Http404
    return result


def corrections_for(laboratory: Any) -> QuerySet[ResultCorrection]:
    return (
        ResultCorrection.objects.filter(result__laboratory=laboratory)
        .select_related("result__tube", "requested_by", "decided_by")
        .order_by("-requested_at")
    )

