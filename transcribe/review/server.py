"""``transcribe review``: a local web page to correct a transcript while listening to it.

The tool serves the page itself (``http.server``, no framework, no build step): plain HTML, CSS
and JavaScript from ``static/``, and a small JSON API the page calls. It listens on 127.0.0.1
only; a fresh random token per start is needed for every request (a cookie once the first page
load carried it, or ``Authorization: Bearer``). The Host header must name this server (against
DNS rebinding), a state-changing request from a foreign Origin is refused, and the
Content-Security-Policy lets the page load nothing but its own files.

Audio: the session's recordings are checked against the sha256 taken at intake and decoded
once, in a background thread, into memory (int16, half the size of the decoder's float32);
``/api/audio`` serves stretches of it as WAV. Nothing is written to disk and nothing is cached
by the browser. A purged session, or one whose recordings were moved or changed, opens text-only
and the page says why.

Edits: every change is saved at once. The session lock is taken for the write only; session.json
is read again from disk, the client's revision must be the one found there (else 409: another
tab or a ``transcribe export`` saved in between), the change is applied and saved atomically, and
the new revision is the answer. A killed server loses nothing it acknowledged.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import math
import re
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from .. import audio as audio_stage
from ..asr import doubt_threshold
from ..errors import InputError, SessionError, TranscribeError
from ..export import build_document
from ..session import FILENAME, Session, locked
from ..speakers import check_map, sounds_like, stats
from . import edits

HOST = "127.0.0.1"
MAX_BODY = 256 * 1024  # a turn's text is a few kilobytes; anything near this is a mistake or an attack
MAX_STRETCH = 300.0  # seconds of audio per request (WAV at 16 kHz, 16 bit: 9.6 MB)
SAMPLE_SECONDS = 6.0  # how much of each speaker cluster the speaker panel plays
LOCK_WAIT = 5.0  # seconds a change waits for a 'transcribe export' to release the session
ASSETS = ("index.html", "review.css", "review.js", "icon.svg")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# -- audio -------------------------------------------------------------------------------------


@dataclass
class Playback:
    """The session's audio in memory, or why there is none. ``state``: loading, ready or unavailable."""

    state: str = "loading"
    reason: str | None = None
    purged: bool = False
    samples: np.ndarray | None = None  # int16, mono, audio.SAMPLE_RATE

    def to_dict(self) -> dict:
        duration = None if self.samples is None else round(len(self.samples) / audio_stage.SAMPLE_RATE, 3)
        return {"state": self.state, "reason": self.reason, "duration": duration}


def unplayable(session: Session) -> tuple[str, bool] | None:
    """(why the recordings cannot be played, whether because of a purge), or None when they can."""
    if session.purge:
        state = "was purged" if session.purge.get("state") == "complete" else "is being purged"
        return (
            f"The session {state} ({session.purge.get('started', '')}): its recordings are destroyed, so review works on the text alone.",
            True,
        )
    for source in session.sources:
        path = Path(source.path)
        if not path.is_file():
            return (
                f"The recording {source.path} is not where it was at intake (moved or deleted); review works on the text alone. Put it back to listen.",
                False,
            )
        if audio_stage.sha256_and_size(path)[0] != source.sha256:
            return (
                f"The recording {source.path} has changed since intake (its sha256 differs); review works on the text alone.",
                False,
            )
    return None


def decode_session(session: Session) -> np.ndarray:
    """The session's timeline as int16, decoded by the one decoder."""
    timeline = audio_stage.load([source.path for source in session.sources]).audio
    return (np.clip(timeline, -1.0, 1.0) * 32767).astype(np.int16)


def wav(samples: np.ndarray, rate: int = audio_stage.SAMPLE_RATE) -> bytes:
    data = samples.astype("<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        rate,
        rate * 2,
        2,
        16,
        b"data",
        len(data),
    )
    return header + data


# -- the reviewer: state shared by the request threads -----------------------------------------


