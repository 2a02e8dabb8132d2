"""Demo venues with live codes for `make run`: the demo venue manager's shops get approved venues.

Idempotent: a shop that already has a venue is left alone. Run after demo_district.
"""

from __future__ import annotations

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

    def handle(self, *args: Any, **options: Any) -> None:
        manager = User.objects.filter(username=options["manager"]).first()
        if manager is None:
            self.stdout.write("no demo venue manager; run demo_district first")
            return
        grids = grids_for_apply(manager)
        now = timezone.now()
        made = 0
        for grid in grids:
            shops = Shop.objects.filter(subtree_q(grid.path), venue__isnull=True).order_by("id")
            for shop in shops[: options["count"]]:
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
