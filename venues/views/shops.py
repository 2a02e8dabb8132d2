"""Shops: the census form a grid worker fills in at a shop's door, and the import of a shop roster."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit import selectors as audit_selectors
from audit.services import Actor
from common.errors import DomainError, NotFound
from common.spreadsheet import import_error_report
from venues import services
from venues.forms import ShopForm, ShopImportForm
from venues.selectors import venues as selectors
from venues.services.shop_import import COLUMNS, template_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@require_http_methods(["GET", "POST"])
@login_required
def shop_new(request: HttpRequest) -> HttpResponse:
    """入户摸排: register a shop found in one of the user's grids; then apply for its code, or the next."""
    grids = selectors.census_grids(request.user)
    if not grids:
        raise Http404
    done = None
    done_id = request.GET.get("done", "")
    if done_id.isdigit():
        done = selectors.shop_for_user(request.user, int(done_id))
    last_grid = request.GET.get("grid")
    form = ShopForm(request.POST or None, grids=grids, initial={"grid": last_grid})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            grid = next(g for g in grids if g.pk == data["grid"])
            try:
                shop = services.shop_register(
                    actor=Actor.from_request(request),
                    grid=grid,
                    name=data["name"],
                    category=data["category"],
                    address=data["address"],
                    contact_phone=data["contact_phone"],
                    now=timezone.now(),
                )
            except DomainError as exc:
                name = exc.details.get("field")
                form.add_error(name if name in form.fields else None, str(exc.message))
                status = exc.status
            else:
                return redirect(f"{reverse('venues:shop_new')}?done={shop.pk}&grid={grid.pk}")
        else:
            status = 400
    return render(request, "venues/shop_new.html", {"form": form, "done": done}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def shop_import(request: HttpRequest) -> HttpResponse:
    if scope_for(request.user, Cap.VENUES_MANAGE).is_empty:
        raise Http404
    form = ShopImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = services.shop_import(
                actor=Actor.from_request(request), file=upload, file_name=upload.name or "", now=timezone.now()
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            form.add_error("file", str(exc.message))
    status = 400 if request.method == "POST" and report is None else 200
    return render(
        request, "venues/shop_import.html", {"form": form, "report": report, "columns": COLUMNS}, status=status
    )


@require_GET
@login_required
def shop_import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    """The refused rows of the user's own import as an .xlsx, to correct and import again."""
    errors = audit_selectors.own_import_errors(request.user, action="venue.shop_import", entry_id=pk)
    if errors is None:
        raise Http404
    response = HttpResponse(import_error_report(errors), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="shop-import-{pk}-errors.xlsx"'
    return response


@require_GET
@login_required
def shop_import_template(request: HttpRequest) -> HttpResponse:
    if scope_for(request.user, Cap.VENUES_MANAGE).is_empty:
        raise Http404
    response = HttpResponse(template_workbook(), content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote('店铺名册模板.xlsx')}"
    return response
