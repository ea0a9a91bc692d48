"""Audio recognised by content, never by file name: which container a file's first bytes start.

Audio is recognised by its container's signature: MP4/M4A/MOV (``ftyp`` at
offset 4, except HEIF/AVIF image brands, which iPhones also write), QuickTime without ``ftyp``,
WAV (RIFF/RF64/BW64 … WAVE), AIFF/AIFC, CAF, FLAC, Ogg, MP3 (an ID3v2 tag, or two consecutive
valid MPEG audio frame headers), AAC in ADTS frames (two consecutive headers), AMR,
Matroska/WebM, ASF/WMA and Sun AU. A single frame-sync pattern is not enough: random data starts
with one about once in two thousand files, two chained headers practically never.
"""

from __future__ import annotations

HEAD = 16384  # enough for two MPEG frames (≤ 2.9 kB) or two ADTS frames (≤ 8 kB)

IMAGE_BRANDS = {
    b"heic",
    b"heix",
    b"heim",
    b"heis",
    b"hevc",
    b"hevx",
    b"hevm",
    b"hevs",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
    b"crx ",
}
ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")

_MPEG_BITRATES = {  # kbit/s by (MPEG-1?, layer) for bitrate index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits


def audio_kind(head: bytes, size: int) -> str | None:
    """The audio container that ``head`` (a file's first bytes; ``size``: its length) starts, or None."""
    four = head[:4]
    if four in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "WAV"
    if four == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    if four == b"caff" and head[4:6] == b"\x00\x01":
        return "CAF"
    if four == b"fLaC":
        return "FLAC"
    if four == b"OggS" and head[4:5] == b"\x00":
        return "Ogg"
    if head[:5] == b"#!AMR":
        return "AMR"
    if four == b"\x1a\x45\xdf\xa3":
        return "Matroska/WebM"
    if head[:16] == ASF_GUID:
        return "ASF/WMA"
    if four == b".snd":
        return "AU"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        box = int.from_bytes(four, "big")
        if 16 <= box <= min(size, 4096) and head[8:12] not in IMAGE_BRANDS:
            return f"MP4/M4A ({head[8:12].decode('latin-1').strip()})"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide"):
        box = int.from_bytes(four, "big")
        if box in (0, 1) or 8 <= box <= size:
            return "QuickTime"
    if _id3(head):
        return "MP3 (ID3)"
    if _chained(head, _mpeg_frame):
        return "MP3"
    if _chained(head, _adts_frame):
        return "AAC (ADTS)"
    return None


def _id3(head: bytes) -> bool:
    """An ID3v2 tag: 'ID3', version 2–4, a revision, flags, and a 'syncsafe' size (high bits clear)."""
    return (
        len(head) >= 10
        and head[:3] == b"ID3"
        and head[3] in (2, 3, 4)
        and head[4] != 0xFF
        and all(byte < 0x80 for byte in head[6:10])
    )


def _chained(head: bytes, frame) -> bool:
    """Two consecutive frame headers of the same kind at the start of the file."""
    first = frame(head, 0)
    if first is None:
        return False
    length, kind = first
    second = frame(head, length)
    return second is not None and second[1] == kind


def _mpeg_frame(data: bytes, at: int) -> tuple[int, tuple] | None:
    """(frame length, (version, layer, rate)) of a valid MPEG audio frame header at ``at``."""
    h = data[at : at + 4]
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    bitrate_index, rate_index, padding = h[2] >> 4, (h[2] >> 2) & 3, (h[2] >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3 or h[3] & 3 == 2:
        return None
    layer = 4 - layer_bits
    bitrate = _MPEG_BITRATES[(version == 3, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    elif layer == 3 and version != 3:
        length = 72 * bitrate // rate + padding
    else:
        length = 144 * bitrate // rate + padding
    return at + length, (version, layer, rate)


def _adts_frame(data: bytes, at: int) -> tuple[int, tuple] | None:
    """(end of frame, (MPEG version, profile, rate)) of a valid AAC ADTS header at ``at``."""
    h = data[at : at + 7]
    if len(h) < 7 or h[0] != 0xFF or h[1] & 0xF6 != 0xF0:  # sync, layer 00
        return None
    rate_index = (h[2] >> 2) & 0xF
    length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
    if rate_index > 12 or length < 7:
        return None
    return at + length, (h[1] & 0x08, h[2] >> 6, rate_index)
