"""The informant × code matrix: which lines each informant contributed to each code.

The researcher codes the numbered transcript in a TOML file, code name → line numbers or ranges::

    "Støtte" = [74, 75, "78-80"]
    "Trygghet" = ["102-110"]

Each cell of the matrix lists the lines of one informant under one code, as the study's matrix
pointed back into the transcript. Lines the matrix cannot hold (outside the transcript, or spoken
by the moderator or an observer) are reported as warnings, never silently dropped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .export import build_document
from .export.csv import BOM
from .files import ensure_dir, read_toml, write_atomic
from .records import Label
from .report import FOLDER
from .session import Session

CSV_FILE = "matrix.csv"
DOCX_FILE = "matrix.docx"
EXAMPLE = '"Støtte" = [74, 75, "78-80"]'


@dataclass(frozen=True)
class Unplaced:
    """Lines of one code that belong to no informant: outside the transcript (label None) or not an informant's."""

    code: str
    lines: tuple[int, ...]
    label: Label | None
    moderator: str
    transcript: tuple[int, int] | None  # its first and last line; None when it has none

    @property
    def message(self) -> str:
        where = format_lines(self.lines)
        noun = "line" if len(self.lines) == 1 else "lines"
        if self.label is None:
            span = f"lines {self.transcript[0]}-{self.transcript[1]}" if self.transcript else "no lines"
            owner = f"outside the transcript ({span})"
        elif self.label == self.moderator:
            owner = f"spoken by the moderator ({self.label})"
        elif re.fullmatch(r"O\d+", str(self.label)):
            owner = f"spoken by observer {self.label}"
        else:
            owner = f"spoken by {self.label}, who is not an informant"
        return (
            f"Code {self.code!r}: {noun} {where} {'is' if len(self.lines) == 1 else 'are'} {owner}; not in the matrix."
        )

    def to_dict(self) -> dict:
        return {"code": self.code, "lines": list(self.lines), "label": self.label, "message": self.message}


@dataclass(frozen=True)
class Matrix:
    session: str
    informants: tuple[int, ...]
    codes: tuple[str, ...]
    cells: dict[tuple[int, str], tuple[int, ...]]  # (informant, code) → line numbers, ascending
    unplaced: tuple[Unplaced, ...]

    def lines(self, informant: int, code: str) -> tuple[int, ...]:
        return self.cells.get((informant, code), ())

    def to_dict(self) -> dict:
        return {
            "format": "transcribe.matrix/1",
            "session": self.session,
            "codes": list(self.codes),
            "informants": [
                {"informant": n, "codes": {code: list(self.lines(n, code)) for code in self.codes}}
                for n in self.informants
            ],
            "warnings": [item.to_dict() for item in self.unplaced],
        }


def read_codes(path: Path) -> dict[str, list[int]]:
    """Code name → line numbers (ranges expanded), in the file's order."""
    data = read_toml(path, "codes file", EXAMPLE)
    if not data:
        raise InputError(f"The codes file {path} holds no codes. Write one code per line, like {EXAMPLE}.")
    text = Path(path).read_text(encoding="utf-8")  # for the line of a bad value: TOML keeps no positions
    return {code: _line_numbers(path, text, code, value) for code, value in data.items()}


def _line_numbers(path: Path, text: str, code: str, value) -> list[int]:
    def refuse(problem: str) -> InputError:
        line = _line_of(text, code)
        where = f"{path}, line {line}" if line else str(path)
        return InputError(f"{where}: code {code!r} {problem}. Write it like {EXAMPLE}.")

    if not isinstance(value, list):
        raise refuse("is not a list of line numbers")
    numbers: list[int] = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 1:
            numbers.append(item)
            continue
        match = re.fullmatch(r"\s*(\d+)\s*(?:[-–]\s*(\d+)\s*)?", item) if isinstance(item, str) else None
        if not match:
            raise refuse(f'has {item!r}, which is neither a line number nor a range like "78-80"')
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if first < 1 or last < first:
            raise refuse(f"has the range {item!r}; a range goes upwards from line 1 or later")
        numbers.extend(range(first, last + 1))
    return numbers


def _line_of(text: str, code: str) -> int | None:
    """The line of the file where ``code`` is defined, for error messages (TOML keeps no positions)."""
    names = {code, f'"{code}"', f"'{code}'"}
    for number, line in enumerate(text.splitlines(), start=1):
        key = line.split("=", 1)[0].strip()
        if key in names or key.strip("[]").strip() in names:
            return number
    return None


