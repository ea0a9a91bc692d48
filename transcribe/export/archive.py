"""Zip archives (docx, qdpx) whose bytes depend only on their content.

Members get a fixed time instead of the clock's, in the order given, so exporting the same session
twice gives the same bytes and the same hash: a re-export must not look like a changed transcript
to purge and verify-purge.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip member can carry


def zip_members(members: Iterable[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members:
            target.writestr(zipfile.ZipInfo(name, date_time=FIXED_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
