from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import LoginForm, OtpForm, PhoneForm
from audit.services import client_ip
from common.errors import DomainError
from notices.selectors import outbox_recent


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return settings.LOGIN_REDIRECT_URL


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.password_login(
                request=request,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
                now=timezone.now(),
            )
        except DomainError as exc:
            form.add_error(None, str(exc.message))
            status = exc.status
        else:
            login(request, user)  # login() gives the session a new id
            return redirect(_next_url(request))
    return render(request, "accounts/login.html", {"form": form, "next": _next_url(request)}, status=status)


@require_http_methods(["GET", "POST"])
def phone_login_view(request: HttpRequest) -> HttpResponse:
    """Residents: ask for a code, then type it."""
    step = request.POST.get("step", "phone")
    phone_form = PhoneForm(request.POST if step == "phone" else None)
    otp_form = OtpForm(request.POST if step == "code" else None)
    sent_to = ""
    status = 200
    if request.method == "POST" and step == "phone" and phone_form.is_valid():
        try:
            services.otp_request(phone=phone_form.cleaned_data["phone"], ip=client_ip(request), now=timezone.now())
        except DomainError as exc:
            phone_form.add_error("phone", str(exc.message))
            status = exc.status
        else:
            sent_to = phone_form.cleaned_data["phone"]
            otp_form = OtpForm(initial={"phone": sent_to})
    elif request.method == "POST" and step == "code" and otp_form.is_valid():
        try:
            user = services.otp_verify(
                phone=otp_form.cleaned_data["phone"],
                code=otp_form.cleaned_data["code"],
                ip=client_ip(request),
                now=timezone.now(),
            )
        except DomainError as exc:
            otp_form.add_error("code", str(exc.message))
            sent_to = otp_form.cleaned_data["phone"]
            status = exc.status
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_next_url(request))
    context = {
        "phone_form": phone_form,
        "otp_form": otp_form,
        "sent_to": sent_to,
        "next": _next_url(request),
        "outbox_public": settings.FANGYI["SMS_OUTBOX_PUBLIC"],
    }
    return render(request, "accounts/phone_login.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You have logged out."))
    return redirect("accounts:login")


def outbox_view(request: HttpRequest) -> HttpResponse:
    """The demo's SMS outbox, where one-time codes can be read. Off outside demo and dev."""
    if not settings.FANGYI["SMS_OUTBOX_PUBLIC"]:
        return render(request, "404.html", status=404)
    return render(request, "accounts/outbox.html", {"messages_sent": outbox_recent(20)})
