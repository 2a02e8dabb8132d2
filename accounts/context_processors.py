"""Role-aware navigation: each entry shows only to users whose roles can use it."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.roles import Cap
from accounts.selectors import has_cap, memberships_of

# (label, url name, capability or None for "any signed-in staff", resident-only)
NAV: list[tuple[Any, str, Cap | None]] = [
    (_("Home"), "dashboard:home", None),
    (_("People"), "people:list", Cap.PEOPLE_VIEW),
    (_("Import roster"), "people:import", Cap.PEOPLE_IMPORT),
    (_("Territory"), "territory:tree", Cap.TERRITORY_VIEW),
    (_("Audit log"), "audit:list", Cap.AUDIT_VIEW),
    (_("Testing"), "testing:index", Cap.TESTING_VIEW),
    (_("Sampler station"), "testing:station_index", Cap.TESTING_SAMPLE),
    (_("Laboratory"), "testing:lab", Cap.TESTING_LAB),
    (_("Status change"), "health:change", Cap.HEALTH_STATUS_CHANGE),
    (_("Status approvals"), "health:approvals", Cap.HEALTH_STATUS_APPROVE),
    (_("Status rules"), "health:rules", Cap.HEALTH_RULES),
    (_("Venue codes"), "venues:list", Cap.VENUES_APPLY),
    (_("Flagged check-ins"), "venues:flags", Cap.VENUES_TRACE),
]


def navigation(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    items = []
    for label, name, cap in NAV:
        if cap is None or has_cap(user, cap):
            items.append({"label": label, "url": reverse(name), "active": request.path == reverse(name)})
    return {"nav": items, "my_memberships": memberships_of(user)}