class Reviewer:
    def __init__(self, folder: Path, token: str):
        self.folder = Path(folder)
        self.token = token
        self.playback = Playback()
        self.last_request = time.monotonic()
        self._write = threading.Lock()  # one change at a time in this process (the file lock is per process)
        self._cache: tuple[tuple, Session] | None = None
        self._cache_lock = threading.Lock()

    # sessions

    def current(self) -> Session:
        """session.json as it is on disk now (parsed again only when the file changed)."""
        path = self.folder / FILENAME
        with self._cache_lock:
            try:
                info = path.stat()
            except FileNotFoundError:
                raise HttpError(HTTPStatus.GONE, f"{path} is gone; the review cannot go on.") from None
            key = (info.st_mtime_ns, info.st_size, info.st_ino)
            if self._cache is None or self._cache[0] != key:
                self._cache = (key, Session.load(self.folder))
            session = self._cache[1]
        if session.purge and not self.playback.purged:
            self.playback = Playback("unavailable", unplayable(session)[0], True)  # drop the audio from memory
        return session

    def load_audio(self) -> None:
        session = self.current()
        why = unplayable(session)
        if why:
            self.playback = Playback("unavailable", why[0], why[1])
            return
        try:
            samples = decode_session(session)
        except TranscribeError as exc:
            self.playback = Playback("unavailable", f"{exc} Review works on the text alone.")
            return
        if not self.playback.purged:
            self.playback = Playback("ready", samples=samples)

    def change(self, revision, apply: Callable[[Session, edits.Review], edits.Review]) -> dict:
        """Apply one change to session.json as it is on disk, if the client saw its latest revision."""
        if not isinstance(revision, int) or isinstance(revision, bool):
            raise HttpError(HTTPStatus.BAD_REQUEST, 'Send the revision you last saw ("revision": a number).')
        with self._write, contextlib.ExitStack() as held:
            deadline = time.monotonic() + LOCK_WAIT
            while True:
                try:
                    held.enter_context(locked(self.folder))
                    break
                except SessionError:  # a 'transcribe export' is writing: it takes a moment
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            session = Session.load(self.folder)
            if session.revision != revision:
                raise HttpError(
                    HTTPStatus.CONFLICT,
                    f"session.json changed since you loaded it (revision {session.revision}, "
                    f"you saw {revision}): another tab or a transcribe command saved in between. "
                    "Reload to see its changes, then make yours again.",
                )
            before = edits.review_of(session)
            old_map = dict(session.speaker_map)
            session.review = apply(session, before)
            session.save(self.folder)
        return changed_view(session, before, old_map)

    # speakers

    def speakers(self, session: Session) -> list[dict]:
        review = edits.review_of(session)
        utterances = [utterance for utterance, _ in edits.reviewed_utterances(session)]
        alike = sounds_like(session)
        rows = []
        for row in stats(utterances):
            longest = max(
                (u for u in session.utterances if u.speaker == row.speaker), key=lambda u: u.end - u.start, default=None
            )
            sample = longest or next(u for u in utterances if u.speaker == row.speaker)
            rows.append(
                {
                    "cluster": row.speaker,
                    "label": session.speaker_map.get(row.speaker),
                    "talk_time": round(row.talk_time, 1),
                    "turns": row.turns,
                    "words": row.words,
                    "sample": {"start": sample.start, "end": round(min(sample.end, sample.start + SAMPLE_SECONDS), 3)},
                    "alike": [
                        {"cluster": other, "similarity": round(similar, 2)}
                        for other, similar in alike.get(row.speaker, [])
                    ],
                    "relabelled": sum(
                        1 for turn in review.turns if turn.cluster == row.speaker and turn.label is not None
                    ),
                }
            )
        return rows


# -- views: what the page gets -----------------------------------------------------------------


