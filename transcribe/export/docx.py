"""The numbered-line transcript as a Word table: the same heading and lines as the txt export.

Three columns (Informant nr. / Linjenr. / Tekstlinjer; four with a time column), a header row that
repeats on every page, A4 pages. Made with python-docx; opens in Word and LibreOffice.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from docx import Document as WordDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm

from . import txt

SUFFIX = ".docx"
PAGE = (Cm(21.0), Cm(29.7))
MARGIN = Cm(2.0)
NARROW = {False: (Cm(2.6), Cm(2.0)), True: (Cm(2.6), Cm(2.0), Cm(2.0))}  # all columns but the text


def render(document) -> bytes:
    word = WordDocument()
    section = word.sections[0]
    section.page_width, section.page_height = PAGE
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = MARGIN
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
    narrow = NARROW[document.timestamps]
    widths = [*narrow, PAGE[0] - 2 * MARGIN - sum(narrow)]
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


def _fixed_zip_times(data: bytes) -> bytes:
    """python-docx stamps each zip member with the current time; use a fixed one instead."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0)), source.read(item),
                            compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _repeat_on_every_page(row) -> None:
    marker = OxmlElement("w:tblHeader")
    marker.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(marker)
