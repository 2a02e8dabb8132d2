from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from accounts.selectors import memberships_of

router = Router(tags=["accounts"])


class MembershipOut(Schema):
    role: str
    area_id: int
    area_name: str


class MeOut(Schema):
    username: str
    display_name: str
    is_resident: bool
    memberships: list[MembershipOut]


@router.get("", response=MeOut, summary="The signed-in user and their roles")
def me(request: HttpRequest) -> MeOut:
    user = request.user
    return MeOut(
        username=user.get_username(),
        display_name=getattr(user, "display_name", ""),
        is_resident=bool(getattr(user, "person_id", None)),
        memberships=[MembershipOut(role=r, area_id=i, area_name=n) for r, _p, i, n in memberships_of(user)],
    )