def turn_views(session: Session, review: edits.Review) -> tuple[list[dict], dict[int, list]]:
    """Every turn as the page shows it, with the export's line numbers; and (first line, label
    shown) per turn id, which is all an unchanged turn needs after a change elsewhere."""
    document = build_document(session)
    lines_of: dict[int, list[dict]] = {}
    for line, words in zip(document.lines, document.line_words):
        lines_of.setdefault(line.turn, []).append({"number": line.number, "label": line.label, "words": len(words)})
    views, layout, spoken = [], {}, 0
    for turn in review.turns:
        lines = []
        if edits.heard_words(turn):
            lines = _with_suspects(turn, lines_of.get(spoken, []))
            spoken += 1
        elif turn.words:  # only words suspected of being invented: shown, numbered nowhere
            lines = [{"number": None, "label": "", "words": len(turn.words)}]
        views.append(
            {
                "id": turn.id,
                "cluster": turn.cluster,
                "label": edits.label_of(turn, session.speaker_map),
                "overridden": turn.label is not None,
                "start": turn.start,
                "end": turn.end,
                "text": " ".join(word.text for word in edits.heard_words(turn)),  # what the exports have
                "reviewed": turn.reviewed,
                "edited": turn.edited,
                "lines": lines,
                "words": [
                    {"start": w.start, "end": w.end, "text": w.text, "probability": w.probability, "suspect": w.suspect}
                    for w in turn.words
                ],
            }
        )
        layout[turn.id] = [lines[0]["number"], lines[0]["label"]] if lines else [None, ""]
    return views, layout


def _with_suspects(turn: edits.ReviewTurn, lines: list[dict]) -> list[dict]:
    """The export's lines count only the words it keeps; the page also shows the suspected ones (on
    the line of the next kept word, or the last line), so each line's count is made to include them."""
    if not lines:
        return lines
    counts, line, kept = [0] * len(lines), 0, 0
    for word in turn.words:
        counts[line] += 1
        if word.suspect is None or turn.span is None:
            kept += 1
            if kept == lines[line]["words"] and line + 1 < len(lines):
                line, kept = line + 1, 0
    return [{**row, "words": count} for row, count in zip(lines, counts)]


def full_view(session: Session, playback: Playback) -> dict:
    review = edits.review_of(session)
    views, _ = turn_views(session, review)
    return {
        "revision": session.revision,
        "session": {
            "name": session.name,
            "duration": round(session.duration, 3),
            "moderator": session.moderator_label,
            "informants": session.informants,
            "sources": [{"file": s.file, "offset": s.offset} for s in session.sources],
        },
        "labels": edits.labels_allowed(session, review),
        "doubtful_below": doubt_threshold(session.transcription.model),
        "history": len(review.history),
        "review": review.summary(),
        "audio": playback.to_dict(),
        "turns": views,
    }


def changed_view(session: Session, before: edits.Review, old_map: dict) -> dict:
    """The answer to a change: the new revision, the turns that look different, and the layout."""
    after = edits.review_of(session)
    views, layout = turn_views(session, after)
    old = {turn.id: (turn, edits.label_of(turn, old_map)) for turn in before.turns}
    changed = [
        view
        for view, turn in zip(views, after.turns)
        if old.get(turn.id) != (turn, edits.label_of(turn, session.speaker_map))
    ]
    kept = {turn.id for turn in after.turns}
    return {
        "revision": session.revision,
        "turns": changed,
        "removed": [i for i in old if i not in kept],
        "order": [turn.id for turn in after.turns],
        "layout": layout,
        "labels": edits.labels_allowed(session, after),
        "history": len(after.history),
        "review": after.summary(),
    }


