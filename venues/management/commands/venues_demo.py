"""Demo venues with live codes for `make run`: the demo venue manager's shops get approved venues,
and the demo resident leaves one flagged burst of check-ins for the epidemiologist to review.

Idempotent: a grid where the manager already has --count venues gets no more, the burst is made
once. Run after
demo_district.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from accounts.models import User
from audit.services import Actor
from territory.selectors import subtree_q
from venues import services
from venues.models import Shop, Venue, VenueStatus
from venues.selectors.venues import grids_for_apply


class Command(BaseCommand):
    help = "Give the demo venue manager's shops approved venue codes (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--manager", default="venue")
        parser.add_argument("--count", type=int, default=3)
        parser.add_argument("--resident", default="resident", help="the demo resident's username")

    def handle(self, *args: Any, **options: Any) -> None:
        manager = User.objects.filter(username=options["manager"]).first()
        if manager is None:
            self.stdout.write("no demo venue manager; run demo_district first")
            return
        self.resident_username = options["resident"]
        grids = grids_for_apply(manager)
        now = timezone.now()
        made = 0
        for grid in grids:
            have = Venue.objects.filter(subtree_q(grid.path), manager=manager).count()
            shops = Shop.objects.filter(subtree_q(grid.path), venue__isnull=True).order_by("id")
            for shop in shops[: max(options["count"] - have, 0)]:
                venue = services.venue_apply(
                    actor=Actor(user=manager),
                    data=services.VenueData(
                        name=shop.name[:60], category=shop.category, address=shop.address[:120], contact_name="店长",
                        contact_phone=shop.contact_phone or "13900000000", committed=True,
                    ),
                    grid=grid, shop=shop, manager=manager, now=now,
                )
                Venue.objects.filter(pk=venue.pk).update(status=VenueStatus.APPROVED, reviewed_at=now)
                made += 1
        total = Venue.objects.filter(manager=manager).count()
        self.stdout.write(f"{made} demo venues created; the manager '{manager.username}' now has {total}")
        self.flagged_burst(manager, now)

    def flagged_burst(self, manager: Any, now: Any) -> None:
        """The demo resident scans one shop's code more often in a minute than the policy allows, an
        hour ago: the last scan is flagged, so the epidemiologist's review page has a case."""
        from django.conf import settings

        from venues.models import CheckinRequest, Method
        from venues.selectors.codes import entrance_info

        resident = User.objects.filter(username=self.resident_username, person__isnull=False).first()
        venue = Venue.objects.filter(manager=manager, status=VenueStatus.APPROVED).order_by("id").first()
        door = venue.entrances.order_by("number").first() if venue else None
        if resident is None or resident.person_id is None or door is None:
            return
        if CheckinRequest.objects.filter(client_key="demo-flag-0").exists():
            return
        entrance = entrance_info(door.pk)
        start = now - dt.timedelta(hours=1)
        for i in range(int(settings.FANGYI["CHECKIN_MAX_PER_MINUTE"]) + 1):
            services.checkin_record(
                account=resident, entrance=entrance, person_ids=[resident.person_id], method=Method.SCAN,
                client_key=f"demo-flag-{i}", now=start + dt.timedelta(seconds=5 * i),
            )
        self.stdout.write(f"a burst of check-ins by the demo resident at {entrance.venue_name}: one flagged")
