"""The laboratory's pages: upload results, see every row's fate, resolve exceptions, corrections."""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import Actor
from common.errors import DomainError
from testing import selectors, services
from testing.forms import CorrectionForm, ExceptionResolveForm, UploadForm
from testing.models import ResultCorrection, ResultException
from testing.services.lab import fate_message


@require_http_methods(["GET", "POST"])
@login_required
def lab_home(request: HttpRequest) -> HttpResponse:
    lab = selectors.laboratory_of(request.user)
    form = UploadForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        f = form.cleaned_data["file"]
        data = f.read()
        try:
            rows = services.parse_result_file(name=f.name, data=data)
            report = services.results_ingest(
                actor=Actor.from_request(request),
                laboratory=lab,
                rows=rows,
                filename=f.name,
                sha256=hashlib.sha256(data).hexdigest(),
                now=timezone.now(),
            )
        except DomainError as exc:
            form.add_error("file", str(exc.message))
    return render(
        request,
        "testing/lab.html",
        {
            "lab": lab,
            "form": form,
            "report": report,
            "report_rows": [(r, fate_message(r.fate)) for r in report.rows[:2000]] if report else [],
            "exceptions": list(selectors.exceptions_for(lab)[:100]),
            "corrections": list(selectors.corrections_for(lab)[:50]),
            "correction_form": CorrectionForm(),
            "resolve_form": ExceptionResolveForm(),
            "status": 400 if form.errors else 200,
        },
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def correction_request(request: HttpRequest) -> HttpResponse:
    lab = selectors.laboratory_of(request.user)
    form = CorrectionForm(request.POST)
    if form.is_valid():
        result = selectors.result_for_lab(lab, form.cleaned_data["barcode"])
        try:
            services.correction_request(
                actor=Actor.from_request(request),
                result=result,
                new_value=form.cleaned_data["new_value"],
                reason=form.cleaned_data["reason"],
                now=timezone.now(),
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Correction sent for review by a second person."))
    else:
        messages.error(request, _("Give the tube, the correct result and the reason."))
    return redirect("testing:lab")


@require_POST
@login_required
def correction_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    lab = selectors.laboratory_of(request.user)
    corr = ResultCorrection.objects.filter(pk=pk, result__laboratory=lab).first()
    if corr is None or decision not in ("approve", "reject"):
        raise Http404
    try:
        if decision == "approve":
            services.correction_approve(actor=Actor.from_request(request), correction=corr, now=timezone.now())
            messages.success(request, _("Correction applied; statuses recomputed and people told."))
        else:
            services.correction_reject(actor=Actor.from_request(request), correction=corr, now=timezone.now())
            messages.success(request, _("Correction rejected."))
    except DomainError as exc:
        messages.error(request, str(exc.message))
    return redirect("testing:lab")


@require_POST
@login_required
def exception_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    lab = selectors.laboratory_of(request.user)
    exc_row = ResultException.objects.filter(pk=pk, laboratory=lab).first()
    if exc_row is None:
        raise Http404
    form = ExceptionResolveForm(request.POST)
    form.is_valid()
    try:
        services.exception_resolve(
            actor=Actor.from_request(request),
            exception=exc_row,
            barcode=form.cleaned_data.get("barcode", ""),
            note=form.cleaned_data.get("note", ""),
            now=timezone.now(),
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Exception resolved."))
    return redirect("testing:lab")
