"""Health pages: the resident's codes and history; the epidemiologist's change form; HQ approvals and
rules. Views parse, authorise (404 outside the user's reach), make one call and render."""

from __future__ import annotations

import threading
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Cap
from accounts.selectors import has_cap
from audit.services import Actor
from common.errors import DomainError
from health import selectors, services
from health.forms import RulesForm, StatusChangeForm
from health.models import RecomputeJob
from people import selectors as people_selectors

# Recompute in the request when the population is small; beyond it, in a background thread.
INLINE_RECOMPUTE_LIMIT = 20_000


def _me(request: HttpRequest) -> Any:
    person = people_selectors.person_for_account(request.user)
    if person is None:
        raise Http404
    return person


def _qr_svg(data: str, scale: int = 5) -> str:
    return str(segno.make(data, error="m").svg_inline(scale=scale, dark="#111"))


def _code_payload(person_id: int) -> dict[str, Any]:
    now = timezone.now()
    token, expires = selectors.health_token_for(person_id, now=now)
    view = selectors.status_view(person_id, now=now)
    return {
        "token": token,
        "svg": _qr_svg(token),
        "expires_at": expires.isoformat(),
        "server_time": now.isoformat(),
        "colour": view.colour,
        "badge": view.badge,
    }


@require_GET
@login_required
@never_cache
def code(request: HttpRequest) -> HttpResponse:
    person = _me(request)
    payload = _code_payload(person.pk)
    view = selectors.status_view(person.pk, now=timezone.now())
    return render(
        request,
        "health/code.html",
        {
            "person": person,
            "view": view,
            "payload": payload,
            "refresh_seconds": int(selectors.settings_policy("HEALTH_CODE_REFRESH_SECONDS")),
        },
    )


@require_GET
@login_required
@never_cache
def code_refresh(request: HttpRequest) -> JsonResponse:
    person = _me(request)
    return JsonResponse(_code_payload(person.pk))


@require_GET
@login_required
@never_cache
def sampling_code(request: HttpRequest) -> HttpResponse:
    person = _me(request)
    now = timezone.now()
    token, expires = selectors.sampling_token_for(person.pk, now=now)
    family = list(people_selectors.household_of(person))
    return render(
        request,
        "health/sampling_code.html",
        {"person": person, "svg": _qr_svg(token, 6), "token": token, "expires": expires, "family": family},
    )


@require_GET
@login_required
@never_cache
def sampling_card(request: HttpRequest, person_id: int) -> HttpResponse:
    """A printable card for oneself or a household member without a smartphone."""
    me = _me(request)
    member = next((p for p in people_selectors.household_of(me) if p.pk == person_id), None)
    if member is None:
        raise Http404
    now = timezone.now()
    token, expires = selectors.sampling_token_for(member.pk, now=now)
    return render(
        request,
        "health/sampling_card.html",
        {"member": member, "svg": _qr_svg(token, 7), "token": token, "expires": expires, "printed_at": now},
    )


@require_GET
@login_required
def history(request: HttpRequest) -> HttpResponse:
    person = _me(request)
    now = timezone.now()
    view = selectors.status_view(person.pk, now=now)
    rules = selectors.current_rules()
    return render(
        request,
        "health/history.html",
        {
            "person": person,
            "view": view,
            "clears": selectors.clears_text(view.reason_code, rules),
            "rows": [(h, selectors.reason_text(h.reason_code)) for h in selectors.history_for_person(person.pk)],
        },
    )


# --- staff ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def change(request: HttpRequest) -> HttpResponse:
    """The epidemiologist's status change, single or bulk by ID numbers. Others have no such page; a
    POST from them reaches the service, which refuses and audits the attempt."""
    if request.method == "GET" and not has_cap(request.user, Cap.HEALTH_STATUS_CHANGE):
        raise Http404
    initial = {"id_numbers": request.GET.get("id_number", "")}
    form = StatusChangeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        found, missing = selectors.person_ids_by_id_numbers(form.id_number_list())
        if missing and has_cap(request.user, Cap.HEALTH_STATUS_CHANGE):
            form.add_error("id_numbers", _("Unknown ID numbers: %(n)s") % {"n": ", ".join(missing[:20])})
        else:
            try:
                req = services.status_change_request(
                    actor=Actor.from_request(request),
                    person_ids=list(found.values()),
                    colour=form.cleaned_data["colour"],
                    reason_code=form.cleaned_data["reason_code"],
                    note=form.cleaned_data["note"],
                    now=timezone.now(),
                )
            except DomainError as exc:
                if exc.status == 403:
                    return render(request, "health/refused.html", {"message": exc.message}, status=403)
                form.add_error(None, str(exc.message))
            else:
                if req.state == "awaiting_approval":
                    messages.success(
                        request, _("The change of %(n)d people waits for HQ approval.") % {"n": req.person_count}
                    )
                else:
                    messages.success(request, _("Status changed for %(n)d people.") % {"n": req.applied_count})
                return redirect("health:change")
    status = 400 if request.method == "POST" else 200
    recent = selectors.change_requests()[:20]
    return render(request, "health/change.html", {"form": form, "recent": recent}, status=status)


