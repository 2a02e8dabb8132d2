"""Reads of people, always scoped through the access helper."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet, Subquery
from django.http import Http404

from accounts.roles import Cap
from accounts.selectors import scope_for
from common import idnumber
from common.phone import InvalidPhone, normalize_phone
from people.models import Person
from territory.models import Area, AreaKind


def person_by_phone(phone: str) -> Person | None:
    return Person.objects.filter(phone=phone).order_by("id").first()


def people_for_user(
    user: Any, *, cap: Cap = Cap.PEOPLE_VIEW, query: str = "", area: Area | None = None
) -> QuerySet[Person]:
    """The people the user may see, optionally searched and narrowed to an area."""
    qs = Person.objects.filter(scope_for(user, cap).q())
    if area is not None:
        qs = qs.within(area.path)
    query = (query or "").strip()
    if query:
        qs = qs.filter(_search_q(query))
    return qs


def _search_q(query: str) -> Q:
    """Search by exact ID number, exact phone, or a name prefix (never by fragments of ID or phone)."""
    normal = idnumber.normalize(query)
    if len(normal) == 18:
        return Q(id_number=normal)
    try:
        return Q(phone=normalize_phone(query))
    except InvalidPhone:
        pass
    return Q(name__startswith=query[:50])


def get_person_for_user(user: Any, pk: int, *, cap: Cap = Cap.PEOPLE_VIEW) -> Person:
    """The person if within the user's scope for ``cap``; 404 otherwise, whatever the reason."""
    person = Person.objects.filter(scope_for(user, cap).q(), pk=pk).select_related("area").first()
    if person is None:
        raise Http404
    return person


def get_area_for_user(user: Any, pk: int, *, cap: Cap = Cap.PEOPLE_VIEW) -> Area:
    scope = scope_for(user, cap)
    area = Area.objects.filter(pk=pk).first()
    if area is None or not scope.contains(area.path):
        raise Http404
    return area


def get_household_for_user(user: Any, pk: int) -> Area:
    area = get_area_for_user(user, pk)
    if area.kind != AreaKind.HOUSEHOLD:
        raise Http404
    return area


def household_members(household: Area) -> QuerySet[Person]:
    return Person.objects.filter(area=household).order_by("birth_date")


def person_for_account(user: Any) -> Person | None:
    if not user.is_authenticated or not getattr(user, "person_id", None):
        return None
    return Person.objects.select_related("area").filter(pk=user.person_id).first()


def account_household(user: Any) -> tuple[Person | None, list[Person]]:
    """The account's own person and the other members of their household, in one query (the
    scan result page's companion list): ``person_for_account`` and ``household_of`` together."""
    if not user.is_authenticated or not getattr(user, "person_id", None):
        return None, []
    own_area = Person.objects.filter(pk=user.person_id).values("area_id")[:1]
    found = list(
        Person.objects.select_related("area")
        .filter(Q(pk=user.person_id) | Q(area_id=Subquery(own_area), area__kind=AreaKind.HOUSEHOLD))
        .order_by("birth_date", "pk")
    )
    me = next((p for p in found if p.pk == user.person_id), None)
    return me, [p for p in found if me is not None and p.pk != me.pk]


def household_of(person: Person) -> QuerySet[Person]:
    """The members of the person's own household (a resident sees their family)."""
    if person.area.kind != AreaKind.HOUSEHOLD:
        return Person.objects.filter(pk=person.pk)
    return Person.objects.filter(area_id=person.area_id).order_by("birth_date")


def person_by_id_number_in_scope(raw_id_number: str, *, path: str) -> Person | None:
    """The person with this ID number (as typed: full-width digits, lower-case x) living in the subtree
    of ``path``; None when absent or elsewhere, so a typed number never discloses other districts."""
    from territory.selectors import subtree_q

    value = idnumber.normalize(raw_id_number)
    if len(value) != 18:
        return None
    return Person.objects.filter(subtree_q(path), id_number=value).first()


def population_within(path: str, *, categories: list[str] | None = None) -> QuerySet[Person]:
    """The people of a subtree, optionally of some categories: the population a campaign must cover."""
    qs = Person.objects.within(path)
    if categories:
        qs = qs.filter(category__in=categories)
    return qs


def people_by_ids(ids: list[int]) -> dict[int, Person]:
    return {p.pk: p for p in Person.objects.filter(pk__in=ids)}


def person_by_id_number(raw: str) -> Person | None:
    """Exact lookup by a (normalised) resident ID number; for the sentinel's typed fallback and
    saved companions, where the caller already holds the number and only needs the record."""
    value = idnumber.normalize(raw)
    if len(value) != 18:
        return None
    return Person.objects.select_related("area").filter(id_number=value).first()
