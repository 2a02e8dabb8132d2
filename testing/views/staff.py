"""Staffing, set by community and subdistrict admins and command HQ: samplers at sampling sites, and
home-sampling teams with their members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.roles import Cap
from audit.services import Actor
from common.errors import DomainError
from testing import selectors, services
from testing.forms import AssignForm, StaffForm, TeamForm, TeamMoveForm


def _pick(candidates: list[User], user_pk: int | None) -> User | None:
    return next((u for u in candidates if u.pk == user_pk), None)


@require_http_methods(["GET", "POST"])
@login_required
def site_staff(request: HttpRequest, site_pk: int) -> HttpResponse:
    site = selectors.get_site_for_manager(request.user, site_pk)
    staff = selectors.site_staff_of(site)
    candidates = [u for u in selectors.site_staff_candidates(site)[:300] if u not in staff]
    form = StaffForm(request.POST or None)
    form.fields["user"].widget.choices = [(u.pk, f"{u} ({u.username})") for u in candidates]
    if request.method == "POST" and form.is_valid():
        user = _pick(candidates, form.cleaned_data["user"])
        if user is None:
            form.add_error("user", _("Choose a sampler of this site's territory."))
        else:
            try:
                services.site_staff_add(actor=Actor.from_request(request), site=site, user=user, now=timezone.now())
            except DomainError as exc:
                form.add_error(exc.details.get("field"), str(exc.message))
            else:
                messages.success(request, _("%(user)s now works at this site.") % {"user": user})
                return redirect("testing:site_staff", site_pk=site.pk)
    return render(
        request,
        "testing/site_staff.html",
        {"site": site, "round": site.round, "staff": staff, "form": form, "has_candidates": bool(candidates)},
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def site_staff_remove(request: HttpRequest, site_pk: int, user_pk: int) -> HttpResponse:
    site = selectors.get_site_for_manager(request.user, site_pk)
    user = _pick(selectors.site_staff_of(site), user_pk)
    if user is None:
        raise Http404
    services.site_staff_remove(actor=Actor.from_request(request), site=site, user=user, now=timezone.now())
    messages.success(request, _("%(user)s no longer works at this site.") % {"user": user})
    return redirect("testing:site_staff", site_pk=site.pk)


@require_http_methods(["GET", "POST"])
@login_required
def home_teams(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = selectors.get_round_for_user(request.user, pk, cap=Cap.TESTING_SITES)
    areas = selectors.team_areas_for_manager(request.user, rnd)
    form = TeamForm(request.POST or None)
    form.fields["area"].widget.choices = [(a.pk, f"{a.name} · {a.get_kind_display()}") for a in areas]
    if request.method == "POST" and form.is_valid():
        area = next((a for a in areas if a.pk == form.cleaned_data["area"]), None)
        if area is None:
            form.add_error("area", _("Choose a place of your territory."))
        else:
            try:
                team = services.home_team_create(
                    actor=Actor.from_request(request),
                    rnd=rnd,
                    name=form.cleaned_data["name"],
                    area=area,
                    members=[],
                    now=timezone.now(),
                )
            except DomainError as exc:
                form.add_error(exc.details.get("field"), str(exc.message))
            else:
                messages.success(request, _("Team set up; add its members."))
                return redirect("testing:home_team", team_pk=team.pk)
    return render(
        request,
        "testing/home_teams.html",
        {
            "round": rnd,
            "rows": selectors.teams_for_manager(request.user, rnd),
            "form": form,
            "uncovered": selectors.uncovered_home_count(request.user, rnd),
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def home_team(request: HttpRequest, team_pk: int) -> HttpResponse:
    team = selectors.get_team_for_manager(request.user, team_pk)
    members = [link.user for link in team.members.select_related("user").order_by("user__username")]
    candidates = [u for u in selectors.team_member_candidates(team)[:300] if u not in members]
    form = StaffForm(request.POST or None)
    form.fields["user"].widget.choices = [(u.pk, f"{u} ({u.username})") for u in candidates]
    if request.method == "POST" and form.is_valid():
        user = _pick(candidates, form.cleaned_data["user"])
        if user is None:
            form.add_error("user", _("Choose a sampler or grid worker of the team's area."))
        else:
            try:
                services.home_team_member_add(
                    actor=Actor.from_request(request), team=team, user=user, now=timezone.now()
                )
            except DomainError as exc:
                form.add_error(exc.details.get("field"), str(exc.message))
            else:
                messages.success(request, _("%(user)s joined the team.") % {"user": user})
                return redirect("testing:home_team", team_pk=team.pk)
    targets = selectors.move_targets(request.user, team)
    move_form = TeamMoveForm()
    move_form.fields["to_team"].widget.choices = [(t.pk, f"{t.name} · {t.area.name}") for t in targets]
    return render(
        request,
        "testing/home_team.html",
        {
            "team": team,
            "round": team.round,
            "members": members,
            "form": form,
            "has_candidates": bool(candidates),
            "visits": selectors.team_pending_visits(team),
            "move_form": move_form,
            "has_targets": bool(targets),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def home_team_member_remove(request: HttpRequest, team_pk: int, user_pk: int) -> HttpResponse:
    team = selectors.get_team_for_manager(request.user, team_pk)
    link = team.members.select_related("user").filter(user_id=user_pk).first()
    if link is None:
        raise Http404
    services.home_team_member_remove(actor=Actor.from_request(request), team=team, user=link.user, now=timezone.now())
    messages.success(request, _("%(user)s left the team.") % {"user": link.user})
    return redirect("testing:home_team", team_pk=team.pk)


@require_POST
@login_required
def home_team_move(request: HttpRequest, team_pk: int) -> HttpResponse:
    """Give some or all of the team's visits to make to another team of the round."""
    team = selectors.get_team_for_manager(request.user, team_pk)
    form = TeamMoveForm(request.POST)
    to_team = None
    if form.is_valid():
        targets = selectors.move_targets(request.user, team)
        to_team = next((t for t in targets if t.pk == form.cleaned_data["to_team"]), None)
    if to_team is None:
        messages.error(request, _("Choose another team of this round."))
        return redirect("testing:home_team", team_pk=team.pk)
    if form.cleaned_data["everything"]:
        ids = [v["request"].pk for v in selectors.team_pending_visits(team)]
    else:
        ids = [int(v) for v in request.POST.getlist("request") if v.isdigit()]
    try:
        n = services.home_requests_move(
            actor=Actor.from_request(request), team=team, request_ids=ids, to_team=to_team, now=timezone.now()
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request,
            ngettext("%(n)s visit moved to %(team)s.", "%(n)s visits moved to %(team)s.", n)
            % {"n": n, "team": to_team.name},
        )
    return redirect("testing:home_team", team_pk=team.pk)


