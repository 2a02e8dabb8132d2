"""Signed tokens: tampered, expired, truncated and oversized input is refused with a clear code."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from common import tokens
from common.errors import DomainError
from health import selectors

NOW = dt.datetime(2022, 4, 20, 8, 0, tzinfo=dt.UTC)


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


def test_a_fresh_health_token_names_the_person():
    token, _exp = selectors.health_token_for(42, now=NOW)
    assert len(token) == tokens.TOKEN_LENGTH
    assert selectors.person_id_from_health_token(token, now=NOW + dt.timedelta(seconds=59)) == 42


def test_health_token_expires_within_a_minute():
    token, _exp = selectors.health_token_for(42, now=NOW)
    with pytest.raises(DomainError) as exc:
        selectors.person_id_from_health_token(token, now=NOW + dt.timedelta(seconds=61))
    assert _code(exc) == "token_expired"


def test_sampling_token_lasts_the_policy_period():
    token, _exp = selectors.sampling_token_for(7, now=NOW)
    assert selectors.person_id_from_sampling_token(token, now=NOW + dt.timedelta(days=29)) == 7
    with pytest.raises(DomainError) as exc:
        selectors.person_id_from_sampling_token(token, now=NOW + dt.timedelta(days=31))
    assert _code(exc) == "token_expired"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # tampered tag
    lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],  # tampered body
    lambda t: t[:-3],  # truncated
    lambda t: t + "AAAA",  # extended
    lambda t: "",
    lambda t: "码" * 42,  # non-ASCII
    lambda t: "A" * 100_000,  # oversized
])
def test_mangled_tokens_are_invalid(mangle):
    token, _exp = selectors.health_token_for(42, now=NOW)
    with pytest.raises(DomainError) as exc:
        selectors.person_id_from_health_token(mangle(token), now=NOW)
    assert _code(exc) == "token_invalid"


def test_a_sampling_token_is_not_a_health_token():
    token, _exp = selectors.sampling_token_for(42, now=NOW)
    with pytest.raises(DomainError) as exc:
        selectors.person_id_from_health_token(token, now=NOW)
    assert _code(exc) == "token_invalid"


def test_tokens_signed_with_the_previous_key_still_verify_after_rotation():
    with override_settings(SECRET_KEY="old-key-" + "x" * 40):
        token, _exp = selectors.sampling_token_for(9, now=NOW)
    with override_settings(SECRET_KEY="new-key-" + "y" * 40, SECRET_KEY_FALLBACKS=["old-key-" + "x" * 40]):
        assert selectors.person_id_from_sampling_token(token, now=NOW) == 9
    with override_settings(SECRET_KEY="new-key-" + "y" * 40, SECRET_KEY_FALLBACKS=[]), pytest.raises(DomainError):
        selectors.person_id_from_sampling_token(token, now=NOW)
