"""Rounds, sites and coverage: command HQ, admins and grid workers."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Cap
from accounts.selectors import has_cap, scope_for
from audit.services import Actor
from common.errors import DomainError
from people import selectors as people_selectors
from territory.models import Area, AreaKind
from territory.selectors import ancestors_of, area_get, grids_in
from testing import selectors, services
from testing.forms import DeadlineForm, RoundForm, SiteForm
from testing.models import Laboratory, Round
from testing.views._common import int_param, require_cap


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    if people_selectors.person_for_account(request.user) is not None:
        return redirect("testing:sites_near")
    now = timezone.now()
    overdue = selectors.overdue_rounds_for_user(request.user, now=now)
    by_pk = {o.round.pk: o for o in overdue}
    rounds = [(r, r.phase(now), by_pk.get(r.pk)) for r in selectors.rounds_for_user(request.user)[:50]]
    return render(
        request,
        "testing/index.html",
        {
            "rounds": rounds,
            "now": now,
            "overdue": overdue,
            "can_manage": has_cap(request.user, Cap.TESTING_MANAGE),
            "is_sampler": has_cap(request.user, Cap.TESTING_SAMPLE),
            "is_lab": has_cap(request.user, Cap.TESTING_LAB),
            "can_field": has_cap(request.user, Cap.TESTING_FIELD),
        },
    )


def _areas_for(request: HttpRequest, cap: Cap, kinds: list[str]) -> list[Area]:
    scope = scope_for(request.user, cap)
    return list(Area.objects.filter(scope.q("path"), kind__in=kinds).order_by("path")[:500])


@require_http_methods(["GET", "POST"])
@login_required
def round_create(request: HttpRequest) -> HttpResponse:
    require_cap(request, Cap.TESTING_MANAGE)
    areas = _areas_for(
        request, Cap.TESTING_MANAGE, [AreaKind.DISTRICT, AreaKind.SUBDISTRICT, AreaKind.COMMUNITY, AreaKind.GRID1]
    )
    labs = list(Laboratory.objects.order_by("name"))
    now = timezone.now()
    form = RoundForm(request.POST or None, initial={"starts_at": timezone.localtime(now).strftime("%Y-%m-%dT%H:%M")})
    form.fields["area"].widget.choices = [(a.pk, a.name) for a in areas]
    form.fields["laboratory"].widget.choices = [("", "—"), *[(lab.pk, lab.name) for lab in labs]]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        area = next((a for a in areas if a.pk == d["area"]), None)
        lab = next((x for x in labs if x.pk == d.get("laboratory")), None)
        if area is None:
            form.add_error("area", _("Choose a territory you command."))
        else:
            try:
                rnd = services.round_create(
                    actor=Actor.from_request(request),
                    name=d["name"],
                    area=area,
                    pool_size=d["pool_size"],
                    starts_at=d["starts_at"],
                    deadline_at=d.get("deadline_at"),
                    categories=d["categories"],
                    laboratory=lab,
                    now=now,
                )
            except DomainError as exc:
                form.add_error(exc.details.get("field"), str(exc.message))
            else:
                messages.success(request, _("Round opened."))
                return redirect("testing:round", pk=rnd.pk)
    return render(request, "testing/round_form.html", {"form": form})


@require_GET
@login_required
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = selectors.get_round_for_user(request.user, pk)
    return _round_page(request, rnd)


def _round_page(
    request: HttpRequest, rnd: Round, *, deadline_form: DeadlineForm | None = None, status: int = 200
) -> HttpResponse:
    root = area_get(int(selectors.view_root(request.user, rnd)[-8:]))
    total, children = selectors.coverage_children(rnd, root)
    sites = list(rnd.sites.select_related("area").order_by("name"))
    now = timezone.now()
    queues = selectors.site_queues(sites, now=now)
    sites_scope = scope_for(request.user, Cap.TESTING_SITES)
    reveal_scope = scope_for(request.user, Cap.REVEAL_ID)
    can_manage = selectors.may_manage_round(request.user, rnd)
    can_sites = any(rnd.area_path.startswith(p) or p.startswith(rnd.area_path) for p in sites_scope.paths)
    if deadline_form is None and can_manage and rnd.is_open:
        deadline_form = DeadlineForm(
            initial={"deadline_at": timezone.localtime(rnd.deadline_at).strftime("%Y-%m-%dT%H:%M")}
        )
    return render(
        request,
        "testing/round_detail.html",
        {
            "round": rnd,
            "phase": rnd.phase(now),
            "now": now,
            "root": root,
            "total": total,
            "children": children,
            "queues": queues,
            "can_manage": can_manage,
            "can_sites": can_sites,
            "managed_sites": {s.pk for s in sites if sites_scope.contains(s.area_path)},
            "unmask_sites": {s.pk for s in sites if reveal_scope.contains(s.area_path)},
            "can_field": has_cap(request.user, Cap.TESTING_FIELD),
            "deadline_form": deadline_form,
            "deadline_changes": list(selectors.deadline_changes(rnd)[:50]),
            "uncovered": selectors.uncovered_home_count(request.user, rnd) if can_sites and rnd.is_open else 0,
        },
        status=status,
    )


@require_POST
@login_required
def round_deadline(request: HttpRequest, pk: int) -> HttpResponse:
    """Command HQ sets a new deadline for an open round, with the reason; anyone else who sees the
    round is told why not (403), a closed round answers 409."""
    rnd = selectors.get_round_for_user(request.user, pk)
    form = DeadlineForm(request.POST)
    if not form.is_valid():
        return _round_page(request, rnd, deadline_form=form, status=400)
    try:
        services.round_deadline_set(
            actor=Actor.from_request(request),
            rnd=rnd,
            deadline_at=form.cleaned_data["deadline_at"],
            reason=form.cleaned_data["reason"],
            now=timezone.now(),
        )
    except DomainError as exc:
        if exc.status == 400:
            form.add_error(exc.details.get("field"), str(exc.message))
        else:
            form.add_error(None, str(exc.message))
        return _round_page(request, rnd, deadline_form=form, status=exc.status)
    messages.success(request, _("New deadline set."))
    return redirect("testing:round", pk=rnd.pk)


@require_POST
@login_required
def round_close(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = selectors.get_round_for_user(request.user, pk, cap=Cap.TESTING_MANAGE)
    if not scope_for(request.user, Cap.TESTING_MANAGE).contains(rnd.area_path):
        from django.http import Http404

        raise Http404
    try:
        services.round_close(actor=Actor.from_request(request), rnd=rnd, now=timezone.now())
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Round closed; its figures are kept."))
    return redirect("testing:round", pk=rnd.pk)


@require_http_methods(["GET", "POST"])
@login_required
def site_create(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = selectors.get_round_for_user(request.user, pk, cap=Cap.TESTING_SITES)
    scope = scope_for(request.user, Cap.TESTING_SITES)
    grids = [g for g in grids_in(rnd.area_path) if scope.contains(g.path)]
    labs = list(Laboratory.objects.order_by("name"))
    form = SiteForm(request.POST or None)
    form.fields["grid"].widget.choices = [(g.pk, g.name) for g in grids]
    form.fields["laboratory"].widget.choices = [("", "—"), *[(lab.pk, lab.name) for lab in labs]]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        grid = next((g for g in grids if g.pk == d["grid"]), None)
        if grid is None:
            form.add_error("grid", _("Choose a grid of your territory."))
        else:
            try:
                services.site_create(
                    actor=Actor.from_request(request),
                    rnd=rnd,
                    name=d["name"],
                    location=d["location"],
                    grid=grid,
                    hours=d.get("hours") or "",
                    laboratory=next((x for x in labs if x.pk == d.get("laboratory")), None),
                    now=timezone.now(),
                )
            except DomainError as exc:
                form.add_error(exc.details.get("field"), str(exc.message))
            else:
                messages.success(request, _("Site added."))
                return redirect("testing:round", pk=rnd.pk)
    return render(request, "testing/site_form.html", {"form": form, "round": rnd})


@require_GET
@login_required
def coverage(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = selectors.get_round_for_user(request.user, pk)
    area_id = int_param(request.GET.get("area"))
    if area_id is None:
        node = area_get(int(selectors.view_root(request.user, rnd)[-8:]))
    else:
        node = selectors.get_area_in_round_for_user(request.user, rnd, area_id)
    ctx = {
        "round": rnd,
        "node": node,
        "trail": [a for a in ancestors_of(node) if a.path.startswith(rnd.area_path)],
        "now": timezone.now(),
    }
    if node.kind == AreaKind.HOUSEHOLD and not rnd.keeps_node_figures:
        ctx["members"] = selectors.household_members_state(rnd, node)
    else:
        # A closed round keeps a household's figures, not who was left in it.
        ctx["total"], ctx["children"] = selectors.coverage_children(rnd, node)
        if node.kind == AreaKind.HOUSEHOLD:
            ctx["children"] = []
    template = "testing/_coverage_table.html" if request.headers.get("HX-Request") else "testing/coverage.html"
    return render(request, template, ctx)
