"""JSON API of the testing app: the sampler station (also used by the station page and its offline
queue) and laboratory results for machine clients with a bearer token."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, File, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import codes_4xx

from audit.services import Actor
from common.errors import DomainError
from testing import health_port, selectors, services
from testing.selectors import tube_view

router = Router(tags=["testing"])


class TubeOut(Schema):
    barcode: str
    count: int
    pool_size: int
    status: str


class StationAnswer(Schema):
    """The answer to one station submission; ``replayed`` marks the stored answer to a retry."""

    code: str = "ok"
    message: str = ""
    barcode: str = ""
    count: int = 0
    pool_size: int = 0
    status: str = ""
    person: str = Field("", description="Masked name of the person sampled")
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


class BatchItem(Schema):
    kind: Literal["open", "sample", "seal"]
    key: str
    site_id: int | None = None
    barcode: str
    code: str = ""
    id_number: str = ""
    green_channel: bool = False
    device_at: dt.datetime | None = None


class BatchIn(Schema):
    items: list[BatchItem] = Field(..., max_length=200)


class BatchItemOut(Schema):
    key: str
    status: int
    answer: StationAnswer


class BatchOut(Schema):
    results: list[BatchItemOut]


def _station(request: HttpRequest, item: BatchItem, now: dt.datetime) -> tuple[int, dict[str, Any]]:
    actor = Actor.from_request(request)
    body = item.dict(exclude={"key"})

    def action() -> dict[str, Any]:
        if item.kind == "open":
            if item.site_id is None:
                raise DomainError("site_required", "site_id is required")
            site = selectors.get_site_for_sampler(request.user, item.site_id)
            return tube_view(services.tube_open(actor=actor, site=site, barcode=item.barcode, now=now))
        # Found, checked and locked in one statement; the services then skip their own lock.
        tube = selectors.get_tube_for_sampler(request.user, item.barcode, lock=True)
        if item.kind == "seal":
            return tube_view(services.tube_seal(actor=actor, tube=tube, now=now, locked=True))
        return services.sample_register(
            actor=actor,
            tube=tube,
            code=item.code,
            id_number=item.id_number,
            green_channel=item.green_channel,
            device_at=item.device_at,
            locked=True,
            now=now,
        ).as_dict()

    try:
        return services.idempotent_run(user=request.user, key=item.key, body=body, now=now, action=action)
    except DomainError as exc:
        return exc.status, {"code": exc.code, "message": str(exc.message)}


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
def station_batch(request: HttpRequest, payload: BatchIn) -> BatchOut:
    results = []
    # One transaction for the batch, one savepoint per submission: a refused submission is undone alone,
    # and the batch costs one commit instead of one per submission. The health app records the batch's
    # samples at its end, in the same transaction, with one call for all of them.
    with transaction.atomic(), health_port.samples_noted() as noted:
        for item in payload.items:
            mark = len(noted)
            status, answer = _guarded(request, item)
            if status != 200 or answer.get("replayed"):
                # Undone (a refusal, or a retry whose first answer stands): what it noted goes too.
                del noted[mark:]
            results.append(BatchItemOut(key=item.key, status=status, answer=StationAnswer(**answer)))
    return BatchOut(results=results)


def _guarded(request: HttpRequest, item: BatchItem) -> tuple[int, dict[str, Any]]:
    # The clock is read once per submission, at the edge.
    now = timezone.now()
    try:
        return _station(request, item, now)
    except Http404:
        # A site or tube outside the sampler's sites: the same answer as a barcode never seen.
        return 404, {"code": "not_found", "message": "Not found."}


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
