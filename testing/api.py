"""JSON API of the testing app: the sampler station (also used by the station page and its offline
queue) and laboratory results for machine clients with a bearer token."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, File, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import codes_4xx
from pydantic import BaseModel
from pydantic import Field as PydanticField

from audit.services import Actor
from testing import selectors, services

router = Router(tags=["testing"])


class TubeOut(Schema):
    barcode: str
    count: int
    pool_size: int
    status: str


# The station's schemas are plain pydantic models: a batch of 200 submissions validates 200 items in
# and 200 answers out, and django-ninja's Schema runs a Python root validator (its Django attribute
# getter) on each of them, which cost more CPU than the batch's own work.
class StationAnswer(BaseModel):
    """The answer to one station submission; ``replayed`` marks the stored answer to a retry."""

    code: str = "ok"
    message: str = ""
    barcode: str = ""
    count: int = 0
    pool_size: int = 0
    status: str = ""
    person: str = PydanticField("", description="Masked name of the person sampled")
    sampled_at: str = ""
    green_channel: bool = False
    warnings: list[dict[str, str]] = []
    replayed: bool = False


class ErrorOut(Schema):
    code: str
    message: str


class OpenIn(Schema):
    key: str = Field(..., description="Client idempotency key (8-64 characters)")
    site_id: int
    barcode: str


class SampleIn(Schema):
    key: str
    barcode: str
    code: str = Field("", description="Scanned sampling code")
    id_number: str = Field("", description="Typed ID number (fallback)")
    green_channel: bool = False
    device_at: dt.datetime | None = None


class SealIn(Schema):
    key: str
    barcode: str


class BatchItem(BaseModel):
    kind: Literal["open", "sample", "seal"]
    key: str
    site_id: int | None = None
    barcode: str
    code: str = ""
    id_number: str = ""
    green_channel: bool = False
    device_at: dt.datetime | None = None


class BatchIn(BaseModel):
    items: list[BatchItem] = PydanticField(..., max_length=200)


class BatchItemOut(BaseModel):
    key: str
    status: int
    answer: StationAnswer


class BatchOut(BaseModel):
    results: list[BatchItemOut]


@router.post(
    "/station/tubes", response={200: StationAnswer, codes_4xx: StationAnswer}, summary="Open a new tube at a site"
)
def station_open(request: HttpRequest, payload: OpenIn) -> Any:
    item = BatchItem(kind="open", key=payload.key, site_id=payload.site_id, barcode=payload.barcode)
    return _guarded(request, item)


@router.post(
    "/station/samples", response={200: StationAnswer, codes_4xx: StationAnswer}, summary="Bind a person to an open tube"
)
def station_sample(request: HttpRequest, payload: SampleIn) -> Any:
    item = BatchItem(kind="sample", **payload.dict())
    return _guarded(request, item)


@router.post("/station/seal", response={200: StationAnswer, codes_4xx: StationAnswer}, summary="Seal a tube")
def station_seal(request: HttpRequest, payload: SealIn) -> Any:
    item = BatchItem(kind="seal", key=payload.key, barcode=payload.barcode)
    return _guarded(request, item)


@router.post("/station/batch", response=BatchOut, summary="Several station submissions in order (offline queue)")
def station_batch(request: HttpRequest, payload: BatchIn) -> Any:
    # Set-based: every submission answered as the single endpoints would answer them in this order, in
    # one transaction and a constant number of statements (services.station_batch).
    answers = services.station_batch(
        actor=Actor.from_request(request), items=[item.model_dump() for item in payload.items], now=timezone.now()
    )
    return {
        "results": [
            {"key": item.key, "status": status, "answer": answer}
            for item, (status, answer) in zip(payload.items, answers, strict=True)
        ]
    }


def _guarded(request: HttpRequest, item: BatchItem) -> tuple[int, dict[str, Any]]:
    # A single submission is a batch of one: the set-based path's plain statements cost less CPU and
    # fewer round trips than the one-at-a-time path (services.station_submit), which stays the reference
    # its answers are tested against and settles a race. The clock is read once per submission.
    [answer] = services.station_batch(actor=Actor.from_request(request), items=[item.model_dump()], now=timezone.now())
    return answer


# --- laboratory -------------------------------------------------------------------------------


class ResultRowIn(Schema):
    barcode: str
    result: str = Field(..., description="negative, positive or invalid")


class ResultsIn(Schema):
    batch_ref: str = Field("", description="The laboratory's reference for this batch")
    rows: list[ResultRowIn] = Field(..., max_length=200_000)


class RowFateOut(Schema):
    line: int
    barcode: str
    fate: str
    message: str


class UploadOut(Schema):
    upload_id: int
    counts: dict[str, int]
    rows: list[RowFateOut]


def _upload_out(report: Any) -> UploadOut:
    return UploadOut(
        upload_id=report.upload.pk,
        counts=report.counts,
        rows=[
            RowFateOut(line=r.line, barcode=r.barcode, fate=r.fate, message=str(m))
            for r in report.rows
            for m in [services.lab.fate_message(r.fate)]
        ],
    )


@router.post("/lab/results", response=UploadOut, summary="Upload results per tube (JSON)")
def lab_results(request: HttpRequest, payload: ResultsIn) -> UploadOut:
    lab = selectors.laboratory_of(request.user)
    rows = [(i, r.barcode, r.result) for i, r in enumerate(payload.rows, start=1)]
    report = services.results_ingest(
        actor=Actor.from_request(request),
        laboratory=lab,
        rows=rows,
        filename=payload.batch_ref or "api",
        now=timezone.now(),
    )
    return _upload_out(report)


@router.post("/lab/results/file", response=UploadOut, summary="Upload a results file (.csv or .xlsx)")
def lab_results_file(request: HttpRequest, file: UploadedFile = File(...)) -> UploadOut:  # noqa: B008
    lab = selectors.laboratory_of(request.user)
    data = file.read()
    rows = services.parse_result_file(name=file.name or "", data=data)
    report = services.results_ingest(
        actor=Actor.from_request(request),
        laboratory=lab,
        rows=rows,
        filename=file.name or "upload",
        sha256=hashlib.sha256(data).hexdigest(),
        now=timezone.now(),
    )
    return _upload_out(report)


class CoverageOut(Schema):
    area_id: int
    label: str
    total: int
    covered: int
    exempted: int
    home_pending: int
    left: int


class CoverageTree(Schema):
    node: CoverageOut
    children: list[CoverageOut]


@router.get("/rounds/{round_id}/coverage", response=CoverageTree, summary="Coverage of a node and its children")
def coverage(request: HttpRequest, round_id: int, area_id: int | None = None) -> CoverageTree:
    rnd = selectors.get_round_for_user(request.user, round_id)
    if area_id is None:
        from territory.selectors import area_get

        node = area_get(int(selectors.view_root(request.user, rnd)[-8:]))
    else:
        node = selectors.get_area_in_round_for_user(request.user, rnd, area_id)
    total, children = selectors.coverage_children(rnd, node)
    return CoverageTree(node=CoverageOut(**total.as_dict()), children=[CoverageOut(**c.as_dict()) for c in children])
