"""Ledgers (台账) as CSV or Excel: masked by default, formula-safe, streamed, each export audited. The
site ledger may be exported unmasked, through a POSTed form with a reason (a GET link never reveals)."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit.services import Actor
from common.errors import DomainError
from testing import selectors
from testing.forms import LedgerUnmaskForm
from testing.models import Site
from testing.services import ledgers
from testing.services.ledgers import LedgerFile


def _respond(export: LedgerFile) -> HttpResponseBase:
    if export.file is not None:
        return FileResponse(
            export.file, as_attachment=True, filename=export.file_name, content_type=export.content_type
        )
    response = StreamingHttpResponse(export.stream or iter(()), content_type=export.content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(export.file_name)}"
    return response


@require_GET
@login_required
def site_ledger(request: HttpRequest, site_pk: int, fmt: str) -> HttpResponseBase:
    site = selectors.get_site_for_viewer(request.user, site_pk)
    export = ledgers.site_ledger_export(actor=Actor.from_request(request), site=site, fmt=fmt, now=timezone.now())
    return _respond(export)


@require_http_methods(["GET", "POST"])
@login_required
def site_ledger_unmasked(request: HttpRequest, site_pk: int) -> HttpResponseBase:
    """GET: the form (format, reason); POST: the unmasked file, or the form again with what is wrong."""
    site = selectors.get_site_for_viewer(request.user, site_pk)
    form = LedgerUnmaskForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            export = ledgers.site_ledger_export(
                actor=Actor.from_request(request),
                site=site,
                fmt=form.cleaned_data["format"],
                unmasked=True,
                reason=form.cleaned_data["reason"],
                now=timezone.now(),
            )
        except DomainError as exc:
            form.add_error(exc.details.get("field"), str(exc.message))
            status = exc.status
        else:
            return _respond(export)
    elif request.method == "POST":
        status = 400
    return _form(request, site, form, status)


def _form(request: HttpRequest, site: Site, form: LedgerUnmaskForm, status: int) -> HttpResponse:
    can_unmask = scope_for(request.user, Cap.REVEAL_ID).contains(site.area_path)
    return render(
        request,
        "testing/ledger_unmasked.html",
        {"site": site, "form": form, "can_unmask": can_unmask},
        status=status,
    )


@require_GET
@login_required
def round_ledger(request: HttpRequest, pk: int, fmt: str) -> HttpResponseBase:
    rnd = selectors.get_round_for_user(request.user, pk)
    export = ledgers.round_ledger_export(actor=Actor.from_request(request), rnd=rnd, fmt=fmt, now=timezone.now())
    return _respond(export)


@require_GET
@login_required
def lab_ledger(request: HttpRequest, fmt: str) -> HttpResponseBase:
    lab = selectors.laboratory_of(request.user)
    return _respond(
        ledgers.lab_ledger_export(actor=Actor.from_request(request), laboratory=lab, fmt=fmt, now=timezone.now())
    )
