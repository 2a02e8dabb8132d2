"""A resident's own trail (行动轨迹) and saved companions; an epidemiologist's view of anyone's trail."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Cap
from audit.services import Actor, audit_record
from common.errors import DomainError
from people import selectors as people_selectors
from venues import services
from venues.forms import CompanionForm
from venues.selectors import checkins as checkin_selectors
from venues.selectors import venues as venue_selectors


def _since(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=int(settings.FANGYI["CHECKIN_RETENTION_DAYS"]))


@require_GET
@login_required
def my_trail(request: HttpRequest) -> HttpResponse:
    person_id = getattr(request.user, "person_id", None)
    if not person_id:
        raise Http404
    now = timezone.now()
    trail = checkin_selectors.person_trail(person_id, since=_since(now))
    return render(request, "venues/trail.html", {"trail": trail, "own": True})


@require_GET
@login_required
def person_trail(request: HttpRequest, person_id: int) -> HttpResponse:
    """For tracing: only a role holding venues.trace over the person's area; everyone else 404."""
    person = people_selectors.get_person_for_user(request.user, person_id, cap=Cap.VENUES_TRACE)
    now = timezone.now()
    trail = checkin_selectors.person_trail(person.pk, since=_since(now))
    audit_record(actor=Actor.from_request(request), action="venue.trail_view", obj=person, now=now)
    return render(request, "venues/trail.html", {"trail": trail, "own": False, "person": person})


@require_http_methods(["GET", "POST"])
@login_required
def companions(request: HttpRequest) -> HttpResponse:
    person_id = getattr(request.user, "person_id", None)
    if not person_id:
        raise Http404
    form = CompanionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.companion_save(
                    actor=Actor.from_request(request),
                    owner_id=person_id,
                    name=form.cleaned_data["name"],
                    id_number=form.cleaned_data["id_number"],
                    now=timezone.now(),
                )
            except DomainError as exc:
                form.add_error(None, str(exc.message))
                status = exc.status
            else:
                messages.success(request, _("Companion saved."))
                return redirect("venues:companions")
        else:
            status = 400
    return render(
        request,
        "venues/companions.html",
        {"form": form, "saved": venue_selectors.saved_companions(person_id)},
        status=status,
    )


@require_POST
@login_required
def companion_remove(request: HttpRequest, companion_id: int) -> HttpResponse:
    person_id = getattr(request.user, "person_id", None)
    if not person_id or companion_id not in {p.pk for p in venue_selectors.saved_companions(person_id)}:
        raise Http404
    services.companion_remove(
        actor=Actor.from_request(request), owner_id=person_id, companion_id=companion_id, now=timezone.now()
    )
    return redirect("venues:companions")
