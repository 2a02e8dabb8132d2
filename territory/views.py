from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.roles import Cap
from accounts.selectors import memberships_of, scope_for
from people.selectors import get_area_for_user
from territory.models import Area, AreaKind
from territory.selectors import ancestors_of


@require_GET
@login_required
def tree(request: HttpRequest) -> HttpResponse:
    """Start at the user's own area (the first membership that lets them browse the territory)."""
    scope = scope_for(request.user, Cap.TERRITORY_VIEW)
    if scope.is_empty:
        raise Http404
    for _role, path, area_id, _name in memberships_of(request.user):
        if path in scope.paths:
            return redirect("territory:area", pk=area_id)
    raise Http404


@require_GET
@login_required
def area_detail(request: HttpRequest, pk: int) -> HttpResponse:
    area = get_area_for_user(request.user, pk, cap=Cap.TERRITORY_VIEW)
    scope = scope_for(request.user, Cap.TERRITORY_VIEW)
    children = Area.objects.filter(parent=area).annotate(n=Count("children")).order_by("name")
    trail = [a for a in ancestors_of(area) if scope.contains(a.path)]
    return render(
        request,
        "territory/area_detail.html",
        {"area": area, "children": children, "trail": trail, "household_kind": AreaKind.HOUSEHOLD},
    )
