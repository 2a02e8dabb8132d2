"""`manage.py venues_demo` after the demo district: the demo manager's venues once, and one flagged
burst for the demo epidemiologist to review."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from venues.models import CheckIn, Venue

pytestmark = pytest.mark.django_db


def test_demo_venues_and_a_flag_to_review(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_district", "--residents", "300", "--seed", "2022", stdout=io.StringIO())
    call_command("venues_demo", stdout=io.StringIO())
    venues = Venue.objects.count()
    flagged = list(CheckIn.objects.filter(is_flagged=True).values_list("flag_reason", flat=True))
    assert venues >= 3 and flagged == ["burst"]
    call_command("venues_demo", stdout=io.StringIO())  # again: nothing more
    assert Venue.objects.count() == venues and CheckIn.objects.filter(is_flagged=True).count() == 1
    c = Client()
    c.force_login(User.objects.get(username="epi"))
    assert c.get("/venues/flags/").content.decode().count('class="card flag-card"') == 1
