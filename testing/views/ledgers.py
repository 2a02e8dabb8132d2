"""Ledgers (台账): streamed CSV, masked, formula-safe, each export audited."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit.services import Actor, audit_record
from common.masking import mask_id_number, mask_name
from common.spreadsheet import csv_safe
from testing import selectors
from testing.models import Site


class _Echo:
    def write(self, value: str) -> str:
        return value


def _stream(filename: str, header: list[str], rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def gen() -> Iterator[str]:
        yield "\ufeff"  # Excel opens UTF-8 CSV correctly only with a BOM
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_safe(v) for v in row])

    response = StreamingHttpResponse(gen(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _audit(request: HttpRequest, action: str, object_type: str, object_id: int) -> None:
    with transaction.atomic():
        audit_record(
            actor=Actor.from_request(request),
            action=action,
            object_type=object_type,
            object_id=object_id,
            now=timezone.now(),
        )


@require_GET
@login_required
def site_ledger(request: HttpRequest, site_pk: int) -> StreamingHttpResponse:
    site = Site.objects.select_related("round").filter(pk=site_pk).first()
    if site is None or not scope_for(request.user, Cap.TESTING_VIEW).contains(site.area_path):
        raise Http404
    _audit(request, "testing.export_site", "testing.site", site.pk)
    rows = (
        [
            barcode,
            status,
            _local(sealed),
            mask_name(name),
            mask_id_number(idn),
            _local(sampled),
            "Y" if green else "",
            "Y" if repeat else "",
            _local(device) if skew else "",
        ]
        for barcode, status, sealed, name, idn, sampled, green, repeat, skew, device in selectors.site_ledger_rows(site)
    )
    return _stream(
        f"site-{site.pk}.csv",
        ["试管条码", "状态", "封管时间", "姓名", "身份证号", "采样时间", "绿色通道", "本轮重复", "设备时间(偏差)"],
        rows,
    )


@require_GET
@login_required
def round_ledger(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    rnd = selectors.get_round_for_user(request.user, pk)
    scope = scope_for(request.user, Cap.TESTING_VIEW)
    _audit(request, "testing.export_round", "testing.round", rnd.pk)
    rows = (
        [r.label, r.total, r.covered, r.exempted, r.home_pending, r.left, f"{r.percent}%"]
        for r in selectors.round_ledger_rows(rnd)
        if scope.contains(r.path)
    )
    return _stream(f"round-{rnd.pk}.csv", ["网格", "应检", "已检", "免检", "待上门", "未检", "覆盖率"], rows)


@require_GET
@login_required
def lab_ledger(request: HttpRequest) -> StreamingHttpResponse:
    lab = selectors.laboratory_of(request.user)
    _audit(request, "testing.export_lab", "testing.laboratory", lab.pk)
    rows = (
        [barcode, f"{pool}合1" if pool > 1 else "单管", members, value, _local(received), _local(corrected), rnd]
        for barcode, pool, members, value, received, corrected, rnd in selectors.lab_ledger_rows(lab)
    )
    return _stream(f"lab-{lab.pk}.csv", ["试管条码", "混采", "人数", "结果", "接收时间", "更正时间", "轮次"], rows)
