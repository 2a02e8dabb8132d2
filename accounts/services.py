"""Account writes: password logins with throttling, resident one-time codes, API tokens, memberships."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from accounts import throttle
from accounts.models import ApiToken, Membership, OtpChallenge, User
from accounts.roles import Role
from accounts.selectors import memberships_of
from audit.services import Actor, audit_record
from common.errors import DomainError, Throttled
from common.phone import InvalidPhone, normalize_phone
from notices.services import sms_send
from people.selectors import person_by_phone

LOGIN_FAILED = "login_failed"


def _policy(name: str) -> int:
    return int(settings.FANGYI[name])


def _hash(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


# --- staff password login -------------------------------------------------------------------


def password_login(*, request: Any, username: str, password: str, ip: str | None, now: dt.datetime) -> User:
    """Authenticate, counting failures per account and per address.

    The same message answers an unknown user and a wrong password; the per-account counter is
    kept for any name typed, so throttling does not reveal which accounts exist either.
    """
    window = _policy("LOGIN_WINDOW_SECONDS")
    account_key = f"login:user:{username.strip().lower()[:150]}"
    address_key = f"login:ip:{ip or '-'}"
    if throttle.count(account_key, seconds=window, now=now) >= _policy("LOGIN_FAILURES_PER_ACCOUNT") or throttle.count(
        address_key, seconds=window, now=now
    ) >= _policy("LOGIN_FAILURES_PER_ADDRESS"):
        raise Throttled("login_throttled", _("Too many failed attempts. Please try again in 15 minutes."))
    user = authenticate(request, username=username, password=password)
    if user is None or not isinstance(user, User):
        with transaction.atomic():
            throttle.hit(account_key, seconds=window, now=now)
            throttle.hit(address_key, seconds=window, now=now)
            audit_record(
                actor=Actor(user=None, ip=ip),
                action="auth.login_failed",
                object_type="auth",
                extra={"username": username[:150]},
                now=now,
            )
        raise DomainError(LOGIN_FAILED, _("Wrong username or password."), status=401)
    with transaction.atomic():
        throttle.reset(account_key, seconds=window, now=now)
        audit_record(actor=Actor(user=user, ip=ip), action="auth.login", obj=user, now=now)
    return user


# --- resident one-time SMS codes --------------------------------------------------------------


def _resident_phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        raise DomainError("phone_invalid", _("Please enter an 11-digit mobile number.")) from None


def otp_request(*, phone: str, ip: str | None, now: dt.datetime) -> None:
    """Send a one-time code if the phone belongs to a resident; answer the same way if it does not."""
    phone = _resident_phone(phone)
    last = OtpChallenge.objects.filter(phone=phone).order_by("-created_at").first()
    if last and (now - last.created_at).total_seconds() < _policy("OTP_MIN_INTERVAL_SECONDS"):
        raise Throttled("otp_too_soon", _("A code was just sent. Please wait a minute before asking again."))
    if throttle.hit(f"otp:phone:{phone}", seconds=3600, now=now) > _policy("OTP_PER_PHONE_PER_HOUR"):
        raise Throttled("otp_throttled", _("Too many codes requested. Please try again later."))
    if throttle.hit(f"otp:ip:{ip or '-'}", seconds=3600, now=now) > _policy("OTP_PER_ADDRESS_PER_HOUR"):
        raise Throttled("otp_throttled", _("Too many codes requested. Please try again later."))
    user = User.objects.filter(phone=phone, is_active=True).first()
    if user is None and person_by_phone(phone) is None:
        return  # nobody to log in; do not reveal that, and send nothing
    code = f"{secrets.randbelow(10**6):06d}"
    ttl = _policy("OTP_TTL_SECONDS")
    with transaction.atomic():
        OtpChallenge.objects.create(
            phone=phone, code_hash=_hash(f"{phone}:{code}"), created_at=now, expires_at=now + dt.timedelta(seconds=ttl)
        )
        sms_send(
            phone=phone,
            body=_("[Fangyi] Your login code is %(code)s, valid for %(minutes)d minutes. Do not share it.")
            % {"code": code, "minutes": ttl // 60},
            now=now,
        )


def otp_verify(*, phone: str, code: str, ip: str | None, now: dt.datetime) -> User:
    phone = _resident_phone(phone)
    # The attempt counter must survive a wrong guess, so the refusal is raised after the commit.
    with transaction.atomic():
        user = _otp_check(phone=phone, code=code, ip=ip, now=now)
    if user is None:
        raise DomainError("otp_invalid", _("The code is wrong or has expired."), status=401)
    return user


def _otp_check(*, phone: str, code: str, ip: str | None, now: dt.datetime) -> User | None:
    challenge = (
        OtpChallenge.objects.select_for_update()
        .filter(phone=phone, used_at__isnull=True, expires_at__gt=now)
        .order_by("-created_at")
        .first()
    )
    if challenge is None or challenge.attempts >= _policy("OTP_MAX_ATTEMPTS"):
        return None
    challenge.attempts += 1
    if not hmac.compare_digest(challenge.code_hash, _hash(f"{phone}:{(code or '').strip()}")):
        challenge.save(update_fields=["attempts"])
        return None
    challenge.used_at = now
    challenge.save(update_fields=["attempts", "used_at"])
    user = User.objects.filter(phone=phone, is_active=True).first()
    if user is None:
        person = person_by_phone(phone)
        if person is None:
            return None
        user = User(username=f"r{phone}", phone=phone, person=person, display_name=person.name)
        user.set_unusable_password()
        user.save()
    audit_record(actor=Actor(user=user, ip=ip), action="auth.login_otp", obj=user, now=now)
    return user


# --- API tokens -------------------------------------------------------------------------------

TOKEN_PREFIX = "fy_"  # noqa: S105 (a public prefix, not a secret)


@transaction.atomic
def api_token_create(*, actor: Actor, user: User, name: str) -> tuple[ApiToken, str]:
    prefix = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=prefix, key_hash=hashlib.sha256(secret.encode()).hexdigest()
    )
    audit_record(actor=actor, action="api_token.create", obj=token, extra={"user": user.username})
    return token, f"{TOKEN_PREFIX}{prefix}_{secret}"


def api_token_authenticate(raw: str, *, now: dt.datetime) -> User | None:
    """The active user of an unrevoked token, or None.

    Every call of a sentinel device or a laboratory client comes here first, so the token, its user and
    the user's memberships are kept in the cache for ``API_TOKEN_CACHE_SECONDS`` (default 5). Saving or
    deleting a token, the user or one of their memberships clears the entry at once (signals in
    ``accounts.signals``); a change that bypasses signals (a queryset update, another process with a
    per-process cache) takes effect when the entry expires. The secret is checked on every call.
    """
    if not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        return None
    prefix, _sep, secret = raw[len(TOKEN_PREFIX) :].partition("_")
    key = token_cache_key(prefix)
    entry: _TokenEntry | None = cache.get(key)
    cached = entry is not None and entry.expires_at > now.timestamp()
    if not cached:
        entry = _token_entry(prefix, now=now)
    if entry is None or not hmac.compare_digest(entry.key_hash, hashlib.sha256(secret.encode()).hexdigest()):
        return None
    if entry.last_used_at is None or (now - entry.last_used_at).total_seconds() > 60:
        # A queryset update: a save would fire the signal that drops the cached entry.
        ApiToken.objects.filter(pk=entry.token_id).update(last_used_at=now)
        entry = dataclasses.replace(entry, last_used_at=now)
        cached = False
    if not cached:
        _token_cache(prefix, entry, now=now)  # only once the secret matched
    return entry.user


@dataclasses.dataclass(frozen=True)
class _TokenEntry:
    key_hash: str
    token_id: int
    last_used_at: dt.datetime | None
    user: User  # carries its memberships (memberships_of's memo), so the capability check is free
    expires_at: float  # a timestamp on the caller's clock, so a frozen or travelling test clock works


def token_cache_seconds() -> float:
    return float(settings.FANGYI.get("API_TOKEN_CACHE_SECONDS", 5))


def token_cache_key(prefix: str) -> str:
    return f"acc:tok:{prefix}"


def user_tokens_cache_key(user_id: int) -> str:
    """The prefixes of a user's cached tokens, so a change to the user or a membership can drop them."""
    return f"acc:utok:{user_id}"


def _token_entry(prefix: str, *, now: dt.datetime) -> _TokenEntry | None:
    token = ApiToken.objects.select_related("user").filter(prefix=prefix, revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    memberships_of(token.user)
    expires_at = now.timestamp() + token_cache_seconds()
    return _TokenEntry(token.key_hash, token.pk, token.last_used_at, token.user, expires_at)


def _token_cache(prefix: str, entry: _TokenEntry, *, now: dt.datetime) -> None:
    seconds = entry.expires_at - now.timestamp()
    if seconds <= 0:
        return
    cache.set(token_cache_key(prefix), entry, seconds)
    index = user_tokens_cache_key(entry.user.pk)
    cache.set(index, {*(cache.get(index) or ()), prefix}, token_cache_seconds())


# --- memberships ------------------------------------------------------------------------------


@transaction.atomic
def membership_grant(*, actor: Actor, user: User, area: Any, role: Role) -> Membership:
    membership, created = Membership.objects.get_or_create(user=user, area=area, role=role)
    if created:
        audit_record(actor=actor, action="membership.grant", obj=membership, extra={"role": role, "area": area.id})
    return membership
