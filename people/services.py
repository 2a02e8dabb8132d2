"""Writes of people: register, update, reveal. Each is atomic and audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit.services import Actor, audit_record
from common import idnumber
from common.errors import Conflict, DomainError, NotFound
from common.phone import InvalidPhone, normalize_phone
from people.models import Category, Person
from territory.models import Area

ID_ERRORS = {
    "id_empty": gettext_lazy("The ID number is missing."),
    "id_length": gettext_lazy("The ID number must have 18 characters."),
    "id_format": gettext_lazy("The ID number must be 17 digits followed by a digit or X."),
    "id_birth_date": gettext_lazy("The ID number contains an impossible birth date."),
    "id_checksum": gettext_lazy("The check digit of the ID number is wrong."),
    "id_region": gettext_lazy("The ID number has an unknown region code."),
}


@dataclass
class PersonData:
    """What a form, the API or a roster row gives for one person, before validation."""

    name: str
    id_number: str
    phone: str = ""
    category: str = Category.RESIDENT
    vaccine_doses: int = 0
    is_elderly_alone: bool = False
    is_mobility_impaired: bool = False
    has_no_smartphone: bool = False
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CleanPerson:
    name: str
    id_number: str
    birth_date: dt.date
    sex: str
    phone: str
    category: str
    vaccine_doses: int
    is_elderly_alone: bool
    is_mobility_impaired: bool
    has_no_smartphone: bool

    def fields(self) -> dict[str, object]:
        return dict(self.__dict__)


def id_error_message(code: str) -> str:
    return str(ID_ERRORS.get(code, ID_ERRORS["id_format"]))


def person_clean(data: PersonData, *, today: dt.date) -> CleanPerson:
    """Validate and normalise one person's fields; raise DomainError naming the first bad field."""
    name = " ".join((data.name or "").split())
    if not name:
        raise DomainError("name_required", _("The name is missing."), field="name")
    if len(name) > 50:
        raise DomainError("name_too_long", _("The name is longer than 50 characters."), field="name")
    if any(ord(c) < 32 for c in name):
        raise DomainError("name_invalid", _("The name contains control characters."), field="name")
    try:
        parsed = idnumber.parse(data.id_number, today=today)
    except idnumber.InvalidIdNumber as exc:
        raise DomainError(exc.code, id_error_message(exc.code), field="id_number") from None
    phone = ""
    if (data.phone or "").strip():
        try:
            phone = normalize_phone(data.phone)
        except InvalidPhone:
            raise DomainError(
                "phone_invalid", _("The phone must be an 11-digit mobile number."), field="phone"
            ) from None
    if data.category not in Category.values:
        raise DomainError("category_invalid", _("Unknown category of person."), field="category")
    if not 0 <= int(data.vaccine_doses) <= 10:
        raise DomainError("vaccine_doses_invalid", _("Vaccine doses must be between 0 and 10."), field="vaccine_doses")
    return CleanPerson(
        name=name,
        id_number=parsed.value,
        birth_date=parsed.birth_date,
        sex=parsed.sex,
        phone=phone,
        category=data.category,
        vaccine_doses=int(data.vaccine_doses),
        is_elderly_alone=bool(data.is_elderly_alone),
        is_mobility_impaired=bool(data.is_mobility_impaired),
        has_no_smartphone=bool(data.has_no_smartphone),
    )


def _check_area(actor: Actor, area: Area) -> None:
    if not scope_for(actor.user, Cap.PEOPLE_EDIT).contains(area.path):
        raise NotFound("area_not_found", _("No such place in your territory."))


def person_register(*, actor: Actor, data: PersonData, area: Area, now: dt.datetime | None = None) -> Person:
    """Register a new person. The same ID number twice, even in parallel, gives one person."""
    now = now or timezone.now()
    _check_area(actor, area)
    clean = person_clean(data, today=timezone.localdate(now))
    try:
        with transaction.atomic():
            person = Person.objects.create(area=area, area_path=area.path, **clean.fields())
            audit_record(actor=actor, action="person.register", obj=person, now=now)
    except IntegrityError:
        raise Conflict(
            "person_duplicate", _("A person with this ID number is already registered."), field="id_number"
        ) from None
    return person


def person_update(
    *, actor: Actor, person: Person, data: PersonData, area: Area, now: dt.datetime | None = None
) -> Person:
    now = now or timezone.now()
    _check_area(actor, area)
    clean = person_clean(data, today=timezone.localdate(now))
    if clean.id_number != person.id_number:
        raise DomainError(
            "id_number_immutable", _("The ID number of a registered person cannot change."), field="id_number"
        )
    changed = [k for k, v in clean.fields().items() if getattr(person, k) != v]
    if area.pk != person.area_id:
        changed += ["area", "area_path"]
    if not changed:
        return person
    with transaction.atomic():
        for key, value in clean.fields().items():
            setattr(person, key, value)
        person.area = area
        person.area_path = area.path
        person.save(update_fields=[*changed, "updated_at"])
        audit_record(actor=actor, action="person.update", obj=person, extra={"fields": sorted(changed)}, now=now)
    return person


REVEALABLE = {"id_number": Cap.REVEAL_ID, "phone": Cap.REVEAL_PHONE}


def person_reveal(*, actor: Actor, person: Person, field_name: str, reason: str, now: dt.datetime | None = None) -> str:
    """Disclose one unmasked value to an entitled user, with a reason, and audit it."""
    cap = REVEALABLE.get(field_name)
    if cap is None:
        raise DomainError("field_invalid", _("This field cannot be revealed."))
    if not scope_for(actor.user, cap).contains(person.area_path):
        raise DomainError("reveal_forbidden", _("Your role may not see this value unmasked."), status=403)
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise DomainError("reason_required", _("Please give the reason for viewing this value."))
    with transaction.atomic():
        audit_record(actor=actor, action=f"person.reveal_{field_name}", obj=person, reason=reason[:500], now=now)
    return str(getattr(person, field_name))
