"""Reads of the testing app, one module per part of the workflow; import them from here."""

from testing.selectors.access import (
    get_area_in_round_for_user,
    get_round_for_user,
    get_site_for_sampler,
    get_tube_for_sampler,
    home_tube_is_teams,
    laboratory_of,
    rounds_for_user,
    sites_for_sampler,
    view_root,
)
from testing.selectors.coverage import (
    CallHousehold,
    CoverageRow,
    Member,
    call_list,
    calls_of,
    coverage_by_grid,
    coverage_children,
    coverage_total,
    household_members_state,
)
from testing.selectors.field import grid_leaders_for_paths, home_list_for_user, prereg_ids, recheck_tasks_for_user
from testing.selectors.lab import corrections_for, exceptions_for, result_for_lab
from testing.selectors.ledgers import lab_ledger_rows, round_ledger_rows, site_ledger_rows
from testing.selectors.sites import (
    QUEUE_WINDOW,
    SECONDS_PER_SAMPLE,
    SiteQueue,
    open_tubes_at,
    site_queues,
    sites_near,
    tube_view,
)

__all__ = [
    "QUEUE_WINDOW",
    "SECONDS_PER_SAMPLE",
    "CallHousehold",
    "CoverageRow",
    "Member",
    "SiteQueue",
    "call_list",
    "calls_of",
    "corrections_for",
    "coverage_by_grid",
    "coverage_children",
    "coverage_total",
    "exceptions_for",
    "get_area_in_round_for_user",
    "get_round_for_user",
    "get_site_for_sampler",
    "get_tube_for_sampler",
    "grid_leaders_for_paths",
    "home_list_for_user",
    "home_tube_is_teams",
    "household_members_state",
    "lab_ledger_rows",
    "laboratory_of",
    "open_tubes_at",
    "prereg_ids",
    "recheck_tasks_for_user",
    "result_for_lab",
    "round_ledger_rows",
    "rounds_for_user",
    "site_ledger_rows",
    "site_queues",
    "sites_for_sampler",
    "sites_near",
    "tube_view",
    "view_root",
]
