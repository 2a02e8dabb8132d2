"""The resident's view: sampling sites near their grid with a live queue estimate."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from people import selectors as people_selectors
from testing import selectors


@require_GET
@login_required
def sites_near(request: HttpRequest) -> HttpResponse:
    person = people_selectors.person_for_account(request.user)
    if person is None:
        return redirect("testing:index")
    now = timezone.now()
    queues = selectors.sites_near(person, now=now)
    template = "testing/_site_queues.html" if request.headers.get("HX-Request") else "testing/sites_near.html"
    return render(request, template, {"queues": queues, "person": person, "now": now})
