"""Writes of health status: evidence from other modules, manual changes, rules and recomputation.

Every entry point recomputes the affected people at once, in the transaction that records the
evidence, and clears their cached status when that transaction commits, so a verification sees the
new colour well within a second.
"""

from health.services.manual import (
    change_request_apply,
    change_request_approve,
    change_request_pause,
    change_request_reject,
    change_request_resume,
    status_change_request,
)
from health.services.policy import (
    recompute_job_start,
    rules_update,
    status_recompute_all,
    verification_record,
)
from health.services.recompute import companion_flagged, status_recompute
from health.services.results import result_recorded, results_recorded
from health.services.sampling import LonePending, sample_recorded, samples_recorded

__all__ = [
    "LonePending",
    "change_request_apply",
    "change_request_approve",
    "change_request_pause",
    "change_request_reject",
    "change_request_resume",
    "companion_flagged",
    "recompute_job_start",
    "result_recorded",
    "results_recorded",
    "rules_update",
    "sample_recorded",
    "samples_recorded",
    "status_change_request",
    "status_recompute",
    "status_recompute_all",
    "verification_record",
]
