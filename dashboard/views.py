from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.roles import Cap, Role
from accounts.selectors import memberships_of, scope_for
from people.selectors import people_for_user


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if getattr(user, "person_id", None) and not memberships_of(user):
        return redirect("people:me")
    scope = scope_for(user, Cap.PEOPLE_VIEW)
    people_count = people_for_user(user).count() if not scope.is_empty else None
    roles = [(Role(r).label, name) for r, _p, _i, name in memberships_of(user)]
    return render(request, "dashboard/home.html", {"roles": roles, "people_count": people_count})
