from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import Http404, HttpRequest
from ninja import Field, File, Form, Router, Schema
from ninja.files import UploadedFile

from accounts.roles import Cap
from audit.services import Actor
from common.errors import NotFound
from people import roster, selectors, services
from people.models import Person
from territory.selectors import labels_for_paths

router = Router(tags=["people"])


class PersonOut(Schema):
    id: int
    name: str = Field(description="Masked name, e.g. 张*")
    id_number: str = Field(description="Masked ID number, e.g. 3708**********123X")
    phone: str = Field(description="Masked phone, e.g. 138****5678")
    sex: str
    birth_year: int
    category: str
    vaccine_doses: int
    area_id: int
    address: str
    is_elderly_alone: bool
    is_mobility_impaired: bool
    has_no_smartphone: bool


class PersonPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[PersonOut]


class PersonIn(Schema):
    name: str
    id_number: str
    phone: str = ""
    area_id: int
    category: str = "resident"
    vaccine_doses: int = 0
    is_elderly_alone: bool = False
    is_mobility_impaired: bool = False
    has_no_smartphone: bool = False


class RevealIn(Schema):
    field: str = Field(description="id_number or phone")
    reason: str


class RevealOut(Schema):
    field: str
    value: str
    revealed_at: dt.datetime


def _out(p: Person, address: str) -> PersonOut:
    return PersonOut(
        id=p.pk,
        name=p.masked_name,
        id_number=p.masked_id_number,
        phone=p.masked_phone,
        sex=p.sex,
        birth_year=p.birth_date.year,
        category=p.category,
        vaccine_doses=p.vaccine_doses,
        area_id=p.area_id,
        address=address,
        is_elderly_alone=p.is_elderly_alone,
        is_mobility_impaired=p.is_mobility_impaired,
        has_no_smartphone=p.has_no_smartphone,
    )


@router.get("", response=PersonPage, summary="People in your territory (masked)")
def person_list(request: HttpRequest, q: str = "", area_id: int | None = None, page: int = 1) -> PersonPage:
    area = selectors.get_area_for_user(request.user, area_id) if area_id else None
    qs = selectors.people_for_user(request.user, query=q, area=area).order_by("area_path", "name", "id")
    size = settings.FANGYI["PAGE_SIZE"]
    page = max(1, page)
    rows = list(qs[(page - 1) * size : page * size])
    labels = labels_for_paths(p.area_path for p in rows)
    return PersonPage(count=qs.count(), page=page, page_size=size, results=[_out(p, labels[p.area_path]) for p in rows])


class ImportErrorOut(Schema):
    line: int = Field(description="The line as Excel numbers it")
    code: str
    message: str
    column: str = Field(description="The header of the offending column, when there is one")


class ImportReportOut(Schema):
    row_count: int
    created: int
    updated: int
    unchanged: int
    error_count: int
    errors: list[ImportErrorOut]


@router.post("/import", response=ImportReportOut, summary="Import a roster (.xlsx, Chinese headers)")
def people_import(
    request: HttpRequest, file: File[UploadedFile], area_id: Form[int | None] = None
) -> ImportReportOut:
    from django.utils import timezone

    area = selectors.get_area_for_user(request.user, area_id, cap=Cap.PEOPLE_IMPORT) if area_id else None
    try:
        report = roster.roster_import(
            actor=Actor.from_request(request), file=file, scope_area=area, now=timezone.now(),
            file_name=file.name or "",
        )
    except NotFound:
        raise Http404 from None
    return ImportReportOut(
        row_count=report.row_count, created=report.created, updated=report.updated, unchanged=report.unchanged,
        error_count=report.error_count, errors=[ImportErrorOut(**e.as_dict()) for e in report.errors],
    )


@router.get("/{person_id}", response=PersonOut, summary="One person (masked)")
def person_get(request: HttpRequest, person_id: int) -> PersonOut:
    p = selectors.get_person_for_user(request.user, person_id)
    return _out(p, labels_for_paths([p.area_path])[p.area_path])


@router.post("", response={201: PersonOut}, summary="Register a person")
def person_create(request: HttpRequest, payload: PersonIn) -> tuple[int, PersonOut]:
    area = selectors.get_area_for_user(request.user, payload.area_id, cap=Cap.PEOPLE_EDIT)
    data = services.PersonData(**payload.dict(exclude={"area_id"}))
    p = services.person_register(actor=Actor.from_request(request), data=data, area=area)
    return 201, _out(p, labels_for_paths([p.area_path])[p.area_path])


@router.post("/{person_id}/reveal", response=RevealOut, summary="Disclose one unmasked value (audited)")
def person_reveal(request: HttpRequest, person_id: int, payload: RevealIn) -> RevealOut:
    from django.utils import timezone

    p = selectors.get_person_for_user(request.user, person_id)
    now = timezone.now()
    value = services.person_reveal(
        actor=Actor.from_request(request), person=p, field_name=payload.field, reason=payload.reason, now=now
    )
    return RevealOut(field=payload.field, value=value, revealed_at=now)
