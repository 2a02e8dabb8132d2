from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import Cap
from accounts.selectors import has_cap
from audit.selectors import audit_entries


@require_GET
@login_required
def entry_list(request: HttpRequest) -> HttpResponse:
    if not has_cap(request.user, Cap.AUDIT_VIEW):
        raise Http404
    action = request.GET.get("action", "")[:64]
    page = Paginator(audit_entries(action=action), 50).get_page(request.GET.get("page"))
    return render(request, "audit/entry_list.html", {"page": page, "action": action})