@require_GET
@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    if not (has_cap(request.user, Cap.HEALTH_STATUS_APPROVE) or has_cap(request.user, Cap.HEALTH_STATUS_CHANGE)):
        raise Http404
    return render(
        request,
        "health/approvals.html",
        {
            "requests": list(selectors.change_requests()[:50]),
            "can_approve": has_cap(request.user, Cap.HEALTH_STATUS_APPROVE),
        },
    )


@require_POST
@login_required
def approval_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    # As on the approvals page: a user who may not see the list gets 404 (DESIGN §1), not a refusal.
    if not (has_cap(request.user, Cap.HEALTH_STATUS_APPROVE) or has_cap(request.user, Cap.HEALTH_STATUS_CHANGE)):
        raise Http404
    actor, now = Actor.from_request(request), timezone.now()
    calls = {
        "approve": services.change_request_approve,
        "reject": services.change_request_reject,
        "pause": services.change_request_pause,
        "resume": services.change_request_resume,
    }
    if action not in calls:
        raise Http404
    try:
        calls[action](actor=actor, request_id=pk, now=now)
        if action in ("approve", "resume"):
            # Applied here, item by item; a pause pressed meanwhile from another page stops it.
            services.change_request_apply(request_id=pk, actor=actor, now=now)
    except DomainError as exc:
        if exc.status == 403:
            return render(request, "health/refused.html", {"message": exc.message}, status=403)
        messages.error(request, str(exc.message))
    return redirect("health:approvals")


def _run_job(job_id: int) -> None:
    try:
        job = RecomputeJob.objects.get(pk=job_id)
        services.status_recompute_all(now=timezone.now(), job=job)
    finally:
        connection.close()


@require_http_methods(["GET", "POST"])
@login_required
def rules(request: HttpRequest) -> HttpResponse:
    if not has_cap(request.user, Cap.HEALTH_RULES):
        raise Http404
    current = selectors.current_rules()
    form = RulesForm(request.POST or None, initial=current.__dict__)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        note = data.pop("note")
        actor, now = Actor.from_request(request), timezone.now()
        try:
            services.rules_update(actor=actor, changes=data, note=note, now=now)
            job = services.recompute_job_start(actor=actor, now=now)
        except DomainError as exc:
            form.add_error(None, str(exc.message))
        else:
            if selectors.population_count() <= INLINE_RECOMPUTE_LIMIT:
                _run_job_inline(job.pk)
            else:
                threading.Thread(target=_run_job, args=(job.pk,), daemon=True).start()
            messages.success(request, _("New rule version saved; everyone is being recomputed."))
            return redirect("health:rules")
    return render(
        request,
        "health/rules.html",
        {
            "form": form,
            "current": current,
            "versions": list(selectors.rule_versions()[:20]),
            "job": selectors.latest_recompute_job(),
        },
        status=400 if request.method == "POST" else 200,
    )


def _run_job_inline(job_id: int) -> None:
    services.status_recompute_all(now=timezone.now(), job=RecomputeJob.objects.get(pk=job_id))


@require_GET
@login_required
def rules_job(request: HttpRequest) -> HttpResponse:
    """The progress fragment, polled by the rules page while a recompute runs."""
    if not has_cap(request.user, Cap.HEALTH_RULES):
        raise Http404
    return render(request, "health/_job.html", {"job": selectors.latest_recompute_job()})


@require_GET
def ping(request: HttpRequest) -> JsonResponse:
    """A bare JSON answer with no session, no database: the load balancer's liveness probe, and the
    baseline that bench/verify.py compares the verification endpoint against."""
    return JsonResponse({"ok": True, "server_time": timezone.now().isoformat()})
