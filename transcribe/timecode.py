"""Times on the session timeline as clock text: ``hh:mm:ss`` with an optional fraction.

Every format writes times through here, so a turn starts at the same second in all of them.
Times are truncated, never rounded up, so a time always points at or before the speech.
"""

from __future__ import annotations

# Seconds are floats such as 1.13 (= 1.1299999…); nudge before truncating so they read as written.
_EPSILON = 1e-6


def clock(seconds: float, decimals: int = 0, separator: str = ".") -> str:
    """1.5 → '00:00:01'; with decimals=1 '00:00:01.5'; with decimals=3, separator=',' '00:00:01,500'."""
    scale = 10**decimals
    units = int(max(seconds, 0.0) * scale + _EPSILON)
    whole, fraction = divmod(units, scale)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}{separator}{fraction:0{decimals}d}" if decimals else text
