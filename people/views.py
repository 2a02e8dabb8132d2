"""People pages for grid workers and community admins, and the resident's own page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Cap
from accounts.selectors import has_cap, scope_for
from audit import selectors as audit_selectors
from audit.selectors import audit_entries_for_object
from audit.services import Actor
from common.errors import DomainError, NotFound
from common.spreadsheet import import_error_report
from people import roster, selectors, services
from people.forms import ExportForm, PersonForm, RevealForm, RosterImportForm, SearchForm
from people.models import Person
from people.roster import files as roster_files
from territory.models import AreaKind
from territory.selectors import ancestors_of, labels_for_paths


def _require_cap(request: HttpRequest, cap: Cap) -> None:
    if scope_for(request.user, cap).is_empty:
        raise Http404


@require_GET
@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    _require_cap(request, Cap.PEOPLE_VIEW)
    form = SearchForm(request.GET)
    form.is_valid()
    area = None
    if form.cleaned_data.get("area"):
        area = selectors.get_area_for_user(request.user, form.cleaned_data["area"])
    qs = selectors.people_for_user(request.user, query=form.cleaned_data.get("q") or "", area=area)
    page = Paginator(qs.order_by("area_path", "name", "id"), settings.FANGYI["PAGE_SIZE"]).get_page(
        request.GET.get("page")
    )
    labels = labels_for_paths(p.area_path for p in page.object_list)
    rows = [(p, labels.get(p.area_path, "")) for p in page.object_list]
    return render(
        request,
        "people/person_list.html",
        {
            "page": page,
            "rows": rows,
            "form": form,
            "area": area,
            "can_import": has_cap(request.user, Cap.PEOPLE_IMPORT),
            "can_export": has_cap(request.user, Cap.PEOPLE_EXPORT),
        },
    )


@require_GET
@login_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.get_person_for_user(request.user, pk)
    can_reveal_id = scope_for(request.user, Cap.REVEAL_ID).contains(person.area_path)
    can_reveal_phone = scope_for(request.user, Cap.REVEAL_PHONE).contains(person.area_path)
    return render(
        request,
        "people/person_detail.html",
        {
            "person": person,
            "address": labels_for_paths([person.area_path]).get(person.area_path, ""),
            "household": person.area if person.area.kind == AreaKind.HOUSEHOLD else None,
            "can_reveal_id": can_reveal_id,
            "can_reveal_phone": can_reveal_phone,
            "can_edit": scope_for(request.user, Cap.PEOPLE_EDIT).contains(person.area_path),
            "reveal_form": RevealForm(),
            "history": audit_entries_for_object("people.person", person.pk)[:10]
            if has_cap(request.user, Cap.AUDIT_VIEW)
            else [],
        },
    )


@require_POST
@login_required
def person_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.get_person_for_user(request.user, pk)
    form = RevealForm(request.POST)
    value = ""
    error = ""
    if form.is_valid():
        try:
            value = services.person_reveal(
                actor=Actor.from_request(request),
                person=person,
                field_name=form.cleaned_data["field"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            error = str(exc.message)
    else:
        error = _("Please give the reason for viewing this value.")
    return render(
        request,
        "people/_revealed.html",
        {"value": value, "error": error, "person": person},
        status=400 if error else 200,
    )


def _form_data(form: PersonForm) -> services.PersonData:
    d = form.cleaned_data
    return services.PersonData(
        name=d["name"],
        id_number=d["id_number"],
        phone=d.get("phone") or "",
        category=d["category"],
        vaccine_doses=d["vaccine_doses"],
        is_elderly_alone=d["is_elderly_alone"],
        is_mobility_impaired=d["is_mobility_impaired"],
        has_no_smartphone=d["has_no_smartphone"],
    )


@require_http_methods(["GET", "POST"])
@login_required
def person_create(request: HttpRequest) -> HttpResponse:
    try:
        area_id = int(request.GET.get("area") or request.POST.get("area") or 0)
    except ValueError:
        raise Http404 from None
    area = selectors.get_area_for_user(request.user, area_id, cap=Cap.PEOPLE_EDIT)
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.person_register(actor=Actor.from_request(request), data=_form_data(form), area=area)
        except DomainError as exc:
            form.add_error(exc.details.get("field"), str(exc.message))
        else:
            messages.success(request, _("Registered."))
            return redirect("people:detail", pk=person.pk)
    return render(request, "people/person_form.html", {"form": form, "area": area, "person": None})


@require_http_methods(["GET", "POST"])
@login_required
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.get_person_for_user(request.user, pk, cap=Cap.PEOPLE_EDIT)
    initial = {f: getattr(person, f) for f in PersonForm.base_fields}
    form = PersonForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.person_update(
                actor=Actor.from_request(request), person=person, data=_form_data(form), area=person.area
            )
        except DomainError as exc:
            form.add_error(exc.details.get("field"), str(exc.message))
        else:
            messages.success(request, _("Saved."))
            return redirect("people:detail", pk=person.pk)
    return render(request, "people/person_form.html", {"form": form, "area": person.area, "person": person})


@require_GET
@login_required
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = selectors.get_household_for_user(request.user, pk)
    return render(
        request,
        "people/household_detail.html",
        {
            "household": household,
            "trail": ancestors_of(household),
            "members": list(selectors.household_members(household)),
            "can_edit": scope_for(request.user, Cap.PEOPLE_EDIT).contains(household.path),
        },
    )


@require_GET
@login_required
def me(request: HttpRequest) -> HttpResponse:
    """The resident's own page: themselves and their household."""
    person = selectors.person_for_account(request.user)
    if person is None:
        return redirect("dashboard:home")
    family: list[Person] = list(selectors.household_of(person))
    return render(
        request,
        "people/me.html",
        {"person": person, "family": family, "address": labels_for_paths([person.area_path]).get(person.area_path, "")},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _optional_area(request: HttpRequest, area_id: int | None, cap: Cap) -> Any:
    return selectors.get_area_for_user(request.user, area_id, cap=cap) if area_id else None


@require_http_methods(["GET", "POST"])
@login_required
def roster_import(request: HttpRequest) -> HttpResponse:
    _require_cap(request, Cap.PEOPLE_IMPORT)
    form = RosterImportForm(request.POST or None, request.FILES or None, initial={"area": request.GET.get("area")})
    report = None
    if request.method == "POST" and form.is_valid():
        area = _optional_area(request, form.cleaned_data.get("area"), Cap.PEOPLE_IMPORT)
        upload = form.cleaned_data["file"]
        try:
            report = roster.roster_import(
                actor=Actor.from_request(request), file=upload, scope_area=area, now=timezone.now(),
                file_name=upload.name or "",
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            form.add_error("file", str(exc.message))
    status = 400 if request.method == "POST" and report is None else 200
    return render(request, "people/roster_import.html", {"form": form, "report": report}, status=status)


@require_GET
@login_required
def roster_template(request: HttpRequest) -> HttpResponse:
    _require_cap(request, Cap.PEOPLE_IMPORT)
    response = HttpResponse(roster_files.template_workbook(), content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote('人员名单模板.xlsx')}"
    return response


@require_GET
@login_required
def roster_errors(request: HttpRequest, pk: int) -> HttpResponse:
    _require_cap(request, Cap.PEOPLE_IMPORT)
    errors = audit_selectors.own_import_errors(request.user, action="people.import", entry_id=pk)
    if errors is None:
        raise Http404
    response = HttpResponse(import_error_report(errors), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="import-{pk}-errors.xlsx"'
    return response


@require_http_methods(["GET", "POST"])
@login_required
def people_export(request: HttpRequest) -> HttpResponseBase:
    """GET with ?format= downloads a masked file; POST (with a reason) may ask for unmasked values."""
    _require_cap(request, Cap.PEOPLE_EXPORT)
    data = request.POST if request.method == "POST" else request.GET
    form = ExportForm(data if "format" in data else None, initial={"area": request.GET.get("area")})
    if not form.is_bound or not form.is_valid():
        area = _optional_area(request, _int_or_none(request.GET.get("area")), Cap.PEOPLE_EXPORT)
        can_unmask = any(has_cap(request.user, c) for c in (Cap.REVEAL_ID, Cap.REVEAL_PHONE))
        return render(request, "people/export.html", {"form": form, "area": area, "can_unmask": can_unmask},
                      status=400 if form.is_bound else 200)
    d = form.cleaned_data
    area = _optional_area(request, d.get("area"), Cap.PEOPLE_EXPORT)
    try:
        export = roster.people_export(
            actor=Actor.from_request(request), fmt=d["format"], area=area,
            # Unmasked only through the POSTed form: a GET link must never carry a reveal.
            unmasked=bool(d.get("unmasked")) and request.method == "POST",
            reason=d.get("reason") or "", now=timezone.now(),
        )
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        form.add_error(exc.details.get("field"), str(exc.message))
        return render(request, "people/export.html", {"form": form, "area": area, "can_unmask": True},
                      status=exc.status)
    if export.file is not None:
        return FileResponse(export.file, as_attachment=True, filename=export.file_name,
                            content_type=export.content_type)
    response = StreamingHttpResponse(export.stream or iter(()), content_type=export.content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(export.file_name)}"
    return response


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        raise Http404 from None
