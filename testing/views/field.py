"""Grid workers' pages: the call list, household actions, home-sampling lists, recheck tasks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit.services import Actor
from common.errors import DomainError
from people import selectors as people_selectors
from people.models import Person
from territory.models import Area, AreaKind
from territory.selectors import area_get, labels_for_paths
from testing import selectors, services
from testing.forms import CallForm, ExemptForm, HomeCloseForm, HomeRequestForm
from testing.models import HomeSamplingRequest, Round
from testing.views._common import int_param, require_cap


@require_GET
@login_required
def call_list(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = selectors.get_round_for_user(request.user, pk, cap=Cap.TESTING_FIELD)
    area_id = int_param(request.GET.get("area"))
    if area_id is None:
        area = area_get(int(selectors.view_root(request.user, rnd, cap=Cap.TESTING_FIELD)[-8:]))
    else:
        area = selectors.get_area_in_round_for_user(request.user, rnd, area_id, cap=Cap.TESTING_FIELD)
    households = selectors.call_list(rnd, area)
    return render(
        request,
        "testing/call_list.html",
        {
            "round": rnd,
            "area": area,
            "households": households,
            "form": CallForm(),
            "can_reveal": scope_for(request.user, Cap.REVEAL_PHONE).contains(area.path),
        },
    )


def _household(request: HttpRequest, rnd_pk: int, household_pk: int) -> tuple[Round, Area]:
    rnd = selectors.get_round_for_user(request.user, rnd_pk, cap=Cap.TESTING_FIELD)
    household = selectors.get_area_in_round_for_user(request.user, rnd, household_pk, cap=Cap.TESTING_FIELD)
    if household.kind != AreaKind.HOUSEHOLD:
        raise Http404
    return rnd, household


@require_POST
@login_required
def call_record(request: HttpRequest, pk: int, household_pk: int) -> HttpResponse:
    rnd, household = _household(request, pk, household_pk)
    form = CallForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose the outcome of the call."))
    else:
        try:
            services.call_record(
                actor=Actor.from_request(request),
                rnd=rnd,
                household=household,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
                now=timezone.now(),
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Call recorded."))
    return redirect(request.POST.get("next") or f"/testing/rounds/{pk}/calls/")


def _person_in_round(request: HttpRequest, pk: int, person_pk: int) -> tuple[Round, Person]:
    rnd = selectors.get_round_for_user(request.user, pk, cap=Cap.TESTING_FIELD)
    person = people_selectors.get_person_for_user(request.user, person_pk)
    if not scope_for(request.user, Cap.TESTING_FIELD).contains(person.area_path) or not person.area_path.startswith(
        rnd.area_path
    ):
        raise Http404
    return rnd, person


@require_POST
@login_required
def person_action(request: HttpRequest, pk: int, person_pk: int, action: str) -> HttpResponse:
    """Pre-register, request home sampling, or exempt one person of the round."""
    rnd, person = _person_in_round(request, pk, person_pk)
    actor, now = Actor.from_request(request), timezone.now()
    try:
        if action == "prereg":
            services.preregistration_create(
                actor=actor, rnd=rnd, person=person, now=now, green_channel=True, note=request.POST.get("note", "")
            )
            messages.success(request, _("Pre-registered, with the green channel."))
        elif action == "home":
            form = HomeRequestForm(request.POST)
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            req = services.home_request_create(actor=actor, rnd=rnd, person=person, reason=reason, now=now)
            if req.team_id is None:
                messages.warning(
                    request,
                    _(
                        "Home sampling requested, but no home-sampling team works here yet: the community "
                        "admin sees it among the visits no team covers and gives it to a team."
                    ),
                )
            else:
                messages.success(request, _("Home sampling requested."))
        elif action == "exempt":
            ef = ExemptForm(request.POST)
            reason = ef.cleaned_data["reason"] if ef.is_valid() else ""
            services.exemption_create(
                actor=actor, rnd=rnd, person=person, reason=reason, proof=request.POST.get("proof", ""), now=now
            )
            messages.success(request, _("Exemption recorded."))
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, str(exc.message))
    return redirect(request.POST.get("next") or f"/testing/rounds/{pk}/calls/")


@require_POST
@login_required
def home_flagged(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = selectors.get_round_for_user(request.user, pk, cap=Cap.TESTING_FIELD)
    area = area_get(int(selectors.view_root(request.user, rnd, cap=Cap.TESTING_FIELD)[-8:]))
    try:
        n = services.home_requests_for_flagged(
            actor=Actor.from_request(request), rnd=rnd, area=area, now=timezone.now()
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("%(n)s home-sampling requests raised for people with limited mobility.") % {"n": n})
    return redirect("testing:home_list", pk=rnd.pk)


@require_GET
@login_required
def home_list(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = (
        selectors.get_round_for_user(request.user, pk, cap=Cap.TESTING_FIELD)
        if not scope_for(request.user, Cap.TESTING_FIELD).is_empty
        else _round_for_team(request, pk)
    )
    groups = selectors.home_list_for_user(request.user, rnd)
    can_field = scope_for(request.user, Cap.TESTING_FIELD).contains(rnd.area_path) or any(
        p.startswith(rnd.area_path) for p in scope_for(request.user, Cap.TESTING_FIELD).paths
    )
    return render(
        request,
        "testing/home_list.html",
        {"round": rnd, "groups": groups, "form": HomeCloseForm(), "can_field": can_field},
    )


def _round_for_team(request: HttpRequest, pk: int) -> Round:
    from testing.models import HomeTeamMember

    user_id = int(request.user.pk or 0)
    link = HomeTeamMember.objects.select_related("team__round").filter(user_id=user_id, team__round_id=pk).first()
    if link is None:
        raise Http404
    return link.team.round


@require_POST
@login_required
def home_close(request: HttpRequest, pk: int, request_pk: int) -> HttpResponse:
    rnd = (
        selectors.get_round_for_user(request.user, pk, cap=Cap.TESTING_FIELD)
        if not scope_for(request.user, Cap.TESTING_FIELD).is_empty
        else _round_for_team(request, pk)
    )
    allowed = {
        g["request"].pk
        for _b, floors in selectors.home_list_for_user(request.user, rnd)
        for _f, items in floors
        for g in items
    }
    if request_pk not in allowed:
        raise Http404
    req = HomeSamplingRequest.objects.get(pk=request_pk)
    form = HomeCloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose sampled, refused or absent."))
    else:
        try:
            services.home_request_close(
                actor=Actor.from_request(request),
                request=req,
                now=timezone.now(),
                outcome=form.cleaned_data["outcome"],
                barcode=form.cleaned_data["barcode"],
                note=form.cleaned_data["note"],
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Home visit closed."))
    return redirect("testing:home_list", pk=pk)


@require_GET
@login_required
def rechecks(request: HttpRequest) -> HttpResponse:
    require_cap(request, Cap.TESTING_FIELD)
    rows = selectors.recheck_tasks_for_user(request.user, open_only=request.GET.get("all") != "1")
    return render(request, "testing/rechecks.html", {"rows": rows})


@require_GET
@login_required
def household(request: HttpRequest, pk: int, household_pk: int) -> HttpResponse:
    rnd, hh = _household(request, pk, household_pk)
    members = selectors.household_members_state(rnd, hh)
    return render(
        request,
        "testing/household.html",
        {
            "round": rnd,
            "household": hh,
            "members": members,
            "address": labels_for_paths([hh.path])[hh.path],
            "calls": list(selectors.calls_of(rnd, hh)[:20]),
            "prereg": selectors.prereg_ids(rnd, [m.person_id for m in members]),
            "call_form": CallForm(),
            "exempt_form": ExemptForm(),
            "home_form": HomeRequestForm(),
            "can_reveal": scope_for(request.user, Cap.REVEAL_PHONE).contains(hh.path),
        },
    )