# -- HTTP --------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"
    server_version = "transcribe-review"
    sys_version = ""

    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's name
        pass  # a review session prints nothing per request; the page shows what happened

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # dispatch

    def _handle(self, method: str) -> None:
        reviewer = self.server.reviewer
        reviewer.last_request = time.monotonic()
        url = urlsplit(self.path)
        try:
            self._check_host()
            if method != "GET":
                self._check_origin()
            query = parse_qs(url.query)
            if method == "GET" and url.path == "/" and "token" in query:
                if not hmac.compare_digest(query["token"][0].encode(), reviewer.token.encode()):
                    raise HttpError(
                        HTTPStatus.FORBIDDEN,
                        "This link's token is not the one of this review. Use the "
                        "link that 'transcribe review' printed when it started.",
                    )
                self._redirect_with_cookie()
                return
            self._check_token()
            self._route(method, url.path, query)
        except HttpError as exc:
            self._error(exc.status, str(exc), url.path)
        except TranscribeError as exc:
            status = HTTPStatus.BAD_REQUEST if isinstance(exc, InputError) else HTTPStatus.CONFLICT
            self._error(status, str(exc), url.path)
        except Exception as exc:  # a bug: answer plainly and keep serving; saves are atomic, so nothing is half-written
            self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                f"Internal error ({type(exc).__name__}: {exc}). Reload the page "
                "to see what is saved, and please report it.",
                url.path,
            )

    def _route(self, method: str, path: str, query: dict) -> None:
        reviewer = self.server.reviewer
        if method == "GET":
            if path == "/":
                return self._asset("index.html")
            if path.startswith("/static/"):
                return self._asset(path[len("/static/") :])
            if path == "/api/turns":
                return self._json(full_view(reviewer.current(), reviewer.playback))
            if path == "/api/status":
                session = reviewer.current()
                return self._json({"revision": session.revision, "audio": reviewer.playback.to_dict()})
            if path == "/api/speakers":
                session = reviewer.current()
                return self._json({"revision": session.revision, "speakers": reviewer.speakers(session)})
            if path == "/api/audio":
                return self._audio(query)
            raise HttpError(HTTPStatus.NOT_FOUND, f"Nothing at {path}.")
        if method not in ("POST", "PATCH"):
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not used here.")
        body = self._body()
        revision = body.get("revision")
        if method == "PATCH" and (match := re.fullmatch(r"/api/turns/(\d+)", path)):
            return self._json(reviewer.change(revision, _update(int(match.group(1)), body)))
        if method == "POST" and (match := re.fullmatch(r"/api/turns/(\d+)/(split|merge)", path)):
            turn_id, action = int(match.group(1)), match.group(2)
            if action == "split":
                word = body.get("word")
                if not isinstance(word, int) or isinstance(word, bool):
                    raise HttpError(
                        HTTPStatus.BAD_REQUEST,
                        'Say where to split: "word": the number of the word that starts the new turn (from 0).',
                    )
                return self._json(
                    reviewer.change(revision, _found(turn_id, lambda s, r: edits.split(r, turn_id, word, s.revision)))
                )
            return self._json(
                reviewer.change(revision, _found(turn_id, lambda s, r: edits.merge(r, turn_id, s.revision)))
            )
        if method == "POST" and path == "/api/undo":
            return self._json(reviewer.change(revision, _undo))
        if method == "PATCH" and (match := re.fullmatch(r"/api/speakers/([A-Za-z0-9_]+)", path)):
            if "label" not in body:
                raise HttpError(HTTPStatus.BAD_REQUEST, 'Send the cluster\'s new label ("label").')
            return self._json(reviewer.change(revision, _relabel_cluster(match.group(1), body["label"])))
        raise HttpError(HTTPStatus.NOT_FOUND, f"Nothing at {method} {path}.")

    # checks

    def _check_host(self) -> None:
        port = self.server.server_address[1]
        if self.headers.get("Host", "") not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            raise HttpError(
                HTTPStatus.FORBIDDEN,
                f"Refused: this review answers only at 127.0.0.1:{port} or localhost:{port} "
                "(through an SSH tunnel, use the same port number on both ends).",
            )

    def _check_origin(self) -> None:
        port = self.server.server_address[1]
        origin = self.headers.get("Origin")
        if origin is not None and origin not in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            raise HttpError(HTTPStatus.FORBIDDEN, f"Refused: a change from another site ({origin}).")
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise HttpError(HTTPStatus.FORBIDDEN, "Refused: a change from another site.")

    def _check_token(self) -> None:
        token = self.server.reviewer.token.encode()
        given = []
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            given.append(authorization[len("Bearer ") :].strip())
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is no token
            pass
        if self.server.cookie_name in cookie:
            given.append(cookie[self.server.cookie_name].value)
        if not any(hmac.compare_digest(candidate.encode(), token) for candidate in given):
            raise HttpError(
                HTTPStatus.UNAUTHORIZED,
                "This review needs its token. Open the link that 'transcribe review' "
                "printed (it ends in ?token=…); a new start makes a new token.",
            )

    def _body(self) -> dict:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "Send the body with a Content-Length.")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise HttpError(HTTPStatus.BAD_REQUEST, "The Content-Length header is not a number.")
        if length > MAX_BODY:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            raise HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"The request is {length} bytes; a change may be at most "
                f"{MAX_BODY // 1024} KiB. Split a very long turn into several and edit them one by one.",
            )
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise HttpError(HTTPStatus.BAD_REQUEST, "The body is not JSON text in UTF-8.") from None
        if not isinstance(body, dict):
            raise HttpError(HTTPStatus.BAD_REQUEST, 'The body must be a JSON object, like {"text": …, "revision": 3}.')
        return body

    # answers

    def _redirect_with_cookie(self) -> None:
        cookie = f"{self.server.cookie_name}={self.server.reviewer.token}; HttpOnly; SameSite=Strict; Path=/"
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain; charset=utf-8", {"Location": "/", "Set-Cookie": cookie})

    def _asset(self, name: str) -> None:
        if name not in ASSETS:  # a fixed list: no path from the URL ever reaches the file system
            raise HttpError(HTTPStatus.NOT_FOUND, f"No such file: {name}.")
        data = resources.files("transcribe.review").joinpath("static", name).read_bytes()
        self._send(HTTPStatus.OK, data, CONTENT_TYPES[Path(name).suffix])

    def _audio(self, query: dict) -> None:
        reviewer = self.server.reviewer
        reviewer.current()  # notices a purge since the last request
        playback = reviewer.playback
        if playback.state == "loading":
            raise HttpError(
                HTTPStatus.SERVICE_UNAVAILABLE, "The recordings are still being decoded; try again in a moment."
            )
        if playback.state != "ready":
            raise HttpError(HTTPStatus.GONE if playback.purged else HTTPStatus.NOT_FOUND, playback.reason)
        try:
            start, end = float(query["start"][0]), float(query["end"][0])
        except (KeyError, ValueError):
            raise HttpError(
                HTTPStatus.BAD_REQUEST, "Ask for a stretch like /api/audio?start=12.5&end=40 (seconds)."
            ) from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
            raise HttpError(
                HTTPStatus.BAD_REQUEST, "start and end are seconds on the session timeline, start before end."
            )
        if end - start > MAX_STRETCH:
            raise HttpError(
                HTTPStatus.BAD_REQUEST,
                f"At most {MAX_STRETCH:.0f} seconds of audio per request; you asked for {end - start:.0f}.",
            )
        rate = audio_stage.SAMPLE_RATE
        samples = playback.samples
        self._send(
            HTTPStatus.OK,
            wav(samples[min(int(start * rate), len(samples)) : min(int(end * rate), len(samples))]),
            "audio/wav",
        )

    def _json(self, data: dict) -> None:
        self._send(
            HTTPStatus.OK, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8"
        )

    def _error(self, status: int, message: str, path: str) -> None:
        if path.startswith("/api/"):
            self._send(
                status,
                json.dumps({"error": message}, ensure_ascii=False).encode("utf-8"),
                "application/json; charset=utf-8",
            )
        else:
            self._send(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def _send(self, status: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in {
            **SECURITY_HEADERS,
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            **(headers or {}),
        }.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _update(turn_id: int, body: dict):
    fields = {key: body[key] for key in ("text", "label", "reviewed") if key in body}
    if not fields:
        raise HttpError(HTTPStatus.BAD_REQUEST, 'Send what to change: "text", "label" or "reviewed".')
    if "text" in fields and not isinstance(fields["text"], str):
        raise HttpError(HTTPStatus.BAD_REQUEST, '"text" must be the turn\'s text as a string.')
    if "reviewed" in fields and not isinstance(fields["reviewed"], bool):
        raise HttpError(HTTPStatus.BAD_REQUEST, '"reviewed" must be true or false.')

    def apply(session: Session, review: edits.Review) -> edits.Review:
        _, turn = _turn(review, turn_id)
        mapped = session.speaker_map.get(turn.cluster, turn.cluster)
        changes = dict(fields)
        if "label" in changes:
            changes["label"] = mapped if changes["label"] is None else edits.check_label(changes["label"], session)
        return edits.update(review, turn_id, session.revision, mapped=mapped, **changes)

    return apply


def _found(turn_id: int, apply):
    def checked(session: Session, review: edits.Review) -> edits.Review:
        _turn(review, turn_id)
        return apply(session, review)

    return checked


def _turn(review: edits.Review, turn_id: int):
    try:
        return review.turn(turn_id)
    except LookupError:
        raise HttpError(
            HTTPStatus.NOT_FOUND, f"There is no turn {turn_id} in this session (reload the page)."
        ) from None


def _undo(session: Session, review: edits.Review) -> edits.Review:
    review, change = edits.undo(review, session.revision)
    if change.speaker_map is not None:
        session.speaker_map = change.speaker_map
    return review


def _relabel_cluster(cluster: str, label):
    def apply(session: Session, review: edits.Review) -> edits.Review:
        if cluster not in session.speaker_map:
            raise HttpError(HTTPStatus.NOT_FOUND, f"{cluster} is not a speaker cluster of this session.")
        old = dict(session.speaker_map)
        value = edits.check_label(label, session)
        session.speaker_map = check_map({**old, cluster: value}, session, "the review page", merge=True)
        return edits.map_changed(review, old, session.revision)

    return apply


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, reviewer: Reviewer, port: int):
        self.reviewer = reviewer
        super().__init__((HOST, port), Handler)
        self.cookie_name = f"transcribe-review-{self.server_address[1]}"  # cookies ignore ports: one name per server


# -- starting and stopping ---------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    url: str
    port: int
    token: str


def open_review(folder: Path, port: int = 0) -> tuple[ReviewServer, Started]:
    """Check the session, bind the port and start decoding the audio; serve with ``serve``."""
    folder = Path(folder)
    if not Session.exists(folder):
        raise SessionError(
            f"{folder} holds no session ({FILENAME} is missing). Pass the folder that 'transcribe run' made."
        )
    with locked(folder):  # refuses while a run or export holds the session
        edits.review_of(Session.load(folder))  # refuses an unfinished transcript
    token = secrets.token_urlsafe(32)
    reviewer = Reviewer(folder, token)
    try:
        server = ReviewServer(reviewer, port)
    except OSError as exc:
        raise InputError(
            f"Cannot listen on {HOST}:{port} ({exc.strerror}). Choose another port with --port, "
            "or leave --port out to take a free one."
        ) from None
    bound = server.server_address[1]
    threading.Thread(target=reviewer.load_audio, name="decode", daemon=True).start()
    return server, Started(f"http://{HOST}:{bound}/?token={token}", bound, token)


def serve(server: ReviewServer, idle_seconds: float) -> None:
    """Serve until Ctrl-C (KeyboardInterrupt reaches the caller) or ``idle_seconds`` without a request."""

    def watch() -> None:
        while time.monotonic() - server.reviewer.last_request < idle_seconds:
            time.sleep(min(1.0, idle_seconds / 10))
        server.shutdown()

    threading.Thread(target=watch, name="idle", daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