def build_matrix(session: Session, codes: dict[str, list[int]]) -> Matrix:
    """Place each coded line with the informant who spoke it; report the lines no informant spoke."""
    document = build_document(session)
    owner: dict[int, Label] = {line.number: document.labels[line.turn] for line in document.lines}
    informants = tuple(sorted({*session.informants, *(label for label in owner.values() if isinstance(label, int))}))
    transcript = (document.lines[0].number, document.lines[-1].number) if document.lines else None
    cells: dict[tuple[int, str], tuple[int, ...]] = {}
    unplaced: list[Unplaced] = []
    for code, numbers in codes.items():
        placed: dict[int, list[int]] = {}
        elsewhere: dict[Label | None, list[int]] = {}
        for number in sorted(set(numbers)):
            label = owner.get(number)
            if isinstance(label, int):
                placed.setdefault(label, []).append(number)
            else:
                elsewhere.setdefault(label, []).append(number)
        cells.update({(informant, code): tuple(lines) for informant, lines in placed.items()})
        for label, lines in elsewhere.items():
            unplaced.append(Unplaced(code, tuple(lines), label, session.moderator_label, transcript))
    return Matrix(session.name, informants, tuple(codes), cells, tuple(unplaced))


def format_lines(numbers: tuple[int, ...] | list[int]) -> str:
    """(75, 77, 78, 79) → '75, 77-79': runs of consecutive lines as ranges, as researchers cite them."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in runs)


def render_csv(matrix: Matrix) -> str:
    """UTF-8 with a byte-order mark, RFC 4180, as the CSV export."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Informant", *matrix.codes])
    for informant in matrix.informants:
        writer.writerow([str(informant), *(format_lines(matrix.lines(informant, code)) for code in matrix.codes)])
    return BOM + buffer.getvalue()


def render_docx(matrix: Matrix) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT

    from .export.docx import MARGIN, PAGE

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE  # a column per code: matrices run wide
    section.page_height, section.page_width = PAGE
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = MARGIN
    properties = document.core_properties
    properties.title = f"{matrix.session}: informant × code"
    properties.author = properties.last_modified_by = "transcribe"
    document.add_heading(f"{matrix.session}: informant × code", level=1)
    table = document.add_table(rows=1 + len(matrix.informants), cols=1 + len(matrix.codes))
    table.style = "Table Grid"
    for column, heading in enumerate(["Informant", *matrix.codes]):
        cell = table.rows[0].cells[column]
        cell.paragraphs[0].add_run(heading).bold = True
    for row, informant in enumerate(matrix.informants, start=1):
        cells = table.rows[row].cells
        cells[0].text = str(informant)
        for column, code in enumerate(matrix.codes, start=1):
            cells[column].text = format_lines(matrix.lines(informant, code))
    if matrix.unplaced:
        document.add_paragraph("Coded lines that are not in the matrix:")
        for item in matrix.unplaced:
            document.add_paragraph(item.message, style="List Bullet")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def write_matrix(matrix: Matrix, folder: Path) -> list[Path]:
    """Write the matrix as CSV and docx into ``folder``/report; return the paths."""
    target = ensure_dir(Path(folder) / FOLDER)
    written = []
    for name, data in ((CSV_FILE, render_csv(matrix)), (DOCX_FILE, render_docx(matrix))):
        write_atomic(target / name, data)
        written.append(target / name)
    return written


@dataclass(frozen=True)
class MatrixFiles:
    """``transcribe matrix``: the matrix and the files it was written to."""

    matrix: Matrix
    files: tuple[Path, ...]

    @property
    def warnings(self) -> list[str]:
        return [item.message for item in self.matrix.unplaced]

    def to_json(self) -> dict:
        return {**self.matrix.to_dict(), "files": [str(path) for path in self.files]}

    def lines(self) -> list[str]:
        matrix = self.matrix
        rows = [
            f"{informant}: "
            + (
                "; ".join(
                    f"{code} {format_lines(matrix.lines(informant, code))}"
                    for code in matrix.codes
                    if matrix.lines(informant, code)
                )
                or "—"
            )
            for informant in matrix.informants
        ]
        return [*rows, *(str(path) for path in self.files)]


def matrix_session(folder: Path, codes_file: Path) -> MatrixFiles:
    """Build the informant × code matrix of the session in ``folder`` and write it there."""
    matrix = build_matrix(Session.load(folder), read_codes(codes_file))
    return MatrixFiles(matrix, tuple(write_matrix(matrix, folder)))
