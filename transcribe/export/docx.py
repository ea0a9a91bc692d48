"""The numbered-line transcript as a Word table: the same heading and lines as the txt export.

Three columns (Informant nr. / Linjenr. / Tekstlinjer; four with a time column), a header row that
repeats on every page, A4 pages. Made with python-docx; opens in Word and LibreOffice.

Every numbered line must be exactly one visual line, or a line number would name two. So the text
is set in Courier New, a monospace font whose every glyph is 0.6 em wide: Word users have it, and
LibreOffice on Linux draws it with the metric-compatible Liberation Mono (fonts-liberation2), so
lines break at the same place in both. Each column is as wide as its longest cell (header
included) plus one character; the page is A4 portrait at 10 pt when that fits, else landscape at
the largest size from 10 down to 7 pt that fits. With the default --width 80 that is landscape,
10 pt (also with a time column); the widest that fits is --width 141 (129 with a time column), wider
is refused with a message. A character that Liberation Mono lacks (an emoji) is drawn from another
font and may be wider.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime

from docx import Document as WordDocument
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt

from ..errors import InputError
from . import txt
from .archive import zip_members

SUFFIX = ".docx"
FONT = "Courier New"
ADVANCE = 0.6  # glyph width in em, the same for every character of Courier New and Liberation Mono
PAGE = (Cm(21.0), Cm(29.7))  # A4 portrait (width, height); the matrix report uses it too
MARGIN = Cm(2.0)
CELL_PADDING = Pt(5.4) * 2 + Pt(0.5)  # left + right cell margin of the "Table Grid" style (108 twips), one border
PORTRAIT_SIZE = 10.0
LANDSCAPE_SIZES = (10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0)  # pt, tried in order
LANGUAGES = {"no": "nb-NO", "nn": "nn-NO"}  # so Word and LibreOffice check spelling in Norwegian


@dataclass(frozen=True)
class Layout:
    landscape: bool
    size: float  # font size in pt
    widths: tuple[int, ...]  # column widths in EMU


def layout(document) -> Layout:
    """The page orientation, font size and column widths that keep every numbered line on one line."""
    rows = [txt.headings(document)] + [txt.cells(document, line) for line in document.lines]
    chars = [max(len(row[index]) for row in rows) + 1 for index in range(len(rows[0]))]
    chars[-1] = max(chars[-1], document.session.width + 1)  # the same page for every transcript at one width
    portrait, landscape = PAGE[0] - 2 * MARGIN, PAGE[1] - 2 * MARGIN
    for page, size in [(portrait, PORTRAIT_SIZE)] + [(landscape, size) for size in LANDSCAPE_SIZES]:
        widths = tuple(int(Pt(n * ADVANCE * size) + CELL_PADDING) for n in chars)
        if sum(widths) <= page:
            return Layout(page == landscape, size, widths)
    smallest = Pt(ADVANCE * LANDSCAPE_SIZES[-1])
    widest = int((landscape - len(chars) * CELL_PADDING) / smallest) - sum(chars[:-1]) - 1
    raise InputError(
        f"--width {document.session.width}: lines that long do not fit on one line of an A4 page, even in landscape "
        f"at {LANDSCAPE_SIZES[-1]:g} pt. The transcript is kept; export the docx again with --width {widest} or less."
    )


def render(document) -> bytes:
    page = layout(document)
    word = WordDocument()
    section = word.sections[0]
    if page.landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_height, section.page_width = PAGE
    else:
        section.page_width, section.page_height = PAGE
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = MARGIN
    _set_font(word, page.size, LANGUAGES.get(document.session.language, document.session.language))
    properties = word.core_properties
    properties.title = document.session.name
    properties.author = properties.last_modified_by = "transcribe"
    properties.comments = txt.provenance(document.session)
    # Dates from the session, not the clock: the same session gives the same bytes (and hash).
    properties.created = properties.modified = datetime.fromisoformat(document.session.created)
    properties.revision = 1
    for text in txt.heading_lines(document):
        word.add_paragraph(text)

    headings = txt.headings(document)
    rows = [txt.cells(document, line) for line in document.lines]
    table = word.add_table(rows=1 + len(rows), cols=len(headings))
    table.style = "Table Grid"
    table.autofit = False
    widths = [Emu(width) for width in page.widths]
    for column, width in zip(table.columns, widths):
        column.width = width  # LibreOffice reads the grid
    header, *body = table.rows
    for cell, text, width in zip(header.cells, headings, widths):
        cell.width = width  # Word reads the cells
        cell.paragraphs[0].add_run(text).bold = True
    _repeat_on_every_page(header)
    for row, values in zip(body, rows):
        for cell, text, width in zip(row.cells, values, widths):
            cell.width = width
            cell.text = text

    buffer = io.BytesIO()
    word.save(buffer)
    return _fixed_zip_times(buffer.getvalue())


def _set_font(word, size: float, language: str) -> None:
    """Courier New at the layout's size for all text, single spacing, no space after paragraphs."""
    normal = word.styles["Normal"]
    normal.font.size = Pt(size)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for script in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(script), FONT)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), language)
    normal.element.get_or_add_rPr().append(lang)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.0


def _fixed_zip_times(data: bytes) -> bytes:
    """python-docx stamps each zip member with the current time; use a fixed one instead."""
    source = zipfile.ZipFile(io.BytesIO(data))
    return zip_members((item.filename, source.read(item)) for item in source.infolist())


def _repeat_on_every_page(row) -> None:
    marker = OxmlElement("w:tblHeader")
    marker.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(marker)
