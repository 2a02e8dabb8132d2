from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import Cap, Role
from accounts.selectors import has_cap, memberships_of, scope_for
from people.selectors import people_for_user
from testing import selectors as testing_selectors


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if getattr(user, "person_id", None) and not memberships_of(user):
        return redirect("people:me")
    scope = scope_for(user, Cap.PEOPLE_VIEW)
    people_count = people_for_user(user).count() if not scope.is_empty else None
    roles = [(Role(r).label, name) for r, _p, _i, name in memberships_of(user)]
    now = timezone.now()
    # Command HQ sees first what waits for its decision: rounds past their deadline, still open.
    overdue = testing_selectors.overdue_rounds_for_user(user, now=now) if has_cap(user, Cap.TESTING_MANAGE) else []
    return render(
        request,
        "dashboard/home.html",
        {"roles": roles, "people_count": people_count, "overdue": overdue, "now": now},
    )
