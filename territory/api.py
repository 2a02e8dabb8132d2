from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from accounts.roles import Cap
from people.selectors import get_area_for_user
from territory.selectors import children_of

router = Router(tags=["territory"])


class AreaOut(Schema):
    id: int
    name: str
    kind: str
    parent_id: int | None
    depth: int


class AreaDetailOut(AreaOut):
    children: list[AreaOut]


def _out(a) -> AreaOut:  # type: ignore[no-untyped-def]
    return AreaOut(id=a.id, name=a.name, kind=a.kind, parent_id=a.parent_id, depth=a.depth)


@router.get("/areas/{area_id}", response=AreaDetailOut, summary="An area of your territory and its children")
def area_get(request: HttpRequest, area_id: int) -> AreaDetailOut:
    area = get_area_for_user(request.user, area_id, cap=Cap.TERRITORY_VIEW)
    return AreaDetailOut(**_out(area).dict(), children=[_out(c) for c in children_of(area)])
