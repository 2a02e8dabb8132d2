"""Reads of venues, scoped: the venue's own manager, or staff whose territory holds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from accounts.roles import Cap
from accounts.selectors import scope_for
from territory.models import SEGMENT_WIDTH, Area, AreaKind
from territory.selectors import children_of
from venues.models import Entrance, SavedCompanion, Shop, Venue, VenueCode, VenueStatus


def venues_for_user(user: Any, *, status: str = "") -> QuerySet[Venue]:
    """Venues the user manages or whose territory the user serves, with entrances and live codes
    prefetched (three queries for a page, whatever its length)."""
    q = Q(manager_id=user.pk) | scope_for(user, Cap.VENUES_MANAGE).q()
    qs = Venue.objects.filter(q).select_related("area")
    if status:
        qs = qs.filter(status=status)
    live = VenueCode.objects.filter(revoked_at__isnull=True)
    return qs.prefetch_related(
        Prefetch("entrances", queryset=Entrance.objects.order_by("number").prefetch_related(Prefetch("codes", live)))
    ).order_by("-created_at", "-id")


def get_venue_for_user(user: Any, pk: int) -> Venue:
    """The venue if the user is its manager or serves its territory; 404 otherwise."""
    venue = Venue.objects.select_related("area").filter(pk=pk).first()
    if venue is None or not can_manage(user, venue):
        raise Http404
    return venue


def can_manage(user: Any, venue: Venue) -> bool:
    if not user.is_authenticated:
        return False
    return venue.manager_id == user.pk or scope_for(user, Cap.VENUES_MANAGE).contains(venue.area_path)


def can_review(user: Any, venue: Venue) -> bool:
    return scope_for(user, Cap.VENUES_REVIEW).contains(venue.area_path)


def get_entrance(venue: Venue, entrance_id: int) -> Entrance:
    entrance = Entrance.objects.filter(venue=venue, pk=entrance_id).first()
    if entrance is None:
        raise Http404
    return entrance


def live_code(entrance: Entrance) -> VenueCode | None:
    return VenueCode.objects.select_related("entrance").filter(entrance=entrance, revoked_at__isnull=True).first()


def grids_for_apply(user: Any) -> list[Area]:
    """Grids where the user may register a venue."""
    scope = scope_for(user, Cap.VENUES_APPLY)
    if scope.is_empty:
        return []
    # A manager's membership may sit below the grid (the shop's building): offer that grid too.
    above = {int(p[i : i + SEGMENT_WIDTH]) for p in scope.paths for i in range(0, len(p), SEGMENT_WIDTH)}
    return list(
        Area.objects.filter(scope.q("path") | Q(id__in=above), kind__in=[AreaKind.GRID1, AreaKind.GRID2]).order_by(
            "path"
        )
    )


def shops_without_venue(area_path: str, *, limit: int = 500) -> list[Shop]:
    from territory.selectors import subtree_q

    return list(Shop.objects.filter(subtree_q(area_path), venue__isnull=True).order_by("name", "id")[:limit])


@dataclass
class PromotionRow:
    area: Area
    shops: int = 0
    shops_with_code: int = 0
    venues: int = 0
    pending: int = 0

    @property
    def shops_without_code(self) -> int:
        return self.shops - self.shops_with_code

    @property
    def coverage(self) -> int:
        return round(100 * self.shops_with_code / self.shops) if self.shops else 0


@dataclass
class Promotion:
    area: Area
    total: PromotionRow
    rows: list[PromotionRow] = field(default_factory=list)


def promotion(area: Area) -> Promotion:
    """Per child of ``area`` (down to the grids), shops with and without a venue code, rolled up
    the tree: three queries, then sums by path prefix."""
    from territory.selectors import subtree_q

    children = children_of(area) if area.kind not in (AreaKind.GRID2,) else []
    children = [
        c for c in children if c.kind not in (AreaKind.BUILDING, AreaKind.UNIT, AreaKind.HOUSEHOLD, AreaKind.ESTATE)
    ]
    width = len(area.path) + SEGMENT_WIDTH
    by_prefix: dict[str, PromotionRow] = {c.path: PromotionRow(area=c) for c in children}
    total = PromotionRow(area=area)
    shop_rows = Shop.objects.filter(subtree_q(area.path)).values_list("area_path", "venue__status")
    for path, status in shop_rows:
        row = by_prefix.get(path[:width])
        for target in (row, total):
            if target is None:
                continue
            target.shops += 1
            if status == VenueStatus.APPROVED:
                target.shops_with_code += 1
    for path, status in Venue.objects.filter(subtree_q(area.path)).values_list("area_path", "status"):
        for target in (by_prefix.get(path[:width]), total):
            if target is None:
                continue
            if status == VenueStatus.APPROVED:
                target.venues += 1
            elif status == VenueStatus.PENDING:
                target.pending += 1
    return Promotion(area=area, total=total, rows=list(by_prefix.values()))


def promotion_roots(user: Any) -> list[Area]:
    scope = scope_for(user, Cap.VENUES_MANAGE)
    return list(Area.objects.filter(path__in=scope.paths).order_by("path"))


def saved_companions(owner_id: int) -> list[Any]:
    return [
        s.companion
        for s in SavedCompanion.objects.filter(owner_id=owner_id).select_related("companion").order_by("created_at")
    ]


def companion_candidates(user: Any) -> list[Any]:
    """People a resident may check in with their own scan: their household and saved companions."""
    return resident_and_companions(user)[1]


def resident_and_companions(user: Any) -> tuple[Any, list[Any]]:
    """The resident's own person and their companion candidates, in two queries."""
    from people import selectors as people_selectors

    me, household = people_selectors.account_household(user)
    if me is None:
        return None, []
    seen = {p.pk for p in household}
    return me, household + [p for p in saved_companions(me.pk) if p.pk not in seen]


def census_grids(user: Any) -> list[Area]:
    """The grids where the user may register shops found door to door (staff of the territory)."""
    scope = scope_for(user, Cap.VENUES_MANAGE)
    if scope.is_empty:
        return []
    return list(Area.objects.filter(scope.q("path"), kind__in=[AreaKind.GRID1, AreaKind.GRID2]).order_by("path"))


def shop_for_user(user: Any, pk: int) -> Shop | None:
    """A shop of the user's territory (with its venue, if any), or None."""
    shop = Shop.objects.select_related("area", "venue").filter(pk=pk).first()
    if shop is None or not scope_for(user, Cap.VENUES_MANAGE).contains(shop.area_path):
        return None
    return shop
