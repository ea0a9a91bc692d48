"""``transcribe report``: participation and interaction flow, as tables and figures.

``tables.py`` builds the report from session.json and renders its CSV tables; ``figures.py``
draws the interaction and timeline figures from it (matplotlib, loaded only when figures are
made). ``write_report`` writes both into the session's ``report/`` folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..files import ensure_dir, write_atomic
from ..session import Session
from .tables import FOLDER, GUIDE_THRESHOLD, Report, build_report, guide_score, read_guide, summary, tables

__all__ = [
    "FOLDER",
    "GUIDE_THRESHOLD",
    "Report",
    "build_report",
    "guide_score",
    "read_guide",
    "summary",
    "tables",
    "write_report",
    "ReportFiles",
    "report_session",
]


def write_report(report: Report, folder: Path) -> list[Path]:
    """Write every table (CSV) and figure (PNG + SVG) into ``folder``/report; return the paths."""
    from . import figures  # matplotlib loads in about a second: only when figures are made

    target = ensure_dir(Path(folder) / FOLDER)
    files: dict[str, bytes | str] = dict(tables(report))
    files.update(figures.render_all(report))
    for stale in target.glob("interaction_q*.*"):  # questions of an earlier run that are gone now
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, data in files.items():
        write_atomic(target / name, data)
        written.append(target / name)
    return written


@dataclass(frozen=True)
class ReportFiles:
    """``transcribe report``: the report and the files it was written to."""

    report: Report
    files: tuple[Path, ...]

    @property
    def warnings(self) -> list[str]:
        return list(self.report.warnings)

    def to_json(self) -> dict:
        return {**self.report.to_dict(), "files": [str(path) for path in self.files]}

    def lines(self) -> list[str]:
        return [*summary(self.report), "", *(str(path) for path in self.files)]


def report_session(folder: Path, questions: Path | None = None) -> ReportFiles:
    """Build the report of the session in ``folder`` (with the guide in ``questions``) and write it there."""
    report = build_report(Session.load(folder), read_guide(questions) if questions else None)
    return ReportFiles(report, tuple(write_report(report, folder)))
