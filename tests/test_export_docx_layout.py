"""The docx as LibreOffice draws it: every numbered line is exactly one visual line.

The docx is converted to PDF by LibreOffice (headless, with a private profile so parallel runs do
not clash) and read back with ``pdftotext -layout``: each table row must come out as one text line
holding its label, its number and its whole text, and each page must start with the header row.
The PDF must use Liberation Mono (what LibreOffice draws Courier New with) and no other font.
The transcript is made of long Norwegian words with æøå, wrapped so that every line is exactly
--width characters long (the worst case).
"""

import re
import shutil
import subprocess

import pytest
from sessions import make_session

from transcribe.errors import InputError
from transcribe.export import build_document, docx, txt

TOOLS = ("soffice", "pdftotext", "pdffonts")
# Long words fill each line; one short word of the exact length left makes it exactly --width long.
LONG = [
    "selvhjelpsgruppemøtene",
    "taushetsbelagt",
    "arbeidsmiljøutfordringer",
    "følelsesmessig",
    "likemannsarbeidet",
    "førstegangsdeltakerne",
    "brukermedvirkning",
    "gjennomgående",
    "ærlighet",
]
SHORT = {
    1: "å",
    2: "og",
    3: "får",
    4: "møte",
    5: "gjøre",
    6: "følger",
    7: "således",
    8: "særskilt",
    9: "hverandre",
    10: "gruppemøte",
    11: "erfaringene",
    12: "fellesskapet",
}
SPEAKERS = ("SPEAKER_00", "SPEAKER_01", "SPEAKER_02")
LABELS = {"SPEAKER_00": "M", "SPEAKER_01": 1, "SPEAKER_02": 12}


def full_line(width: int, first: int) -> str:
    """A line of exactly ``width`` characters: long words from LONG[first] on, then short ones."""
    words: list[str] = []
    while len(" ".join([*words, LONG[(first + len(words)) % len(LONG)]])) + 2 <= width:
        words.append(LONG[(first + len(words)) % len(LONG)])
    left = width - len(" ".join(words)) - (1 if words else 0)
    while left > 12:
        words.append(SHORT[6])
        left -= 7
    line = " ".join([*words, SHORT[left]])
    assert len(line) == width, line
    return line


def long_word_session(width: int, turns: int = 30):
    """Turns of one to four full lines each: more than one page of them."""
    script = []
    for turn in range(turns):
        text = " ".join(full_line(width, turn + n) for n in range(1 + turn % 4))
        script.append((SPEAKERS[turn % 3], 2.0 * turn, 2.0 * turn + 1.5, text))
    session = make_session(script=script, speaker_map=LABELS, informants=(1, 12))
    session.width = width
    return session


def drawn_table(pdf_text: str, headings: tuple[str, ...]) -> tuple[list[tuple[str, ...]], int]:
    """The table rows as drawn, one per text line, cut at the header's columns; and the page count.

    The header row must stand at the top of every page after the first.
    """
    pages = [[line for line in page.splitlines() if line.strip()] for page in pdf_text.split("\f")]
    pages = [lines for lines in pages if lines]
    first_page = [" ".join(line.split()) for line in pages[0]]
    assert " ".join(headings) in first_page, "the header row is not one line:\n" + "\n".join(pages[0][:8])
    pages[0] = pages[0][first_page.index(" ".join(headings)) :]
    rows = []
    for lines in pages:
        assert " ".join(lines[0].split()) == " ".join(headings), f"a page starts with {lines[0]!r}, not the header"
        starts, position = [], 0
        for heading in headings:
            position = lines[0].index(heading, position)
            starts.append(position)
        for line in lines[1:]:
            cells = [line[a:b] for a, b in zip(starts, [*starts[1:], None])]
            rows.append((*(cell.strip() for cell in cells[:-1]), cells[-1].rstrip()))
    return rows, len(pages)


CASES = [(40, False), (80, False), (80, True), (141, False)]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """Each case's document and the text of its PDF, converted in one LibreOffice run."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: apt-get install libreoffice-writer-nogui poppler-utils")
    folder = tmp_path_factory.mktemp("docx")
    documents, files = {}, []
    for width, timestamps in CASES:
        document = build_document(long_word_session(width), timestamps=timestamps)
        path = folder / f"w{width}{'t' if timestamps else ''}.docx"
        path.write_bytes(docx.render(document))
        documents[(width, timestamps)] = (document, path.with_suffix(".pdf"))
        files.append(path.name)
    profile = (folder / "profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", *files],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=180,
    )
    drawn = {}
    for case, (document, pdf) in documents.items():
        fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout
        assert {"LiberationMono", "LiberationMono-Bold"} == set(re.findall(r"\+(\S+)", fonts)), fonts
        drawn[case] = (
            document,
            subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout,
        )
    return drawn


@pytest.mark.parametrize("width,timestamps", CASES)
def test_every_numbered_line_is_one_visual_line(drawn, width, timestamps):
    document, text = drawn[(width, timestamps)]
    assert all(len(line.text) == width for line in document.lines)
    rows, pages = drawn_table(text, txt.headings(document))
    assert rows == [txt.cells(document, line) for line in document.lines]
    assert len(rows) > 60 and pages >= 2


@pytest.mark.parametrize(
    "width,timestamps,landscape,size",
    [
        (40, False, False, 10.0),
        (50, False, False, 10.0),
        (51, False, True, 10.0),
        (80, False, True, 10.0),
        (80, True, True, 10.0),
        (100, False, True, 9.0),
        (141, False, True, 7.0),
        (129, True, True, 7.0),
    ],
)
def test_the_page_and_font_follow_the_width(width, timestamps, landscape, size):
    page = docx.layout(build_document(long_word_session(width, 2), timestamps=timestamps))
    assert (page.landscape, page.size) == (landscape, size)


@pytest.mark.parametrize("width,timestamps,widest", [(142, False, 141), (130, True, 129)])
def test_a_width_beyond_the_page_is_refused_with_the_widest_that_fits(width, timestamps, widest):
    with pytest.raises(InputError, match=rf"--width {width}: .* --width {widest} or less"):
        docx.layout(build_document(long_word_session(width, 2), timestamps=timestamps))
