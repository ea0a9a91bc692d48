"""What a label may be: the moderator's, an informant number, or an observer (O1, O2, …)."""

from __future__ import annotations

import re
from collections.abc import Sequence

OBSERVER = re.compile(r"O[1-9][0-9]*")


def format_informants(numbers: Sequence[int]) -> str:
    """[1..6] → '1–6'; [1, 2, 3, 5] → '1, 2, 3, 5'."""
    ordered = sorted(numbers)
    if ordered and ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 1:
        return f"{ordered[0]}–{ordered[-1]}"
    return ", ".join(str(n) for n in ordered)
