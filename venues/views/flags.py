"""Review of flagged check-ins (epidemiologists): the list, and the finding on one."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from audit.services import Actor
from common.errors import DomainError
from venues import services
from venues.forms import FlagReviewForm
from venues.models import FlagOutcome
from venues.selectors import flags as selectors


def _state(raw: str | None) -> str:
    return raw if raw in selectors.STATES else "open"


@require_GET
@login_required
def flag_list(request: HttpRequest) -> HttpResponse:
    state = _state(request.GET.get("state"))
    qs = selectors.flagged_checkins(request.user, state=state, now=timezone.now())  # 404 without the capability
    page = Paginator(qs, settings.FANGYI["PAGE_SIZE"]).get_page(request.GET.get("page"))
    return render(
        request,
        "venues/flags.html",
        {
            "page": page,
            "rows": selectors.flag_rows(list(page.object_list)),
            "state": state,
            "states": [("open", _("To review")), ("reviewed", _("Reviewed")), ("all", _("All"))],
            "outcomes": FlagOutcome.choices,
        },
    )


@require_POST
@login_required
def flag_review(request: HttpRequest, checkin_id: int) -> HttpResponse:
    now = timezone.now()
    checkin = selectors.get_flagged_for_user(request.user, checkin_id, now=now)
    form = FlagReviewForm(request.POST)
    back = reverse("venues:flags") + f"?state={_state(request.POST.get('state'))}#flag-{checkin_id}"
    if not form.is_valid():
        messages.error(request, _("Choose an outcome."))
        return redirect(back)
    try:
        services.flag_review(
            actor=Actor.from_request(request),
            checkin=checkin,
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
            now=now,
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The review has been recorded. Nobody's health code was changed."))
    return redirect(back)
