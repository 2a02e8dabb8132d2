"""The person-status block on other apps' pages (people's person detail), with no ask of their views."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from accounts.roles import Cap
from accounts.selectors import has_cap
from health import selectors

register = template.Library()


@register.inclusion_tag("health/_person_status.html", takes_context=True)
def person_health(context: dict[str, Any], person: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "view": selectors.status_view(person.pk, now=timezone.now()),
        "person": person,
        "can_change": has_cap(user, Cap.HEALTH_STATUS_CHANGE),
    }
