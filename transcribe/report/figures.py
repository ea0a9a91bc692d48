"""Figures of a report: the interaction diagram and the speaking timeline, as PNG and SVG.

Both are made for print and greyscale: the strength of an arrow is its width *and* its grey
level, never colour alone. They are labelled with the transcript's labels only (``M``, informant
numbers, observers), as in the transcript itself. Rendering is deterministic (fixed SVG id salt,
no dates in the metadata), so a rerun on the same session writes identical files; SVG text stays
text, so labels can be searched and edited.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib

# The Agg canvas directly, never pyplot: no display, no global backend state, safe on servers.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from .tables import LabelledTurn, Report, Segment, Transitions

STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "transcribe",
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every machine
    "font.size": 10,
}
METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
NODE_RADIUS = 0.13
LIGHTEST = 0.7  # grey level of the weakest arrow; the strongest is black


def render_all(report: Report) -> dict[str, bytes]:
    """File name → bytes: the overall diagram, the timeline and, with a guide, one diagram per question.

    Without a guide every moderator question opens a segment, follow-ups included: often a
    hundred or more in a two-hour session, too many to draw. Their tables are in the CSV files.
    """
    files = {}
    files.update(
        _both(
            "interaction",
            interaction(report.labels, report.moderator, report.transitions, f"{report.session}: who spoke after whom"),
        )
    )
    files.update(_both("timeline", timeline(report.labels, report.turns, report.segments, report.session)))
    if not report.guide:
        return files
    # One scale for all questions, so that a thick arrow means the same in every diagram.
    strongest = max((_strongest(segment.transitions) for segment in report.segments), default=0)
    for segment in report.segments:
        if segment.transitions.total:
            title = f"{report.session}: {_segment_title(segment)}"
            files.update(
                _both(
                    f"interaction_q{segment.number:02d}",
                    interaction(report.labels, report.moderator, segment.transitions, title, strongest),
                )
            )
    return files


def _segment_title(segment: Segment) -> str:
    if segment.number == 0:
        return f"before the first question (lines {segment.first_line}–{segment.last_line})"
    return f"Q{segment.number} {_shorten(segment.question)} (lines {segment.first_line}–{segment.last_line})"


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _both(stem: str, figure: Figure) -> dict[str, bytes]:
    return {f"{stem}.{kind}": _render(figure, kind) for kind in ("png", "svg")}


def _render(figure: Figure, kind: str) -> bytes:
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        FigureCanvasAgg(figure)
        figure.savefig(buffer, format=kind, dpi=150, metadata=METADATA[kind])
    return buffer.getvalue()


def positions(labels: Sequence, moderator: str) -> dict:
    """Seats around a round table: the moderator at the head (top), the others clockwise."""
    others = [label for label in labels if label != moderator]
    seats = {moderator: (0.0, 1.0)} if moderator in labels else {}
    count = len(others) + (1 if seats else 0)
    for i, label in enumerate(others, start=1 if seats else 0):
        angle = math.pi / 2 - 2 * math.pi * i / count
        seats[label] = (math.cos(angle), math.sin(angle))
    return seats


def _strongest(table: Transitions) -> int:
    return max((max(row) for row in table.counts), default=0)


def interaction(
    labels: Sequence, moderator: str, table: Transitions, title: str, strongest: int | None = None
) -> Figure:
    """Speakers around a table; an arrow from A to B, as wide and dark as the number of times
    B spoke right after A, relative to ``strongest`` (default: this table's largest count)."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(6, 6.4))
        axes = figure.add_axes((0.02, 0.02, 0.96, 0.88))
        axes.set_xlim(-1.35, 1.35)
        axes.set_ylim(-1.35, 1.35)
        axes.set_aspect("equal")
        axes.axis("off")
        figure.suptitle(title, fontsize=11)
        axes.add_patch(Circle((0, 0), 0.62, facecolor="0.93", edgecolor="0.75", linewidth=1))
        seats = positions(labels, moderator)
        strongest = strongest or _strongest(table)
        for i, before in enumerate(table.labels):
            for j, after in enumerate(table.labels):
                count = table.counts[i][j]
                if count:
                    axes.add_patch(_arrow(seats[before], seats[after], count, strongest))
        spoke = {
            label for i, label in enumerate(table.labels) if any(table.counts[i]) or any(r[i] for r in table.counts)
        }
        for label, (x, y) in seats.items():
            shape = (
                Rectangle((x - NODE_RADIUS, y - NODE_RADIUS), 2 * NODE_RADIUS, 2 * NODE_RADIUS)
                if label == moderator
                else Circle((x, y), NODE_RADIUS)
            )
            shape.set(
                facecolor="white",
                edgecolor="black",
                linewidth=1.6,
                zorder=3,
                linestyle="-" if label in spoke else (0, (3, 2)),
            )
            axes.add_patch(shape)
            axes.text(x, y, str(label), ha="center", va="center", fontsize=13, fontweight="bold", zorder=4)
        if strongest:
            axes.legend(
                handles=_legend(strongest),
                title="transitions",
                loc="lower right",
                frameon=False,
                fontsize=8,
                title_fontsize=8,
                handlelength=2.5,
            )
    return figure


def _weight(count: int, strongest: int) -> tuple[float, str]:
    """Line width and grey level of an arrow: both grow with the count."""
    part = count / strongest
    return 0.8 + 5.2 * part, str(round(LIGHTEST * (1 - part), 3))


def _arrow(start, end, count: int, strongest: int) -> FancyArrowPatch:
    width, grey = _weight(count, strongest)
    # Curved, so that A→B and B→A lie side by side instead of on top of each other.
    return FancyArrowPatch(
        start,
        end,
        connectionstyle="arc3,rad=0.15",
        arrowstyle="-|>",
        mutation_scale=10 + 2 * width,
        linewidth=width,
        color=grey,
        shrinkA=24,
        shrinkB=24,
        zorder=2,
    )


def _legend(strongest: int) -> list[Line2D]:
    steps = sorted({1, (strongest + 1) // 2, strongest})
    return [
        Line2D([], [], linewidth=_weight(n, strongest)[0], color=_weight(n, strongest)[1], label=f"{n}×") for n in steps
    ]


def timeline(labels: Sequence, turns: Sequence[LabelledTurn], segments: Sequence[Segment], title: str) -> Figure:
    """One lane per speaker, a bar for each turn; question segments marked along the top."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(11, 1.4 + 0.42 * len(labels)))
        axes = figure.add_subplot()
        lanes = {label: len(labels) - 1 - i for i, label in enumerate(labels)}
        for label in labels:
            spans = [(turn.start / 60, (turn.end - turn.start) / 60) for turn in turns if turn.label == label]
            axes.broken_barh(spans, (lanes[label] - 0.35, 0.7), facecolors="0.25", edgecolors="none")
        for row, segment in enumerate(s for s in segments if s.number):
            axes.axvline(segment.start / 60, color="0.55", linewidth=0.8, linestyle=(0, (4, 3)))
            # Two rows of marks, so that questions close together stay legible.
            axes.text(
                segment.start / 60, len(labels) - 0.45 + 0.3 * (row % 2), f" Q{segment.number}", fontsize=8, va="bottom"
            )
        axes.set_yticks(list(lanes.values()), [str(label) for label in lanes])
        axes.set_ylim(-0.7, len(labels) + 0.2)
        end = max((turn.end for turn in turns), default=60.0) / 60
        axes.set_xlim(0, end * 1.01 or 1)
        axes.set_xlabel("minutes")
        axes.set_title(f"{title}: who spoke when", fontsize=11, pad=16)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
    return figure
