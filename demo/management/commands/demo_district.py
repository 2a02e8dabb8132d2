"""Build the demo district (济宁高新区) and the demo accounts.

    manage.py demo_district [--residents 5000] [--seed 2022] [--if-empty] [--quiet]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from demo.accounts import demo_accounts_create, demo_accounts_table
from demo.generator import district_exists, generate


class Command(BaseCommand):
    help = "Build the demo district with N synthetic residents, deterministic for a seed, and the demo accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--residents", type=int, default=5000, help="number of residents (default 5000)")
        parser.add_argument("--seed", type=int, default=2022, help="random seed (default 2022)")
        parser.add_argument("--if-empty", action="store_true",
                            help="if the district exists already, keep it and only print the demo accounts")
        parser.add_argument("--batch-size", type=int, default=5000, help="rows per insert batch")
        parser.add_argument("--quiet", action="store_true", help="print nothing but errors")

    def handle(self, *args: Any, **options: Any) -> None:
        quiet = options["quiet"]
        residents = options["residents"]
        if residents < 1:
            raise CommandError("--residents must be at least 1")

        def say(line: str) -> None:
            if not quiet:
                self.stdout.write(line)

        if district_exists():
            if not options["if_empty"]:
                raise CommandError(
                    "The demo district already exists in this database. Use an empty database, "
                    "or --if-empty to keep it."
                )
            say("The demo district exists already; keeping its data.")
            say(demo_accounts_table())
            return

        say(f"Building the demo district: {residents:,} residents, seed {options['seed']}")
        result = generate(residents=residents, seed=options["seed"], now=timezone.now(),
                          batch_size=options["batch_size"], progress=say)
        created = demo_accounts_create()
        c = result.counts
        say("")
        for table, rows, seconds in result.tables:
            say(f"  {table:<10} {rows:>10,} rows in {seconds:6.1f} s of inserts"
                f"  ({rows / max(seconds, 1e-9):>9,.0f} rows/s)")
        say(f"  {'users':<10} {result.users + created:>10,}   memberships {result.memberships:,}")
        say(f"  households {c.households:,}, {c.people / max(c.households, 1):.2f} people each")
        say(f"Done in {result.seconds:.1f} s: {c.people / result.seconds:,.0f} residents/s, "
            f"{result.rows / result.seconds:,.0f} rows/s")
        say("")
        say(demo_accounts_table())
