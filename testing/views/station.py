"""The sampler station page (phone-sized). It talks to the station API; scans wait in the browser's
IndexedDB until the server has answered, so a dropped network loses nothing."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.roles import Cap
from testing import selectors
from testing.views._common import require_cap


@require_GET
@login_required
def station_index(request: HttpRequest) -> HttpResponse:
    require_cap(request, Cap.TESTING_SAMPLE)
    sites = list(selectors.sites_for_sampler(request.user))
    teams = list(selectors.teams_of(request.user))
    if len(sites) == 1 and not teams:
        return redirect("testing:station", site_pk=sites[0].pk)
    return render(request, "testing/station_index.html", {"sites": sites, "teams": teams})


@require_GET
@login_required
def station(request: HttpRequest, site_pk: int) -> HttpResponse:
    site = selectors.get_site_for_sampler(request.user, site_pk)
    tubes = selectors.open_tubes_at(site, request.user)
    return render(
        request,
        "testing/station.html",
        {
            "site": site,
            "round": site.round,
            "phase": site.round.phase(timezone.now()),
            "open_tube": tubes[0] if tubes else None,
            "station_text": _texts(),
        },
    )


def _texts() -> dict[str, str]:
    """Strings the station script shows, translated here so the page needs no JS catalogue."""
    return {
        "scan_tube": _("Scan a new tube barcode"),
        "scan_person": _("Scan the next person's sampling code"),
        "tube_full": _("The tube is full. Seal it."),
        "same_person": _("This person is already in this tube."),
        "queued": _("Saved on this phone; will be sent when the network is back."),
        "offline": _("Offline: scans are kept on this phone."),
        "online": _("Online"),
        "opened": _("Tube opened"),
        "sealed": _("Tube sealed"),
        "added": _("Added"),
        "green": _("Green channel"),
        "nothing_to_seal": _("No tube is open."),
        "empty_tube": _("The tube is empty."),
        "open": _("Open tube"),
        "sample": _("Sample"),
        "seal": _("Seal"),
    }
