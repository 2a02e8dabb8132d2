"""The poster URL /v/<token>/: a resident's phone camera opens it, the resident is checked in and
the page shows the door staff the verdict."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.errors import DomainError
from venues import services
from venues.models import CheckIn, Method
from venues.selectors import checkins as checkin_selectors
from venues.selectors import codes as code_selectors
from venues.selectors import venues as venue_selectors


def _refused(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return render(request, "venues/scan_refused.html", {"message": exc.message, "code": exc.code}, status=exc.status)


@never_cache
@require_http_methods(["GET", "POST"])
def scan(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a page that submits the check-in at once (with a fresh retry key); POST records it.
    A GET never writes: link previewers and camera apps fetch URLs before the person confirms."""
    try:
        entrance = code_selectors.entrance_for_token(token)
    except DomainError as exc:
        return _refused(request, exc)
    if not request.user.is_authenticated:
        return redirect(f"{reverse('accounts:phone_login')}?{urlencode({'next': request.path})}")
    person_id = getattr(request.user, "person_id", None)
    if not person_id:
        return render(request, "venues/scan_not_resident.html", {"entrance": entrance}, status=403)
    if request.method == "GET":
        return render(request, "venues/scan_confirm.html", {"entrance": entrance, "client_key": uuid.uuid4().hex})
    try:
        outcome = services.checkin_record(
            account=request.user,
            entrance=entrance,
            person_ids=[person_id],
            method=Method.SCAN,
            client_key=request.POST.get("client_key", ""),
            now=timezone.now(),
        )
    except DomainError as exc:
        return _refused(request, exc)
    return redirect("scan:result", scan_key=outcome.scan_key)


def _companion_choices(user: object, rows: list[CheckIn]) -> list[tuple[int, str, bool]]:
    """(person id, masked name, already checked in) for household members and saved companions."""
    done = {r.person_id for r in rows}
    return [(p.pk, p.masked_name, p.pk in done) for p in venue_selectors.companion_candidates(user)]


@never_cache
@require_GET
def result(request: HttpRequest, scan_key: str) -> HttpResponse:
    if not request.user.is_authenticated or not getattr(request.user, "person_id", None):
        raise Http404
    now = timezone.now()
    rows = checkin_selectors.scan_for_account(scan_key, request.user.pk)
    me, candidates = venue_selectors.resident_and_companions(request.user)
    done = {r.person_id for r in rows}
    return render(
        request,
        "venues/scan_result.html",
        {
            "entrance": code_selectors.entrance_summary_of(rows[0].entrance),
            "lines": checkin_selectors.scan_lines(rows, now=now, known=[me, *candidates] if me else []),
            "companions": [(p.pk, p.masked_name, p.pk in done) for p in candidates],
            "scan_key": scan_key,
            "client_key": uuid.uuid4().hex,
            "server_ts": now.timestamp(),
        },
    )


@require_POST
def companions(request: HttpRequest, scan_key: str) -> HttpResponse:
    if not request.user.is_authenticated or not getattr(request.user, "person_id", None):
        raise Http404
    rows = checkin_selectors.scan_for_account(scan_key, request.user.pk)
    allowed = {pid for pid, _name, _done in _companion_choices(request.user, rows)}
    chosen = [int(v) for v in request.POST.getlist("person") if v.isdigit() and int(v) in allowed]
    if chosen:
        try:
            entrance = code_selectors.entrance_info(rows[0].entrance_id)
            services.checkin_record(
                account=request.user,
                entrance=entrance,
                person_ids=chosen,
                method=Method.COMPANION,
                client_key=request.POST.get("client_key", ""),
                scan_key=scan_key,
                now=timezone.now(),
            )
        except DomainError as exc:
            return _refused(request, exc)
    return redirect("scan:result", scan_key=scan_key)


@require_GET
def ping(request: HttpRequest) -> HttpResponse:
    """A bare JSON answer through the same middleware: the benchmark's baseline."""
    return JsonResponse({"ok": True})
