"""Writes of the testing app, one module per part of the workflow."""

from testing.services.field import (
    call_record,
    exemption_create,
    home_request_close,
    home_request_create,
    home_requests_for_flagged,
    home_team_create,
    home_team_member_add,
    home_team_member_remove,
    preregistration_create,
)
from testing.services.lab import (
    correction_approve,
    correction_reject,
    correction_request,
    exception_resolve,
    parse_result_file,
    results_ingest,
)
from testing.services.ledgers import lab_ledger_export, round_ledger_export, site_ledger_export
from testing.services.rounds import (
    laboratory_create,
    laboratory_member_add,
    round_close,
    round_create,
    round_deadline_set,
    rounds_overdue_remind,
    site_create,
    site_staff_add,
    site_staff_remove,
)
from testing.services.station import (
    idempotent_run,
    sample_register,
    station_submit,
    tube_open,
    tube_seal,
)
from testing.services.station_batch import station_batch
from testing.services.teams import home_requests_assign, home_requests_move, home_team_delete

__all__ = [
    "call_record",
    "correction_approve",
    "correction_reject",
    "correction_request",
    "exception_resolve",
    "exemption_create",
    "home_request_close",
    "home_request_create",
    "home_requests_assign",
    "home_requests_for_flagged",
    "home_requests_move",
    "home_team_create",
    "home_team_delete",
    "home_team_member_add",
    "home_team_member_remove",
    "idempotent_run",
    "lab_ledger_export",
    "laboratory_create",
    "laboratory_member_add",
    "parse_result_file",
    "preregistration_create",
    "results_ingest",
    "round_close",
    "round_create",
    "round_deadline_set",
    "round_ledger_export",
    "rounds_overdue_remind",
    "sample_register",
    "site_create",
    "site_ledger_export",
    "site_staff_add",
    "site_staff_remove",
    "station_batch",
    "station_submit",
    "tube_open",
    "tube_seal",
]