@require_POST
@login_required
def home_team_delete(request: HttpRequest, team_pk: int) -> HttpResponse:
    """Disband a team; refused, with the reason, while it has visits to make."""
    team = selectors.get_team_for_manager(request.user, team_pk)
    try:
        services.home_team_delete(actor=Actor.from_request(request), team=team, now=timezone.now())
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("testing:home_team", team_pk=team.pk)
    messages.success(request, _("Team %(team)s disbanded.") % {"team": team.name})
    return redirect("testing:home_teams", pk=team.round_id)


@require_http_methods(["GET", "POST"])
@login_required
def home_uncovered(request: HttpRequest, pk: int) -> HttpResponse:
    """Home visits no team covers, in the admin's part of the round, each with the teams that could take
    it; assigning one is audited."""
    rnd = selectors.get_round_for_user(request.user, pk, cap=Cap.TESTING_SITES)
    if request.method == "POST":
        form = AssignForm(request.POST)
        ids = [int(v) for v in request.POST.getlist("request") if v.isdigit()]
        selectors.require_requests_for_manager(request.user, rnd, ids)
        team = selectors.get_team_for_manager(request.user, form.cleaned_data["team"]) if form.is_valid() else None
        if team is None or team.round_id != rnd.pk:
            messages.error(request, _("Choose a team that works where the home is."))
        else:
            try:
                n = services.home_requests_assign(
                    actor=Actor.from_request(request), rnd=rnd, request_ids=ids, team=team, now=timezone.now()
                )
            except DomainError as exc:
                messages.error(request, str(exc.message))
            else:
                messages.success(
                    request,
                    ngettext("%(n)s visit given to %(team)s.", "%(n)s visits given to %(team)s.", n)
                    % {"n": n, "team": team.name},
                )
        return redirect("testing:home_uncovered", pk=rnd.pk)
    rows = selectors.uncovered_home_requests(request.user, rnd)  # the list only when it is shown
    return render(request, "testing/home_uncovered.html", {"round": rnd, "rows": rows})
