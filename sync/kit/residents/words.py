"""What the residents' pages say about a refused pre-check and its answer, in both apps' catalogs.

The hub and the points refuse with the same stable words (hub/approval/prechecks.py, sync/kit/photos.py); these
are the sentences a resident reads for them: each says what the limit is and what to do next.
"""

from __future__ import annotations

from flask_babel import lazy_gettext

from sync.kit import photos

REFUSALS = {
    "invalid_input": lazy_gettext("Some answers need correcting: see the notes beside them."),
    "too_many_for_id": lazy_gettext("This ID number has sent 3 pre-checks in the last 24 hours, the most a day "
                                    "allows. Try again tomorrow, or ask at your point."),
    "too_many_from_address": lazy_gettext("Too many pre-checks came from this connection in the last 24 hours. "
                                          "Try again tomorrow, or ask at your point."),
    "storage_full": lazy_gettext("The county centre cannot store more photos just now. Try again in a few days, "
                                 "or bring your materials to your point."),
    "too_large": lazy_gettext("The files together are larger than 32 MB: send fewer photos, or take them at a "
                              "lower resolution."),
    "wrong_code": lazy_gettext("The pre-check number or the code is wrong. Check both and type them again. After 5 "
                               "wrong codes the pre-check is locked for 15 minutes."),
    "locked": lazy_gettext("This pre-check is locked after 5 wrong codes. Try again in 15 minutes."),
}
FIELD_PROBLEMS = {
    "name_required": lazy_gettext("Write your name as on your ID card."),
    "bad_id_number": lazy_gettext("This is not a valid 18-character ID number: check each character."),
    "bad_phone": lazy_gettext("Write a phone number we can call, e.g. 13800138000."),
    "choose_point": lazy_gettext("Choose the point where you will apply."),
    "no_files": lazy_gettext("Attach a photo of at least one material."),
    "too_many_files": lazy_gettext("Attach at most 12 files."),
    photos.EMPTY_SCAN: lazy_gettext("The file is empty: choose the photo again."),
    photos.NOT_A_SCAN: lazy_gettext("Not a photo or a PDF: attach a JPEG, PNG or TIFF photo or a PDF file."),
    photos.TOO_LARGE: lazy_gettext("Larger than 10 MB: take the photo again at a lower resolution."),
    photos.TOO_MANY_PIXELS: lazy_gettext("More than 40 megapixels: take the photo again at a lower resolution."),
    "choose_outcome": lazy_gettext("Choose an answer."),
    "notice_empty": lazy_gettext("Write what is missing or wrong for at least one material."),
}
STATUSES = {"submitted": lazy_gettext("Waiting for review"), "answered": lazy_gettext("Answered"),
            "taken": lazy_gettext("Taken in at the window"), "expired": lazy_gettext("Expired")}
COMPLETE_ANSWER = lazy_gettext("Your materials are complete: come and apply.")
NOTICE_ANSWER = lazy_gettext("One-time notice: bring or correct what is listed below, then come and apply.")
