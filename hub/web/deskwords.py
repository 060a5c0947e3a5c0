"""The conflict desk's words for its kinds, actions and states: the desk's pages and the case timeline both say them."""

from __future__ import annotations

from flask_babel import lazy_gettext

LABELS = {
    "same_field": lazy_gettext("Same field changed twice"),
    "parallel_update": lazy_gettext("Parallel update (merged)"),
    "duplicate": lazy_gettext("Duplicate application"),
    "after_decision": lazy_gettext("Change after the decision"),
    "catalog_drift": lazy_gettext("Catalog changed since intake"),
    "fork": lazy_gettext("Point restored from a backup (fork)"),
    "identity": lazy_gettext("Identity mismatch"),
    "suspicious_time": lazy_gettext("Intake time the hub cannot vouch for"),
    "accept_claimed": lazy_gettext("Accept the point's intake time"),
    "accept_earliest": lazy_gettext("Count from the earliest time the hub can vouch for"),
    "open": lazy_gettext("Waiting for the desk"),
    "resolved": lazy_gettext("Resolved"),
    "merged": lazy_gettext("Merged by the hub"),
    "take_left": lazy_gettext("Kept what the hub held"),
    "take_right": lazy_gettext("Kept what arrived"),
    "merge": lazy_gettext("Merge field by field"),
    "merge_cases": lazy_gettext("Merge into one case"),
    "keep_both": lazy_gettext("Keep both"),
    "accept_old": lazy_gettext("Accept under the old catalog version"),
    "supplement": lazy_gettext("Send a supplement request"),
    "reject": lazy_gettext("Reject with a reason"),
}
