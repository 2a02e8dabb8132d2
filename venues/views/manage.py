"""Pages for venue managers and the staff of a venue's territory."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit.services import Actor
from common.errors import DomainError
from territory.selectors import area_get
from venues import services
from venues.codes import make_code_token
from venues.forms import EntranceForm, ReviewForm, SentinelForm, VenueApplyForm
from venues.models import Shop, VenueStatus
from venues.poster import render_poster
from venues.selectors import checkins as checkin_selectors
from venues.selectors import codes as code_selectors
from venues.selectors import venues as selectors


@require_GET
@login_required
def venue_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in VenueStatus.values:
        status = ""
    qs = selectors.venues_for_user(request.user, status=status)
    page = Paginator(qs, settings.FANGYI["PAGE_SIZE"]).get_page(request.GET.get("page"))
    return render(
        request,
        "venues/venue_list.html",
        {
            "page": page,
            "status": status,
            "statuses": VenueStatus.choices,
            "can_apply": bool(selectors.grids_for_apply(request.user)),
            "can_promote": not scope_for(request.user, Cap.VENUES_MANAGE).is_empty,
        },
    )


@require_GET
@login_required
def venue_export(request: HttpRequest) -> StreamingHttpResponse:
    """The venue ledger of the user's territory as CSV (staff of a territory, not venue managers)."""
    if scope_for(request.user, Cap.VENUES_MANAGE).is_empty:
        raise Http404
    now = timezone.now()
    qs = selectors.venues_for_user(request.user)
    response = StreamingHttpResponse(
        services.venues_export(actor=Actor.from_request(request), venues=qs, now=now),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="venues-{timezone.localdate(now):%Y%m%d}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def venue_apply(request: HttpRequest) -> HttpResponse:
    grids = selectors.grids_for_apply(request.user)
    if not grids:
        raise Http404
    initial = {}
    shop = None
    shop_id = request.POST.get("shop") or request.GET.get("shop")
    if shop_id and str(shop_id).isdigit():
        shop = Shop.objects.filter(pk=int(shop_id)).first()
        if shop is None or not scope_for(request.user, Cap.VENUES_APPLY).contains(shop.area_path):
            raise Http404
        initial = {
            "name": shop.name,
            "category": shop.category,
            "address": shop.address[:120],
            "shop": shop.pk,
            "contact_phone": shop.contact_phone,
        }
        grid = next((g for g in grids if shop.area_path.startswith(g.path)), None)
        if grid:
            initial["grid"] = grid.pk
    form = VenueApplyForm(request.POST or None, grids=grids, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            grid = next(g for g in grids if g.pk == data["grid"])
            is_manager = not scope_for(request.user, Cap.VENUES_MANAGE).contains(grid.path)
            try:
                venue = services.venue_apply(
                    actor=Actor.from_request(request),
                    data=services.VenueData(
                        name=data["name"],
                        category=data["category"],
                        address=data["address"],
                        contact_name=data["contact_name"],
                        contact_phone=data["contact_phone"],
                        committed=data["committed"],
                        entrance_names=form.entrance_names(),
                        latitude=data.get("latitude"),
                        longitude=data.get("longitude"),
                    ),
                    grid=grid,
                    shop=shop,
                    manager=request.user if is_manager else None,
                    now=timezone.now(),
                )
            except DomainError as exc:
                form.add_error(
                    exc.details.get("field") if exc.details.get("field") in form.fields else None, str(exc.message)
                )
                status = exc.status
            else:
                messages.success(request, _("The application has been submitted."))
                return redirect("venues:detail", pk=venue.pk)
        else:
            status = 400
    return render(request, "venues/venue_apply.html", {"form": form, "shop": shop}, status=status)


@require_GET
@login_required
def venue_detail(request: HttpRequest, pk: int) -> HttpResponse:
    venue = selectors.get_venue_for_user(request.user, pk)
    now = timezone.now()
    entrances = [(e, selectors.live_code(e)) for e in venue.entrances.order_by("number")]
    return render(
        request,
        "venues/venue_detail.html",
        {
            "venue": venue,
            "entrances": entrances,
            "stats": checkin_selectors.venue_stats(venue.pk, now=now),
            "can_review": venue.status == VenueStatus.PENDING and selectors.can_review(request.user, venue),
            "review_form": ReviewForm(),
            "entrance_form": EntranceForm(),
        },
    )


@require_POST
@login_required
def venue_review(request: HttpRequest, pk: int) -> HttpResponse:
    venue = selectors.get_venue_for_user(request.user, pk)
    if not selectors.can_review(request.user, venue):
        raise Http404
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose approve or reject."))
        return redirect("venues:detail", pk=pk)
    try:
        services.venue_review(
            actor=Actor.from_request(request),
            venue=venue,
            approve=form.cleaned_data["decision"] == "approve",
            note=form.cleaned_data["note"],
            now=timezone.now(),
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
    return redirect("venues:detail", pk=pk)


@require_POST
@login_required
def entrance_add(request: HttpRequest, pk: int) -> HttpResponse:
    venue = selectors.get_venue_for_user(request.user, pk)
    form = EntranceForm(request.POST)
    if form.is_valid():
        try:
            services.entrance_add(
                actor=Actor.from_request(request), venue=venue, name=form.cleaned_data["name"], now=timezone.now()
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
    else:
        messages.error(request, _("Give the entrance a name."))
    return redirect("venues:detail", pk=pk)


@require_POST
@login_required
def code_rotate(request: HttpRequest, pk: int, entrance_id: int) -> HttpResponse:
    venue = selectors.get_venue_for_user(request.user, pk)
    entrance = selectors.get_entrance(venue, entrance_id)
    services.code_rotate(actor=Actor.from_request(request), entrance=entrance, now=timezone.now())
    messages.success(request, _("A new code was issued; posters of the old code no longer work. Print the new poster."))
    return redirect("venues:detail", pk=pk)


@require_POST
@login_required
def code_revoke(request: HttpRequest, pk: int, entrance_id: int) -> HttpResponse:
    venue = selectors.get_venue_for_user(request.user, pk)
    entrance = selectors.get_entrance(venue, entrance_id)
    services.code_revoke(actor=Actor.from_request(request), entrance=entrance, now=timezone.now())
    messages.success(request, _("The code was withdrawn; its posters no longer work."))
    return redirect("venues:detail", pk=pk)


@require_GET
@login_required
def poster(request: HttpRequest, pk: int, entrance_id: int) -> HttpResponse:
    venue = selectors.get_venue_for_user(request.user, pk)
    entrance = selectors.get_entrance(venue, entrance_id)
    code = selectors.live_code(entrance)
    if code is None or venue.status != VenueStatus.APPROVED:
        raise Http404
    now = timezone.now()
    url = request.build_absolute_uri(reverse("scan:scan", args=[make_code_token(code.pk)]))
    pdf = render_poster(
        url=url,
        venue_name=venue.name,
        address=venue.address,
        entrance_name=entrance.name,
        code_number=code.number,
        generated_on=timezone.localdate(now),
    )
    services.poster_printed(actor=Actor.from_request(request), code=code, now=now)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="venue-code-{code.number}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def sentinel(request: HttpRequest, pk: int) -> HttpResponse:
    """数字哨兵: the venue's device scans a health code (camera or keyboard-wedge scanner) or staff
    type an ID number; the same check-in and verdict as a resident's own scan."""
    venue = selectors.get_venue_for_user(request.user, pk)
    entrances = list(venue.entrances.order_by("number"))
    form = SentinelForm(request.POST or None, entrances=entrances)
    result = None
    error = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            now = timezone.now()
            try:
                entrance = code_selectors.entrance_info(form.cleaned_data["entrance"])
                outcome = services.sentinel_checkin(
                    account=request.user,
                    entrance=entrance,
                    code=form.cleaned_data["code"],
                    client_key=form.cleaned_data["client_key"],
                    now=now,
                )
                result = checkin_selectors.scan_lines(outcome.rows, now=now)
            except DomainError as exc:
                error, status = str(exc.message), exc.status
        else:
            error, status = _("Scan a health code or type an ID number."), 400
        entrance_id = request.POST.get("entrance")
        form = SentinelForm(initial={"client_key": uuid.uuid4().hex, "entrance": entrance_id}, entrances=entrances)
    else:
        form = SentinelForm(initial={"client_key": uuid.uuid4().hex}, entrances=entrances)
    return render(
        request,
        "venues/sentinel.html",
        {"venue": venue, "form": form, "result": result, "error": error, "server_ts": timezone.now().timestamp()},
        status=status,
    )


@require_GET
@login_required
def promotion(request: HttpRequest) -> HttpResponse:
    """推广场所码: per grid, the shops with and without a venue code; figures roll up the tree."""
    scope = scope_for(request.user, Cap.VENUES_MANAGE)
    if scope.is_empty:
        raise Http404
    area_id = request.GET.get("area", "")
    if area_id.isdigit():
        try:
            area = area_get(int(area_id))
        except ObjectDoesNotExist:
            raise Http404 from None
        if not scope.contains(area.path):
            raise Http404
    else:
        roots = selectors.promotion_roots(request.user)
        if not roots:
            raise Http404
        area = roots[0]
    data = selectors.promotion(area)
    shops = selectors.shops_without_venue(area.path) if not data.rows else []
    return render(
        request,
        "venues/promotion.html",
        {"promotion": data, "shops": shops, "can_register": bool(selectors.census_grids(request.user))},
    )
