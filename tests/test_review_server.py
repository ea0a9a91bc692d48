"""``transcribe review`` as a real process on a real port, driven with a plain HTTP client."""

import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time
import wave
from io import BytesIO

import pytest
from reviewing import ROOT, Review, real_session
from sessions import save_session

from transcribe.session import Session, locked


@pytest.fixture
def folder(tmp_path):
    real_session(tmp_path / "gruppe1", tmp_path / "opptak")
    return tmp_path / "gruppe1"


def raw(port: int, request: bytes) -> bytes:
    """Send bytes as they are (a Host header http.client would not send) and read the answer."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_every_path_needs_the_token_and_every_answer_is_no_store(folder):
    with Review(folder) as review:
        for path in ("/", "/static/review.js", "/api/turns", "/api/audio?start=0&end=1", "/api/speakers", "/nothing"):
            status, headers, body = review.request("GET", path, token=False)
            assert status == 401, path
            assert headers["Cache-Control"] == "no-store"
            assert b"Velkommen" not in (body if isinstance(body, bytes) else json.dumps(body).encode())
        status, _, _ = review.request("GET", "/api/turns", headers={"Authorization": "Bearer wrong"}, token=False)
        assert status == 401
        status, _, _ = review.request("PATCH", "/api/turns/1", {"reviewed": True, "revision": 1}, token=False)
        assert status == 401
        status, headers, turns = review.request("GET", "/api/turns")
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert turns["turns"][0]["text"].startswith("Velkommen")


def test_the_link_sets_a_strict_httponly_cookie_and_drops_the_token_from_the_address(folder):
    with Review(folder) as review:
        status, headers, _ = review.request("GET", f"/?token={review.token}", token=False)
        assert status == 303 and headers["Location"] == "/"
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and review.token in cookie
        name = cookie.split("=", 1)[0]
        status, headers, page = review.request("GET", "/", token=False, headers={"Cookie": f"{name}={review.token}"})
        assert status == 200 and b'<script src="/static/review.js"' in page
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert b"<script>" not in page and b"style=" not in page  # nothing inline: the policy forbids it
        status, _, _ = review.request("GET", "/?token=not-the-token", token=False)
        assert status == 403
        status, _, _ = review.request("GET", "/", token=False, headers={"Cookie": f"{name}=not-the-token"})
        assert status == 401


def test_foreign_host_and_origin_are_refused(folder):
    with Review(folder) as review:
        for host in (
            f"evil.example:{review.port}",
            "127.0.0.1",
            "127.0.0.1:1",
            f"localhost.evil.example:{review.port}",
        ):
            status, _, body = review.request("GET", "/api/turns", headers={"Host": host})
            assert status == 403, host
            assert "Refused" in body["error"]
        status, _, _ = review.request("GET", "/api/turns", headers={"Host": f"localhost:{review.port}"})
        assert status == 200
        status, _, body = review.request(
            "PATCH", "/api/turns/1", {"reviewed": True, "revision": 1}, headers={"Origin": "http://evil.example"}
        )
        assert status == 403 and "another site" in body["error"]
        status, _, body = review.request(
            "PATCH",
            "/api/turns/1",
            {"reviewed": True, "revision": 1},
            headers={"Origin": f"http://localhost:{review.port}"},
        )
        assert status == 200 and body["revision"] == 2


def test_paths_cannot_leave_the_assets(folder):
    with Review(folder) as review:
        for path in (
            "/static/../server.py",
            "/static/..%2fserver.py",
            "/static/%2e%2e/edits.py",
            "/static//etc/passwd",
            "/static/../../session.py",
            "/../session.json",
            "/static/",
        ):
            status, _, body = review.request("GET", path)
            assert status == 404, path
        answer = raw(
            review.port,
            f"GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1:{review.port}\r\n"
            f"Authorization: Bearer {review.token}\r\nConnection: close\r\n\r\n".encode(),
        )
        assert answer.startswith(b"HTTP/1.1 404") and b"root:" not in answer
        status, headers, script = review.request("GET", "/static/review.js")
        assert status == 200 and headers["Content-Type"].startswith("text/javascript")


def test_a_change_is_saved_at_once_and_a_stale_revision_is_refused(folder):
    with Review(folder) as review:
        _, _, turns = review.request("GET", "/api/turns")
        revision = turns["revision"]
        status, _, body = review.request(
            "PATCH", "/api/turns/2", {"text": "For meg betyr det alt.", "revision": revision}
        )
        assert status == 200 and body["revision"] == revision + 1
        assert body["turns"][0]["text"] == "For meg betyr det alt."
        saved = Session.load(folder)
        assert saved.revision == revision + 1 and saved.review.turns[1].text == "For meg betyr det alt."
        status, _, body = review.request(
            "PATCH", "/api/turns/3", {"reviewed": True, "revision": revision}
        )  # a second tab
        assert status == 409 and "changed since you loaded it" in body["error"]
        assert not Session.load(folder).review.turns[2].reviewed
        # a transcribe export in between also makes the page's revision stale
        subprocess.run(
            [sys.executable, "-m", "transcribe.cli", "export", str(folder)], cwd=ROOT, check=True, capture_output=True
        )
        status, _, body = review.request("PATCH", "/api/turns/3", {"reviewed": True, "revision": revision + 1})
        assert status == 409
        assert "For meg betyr det alt." in (folder / "gruppe1.txt").read_text()


def test_bad_requests_get_plain_answers_and_change_nothing(folder):
    with Review(folder) as review:
        before = (folder / "session.json").read_bytes()
        cases = [
            ("PATCH", "/api/turns/99", {"reviewed": True, "revision": 1}, 404, "no turn 99"),
            ("PATCH", "/api/turns/2", {"label": 9, "revision": 1}, 400, "not a label of session"),
            ("PATCH", "/api/turns/2", {"label": "X", "revision": 1}, 400, "not a label of session"),
            ("PATCH", "/api/turns/2", {"text": 5, "revision": 1}, 400, "must be the turn's text"),
            ("PATCH", "/api/turns/2", {"text": "x"}, 400, "revision"),
            ("POST", "/api/turns/1/merge", {"revision": 1}, 400, "first turn"),
            ("POST", "/api/turns/2/split", {"word": 0, "revision": 1}, 400, "split it before word 1"),
            ("POST", "/api/undo", {"revision": 1}, 400, "no change to undo"),
            ("PATCH", "/api/speakers/SPEAKER_99", {"label": 2, "revision": 1}, 404, "not a speaker cluster"),
            ("PATCH", "/api/turns/2", b"not json", 400, "not JSON"),
            ("PATCH", "/api/turns/2", [1, 2], 400, "JSON object"),
            ("DELETE", "/api/turns/2", {"revision": 1}, 405, "not used"),
        ]
        for method, path, body, expected, message in cases:
            status, _, answer = review.request(method, path, body)
            assert status == expected, (path, body, answer)
            assert message in answer["error"], answer
        status, _, answer = review.request("PATCH", "/api/turns/2", {"text": "ord " * 300_000, "revision": 1})
        assert status == 413 and "at most 256 KiB" in answer["error"]
        for query in ("start=0&end=301", "start=5&end=2", "start=x&end=2", "start=nan&end=2", ""):
            status, _, answer = review.request("GET", f"/api/audio?{query}")
            assert status in (400, 503), query
        assert (folder / "session.json").read_bytes() == before


def test_audio_is_served_from_memory_as_wav_stretches(folder):
    with Review(folder) as review:
        assert review.wait_audio()["state"] == "ready"
        status, headers, data = review.request("GET", "/api/audio?start=29.5&end=31.5")
        assert status == 200 and headers["Content-Type"] == "audio/wav" and headers["Cache-Control"] == "no-store"
        with wave.open(BytesIO(data)) as clip:
            assert (clip.getframerate(), clip.getnchannels(), clip.getsampwidth()) == (16000, 1, 2)
            assert clip.getnframes() == 32000  # across the join of the two parts
            assert max(clip.readframes(32000)) > 0
        status, _, answer = review.request("GET", "/api/audio?start=0&end=400")
        assert status == 400 and "At most 300 seconds" in answer["error"]
    assert not [p for p in folder.iterdir() if p.suffix not in (".json", ".lock") and p.name != ".transcribe.lock"]


def test_moved_or_changed_recordings_open_text_only_and_say_which(folder, tmp_path):
    moved = tmp_path / "opptak" / "del2.m4a"
    moved.rename(tmp_path / "del2-moved.m4a")
    with Review(folder) as review:
        audio = review.wait_audio()
        assert audio["state"] == "unavailable" and str(moved) in audio["reason"] and "moved" in audio["reason"]
        status, _, answer = review.request("GET", "/api/audio?start=0&end=1")
        assert status == 404 and str(moved) in answer["error"]
        assert review.request("GET", "/api/turns")[0] == 200
    (tmp_path / "del2-moved.m4a").rename(moved)
    with open(tmp_path / "opptak" / "del1.m4a", "ab") as handle:
        handle.write(b"\0")
    with Review(folder) as review:
        audio = review.wait_audio()
        assert audio["state"] == "unavailable" and "del1.m4a has changed since intake" in audio["reason"]


def test_a_purged_session_opens_text_only_and_audio_is_gone(folder):
    session = Session.load(folder)
    session.purge = {"state": "complete", "started": "2025-01-02T10:00:00+00:00"}
    session.save(folder)
    with Review(folder) as review:
        audio = review.wait_audio()
        assert audio["state"] == "unavailable" and "purged" in audio["reason"]
        status, _, answer = review.request("GET", "/api/audio?start=0&end=1")
        assert status == 410
        status, _, body = review.request("PATCH", "/api/turns/1", {"reviewed": True, "revision": session.revision})
        assert status == 200  # the text can still be corrected


def test_refuses_to_start_on_a_folder_that_is_no_session_or_is_locked(tmp_path):
    def start(folder):
        return subprocess.run(
            [sys.executable, "-m", "transcribe.cli", "review", str(folder), "--no-browser"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    result = start(tmp_path)
    assert result.returncode == 5 and "holds no session" in result.stderr and "Traceback" not in result.stderr
    save_session(tmp_path / "g")
    with locked(tmp_path / "g"):
        result = start(tmp_path / "g")
    assert result.returncode == 5 and "Another transcribe process" in result.stderr


def test_port_option_and_a_port_in_use(folder):
    with Review(folder) as first:
        result = subprocess.run(
            [sys.executable, "-m", "transcribe.cli", "review", str(folder), "--no-browser", "--port", str(first.port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 3 and f"Cannot listen on 127.0.0.1:{first.port}" in result.stderr
        free = first.port
    with Review(folder, "--port", str(free)) as again:
        assert again.port == free and again.url.startswith(f"http://127.0.0.1:{free}/?token=")


def test_ctrl_c_stops_cleanly_and_idle_stops_it_alone(folder):
    process = subprocess.Popen(
        [sys.executable, "-m", "transcribe.cli", "review", str(folder), "--no-browser"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started in the background (`pytest &`) ignores Ctrl-C, and
        # a child that inherits that never sees it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    line = process.stdout.readline()
    assert re.fullmatch(r"Review at http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]{43}\n", line), line
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0 and "every change is saved" in err and "Traceback" not in err
    review = Review(folder, "--idle", "0.02")  # 1.2 s
    assert review.process.wait(timeout=30) == 0
    assert "without a request" in review.process.stderr.read()
    review.stop()


def test_a_killed_server_loses_no_acknowledged_edit(folder):
    review = Review(folder)
    _, _, turns = review.request("GET", "/api/turns")
    revision = turns["revision"]
    acknowledged: list[tuple[int, str]] = []

    def burst():
        nonlocal revision
        for number in range(1000):
            turn = turns["turns"][number % len(turns["turns"])]
            text = f"{turn['text']} ({number})"
            try:
                status, _, body = review.request(
                    "PATCH", f"/api/turns/{turn['id']}", {"text": text, "revision": revision}
                )
            except (ConnectionError, http.client.HTTPException, OSError):
                return
            if status != 200:
                return
            revision = body["revision"]
            acknowledged.append((turn["id"], text))
            turn["text"] = text

    writer = threading.Thread(target=burst)
    writer.start()
    while len(acknowledged) < 15:
        time.sleep(0.01)
    review.process.send_signal(signal.SIGKILL)
    writer.join(timeout=30)
    review.stop()
    session = Session.load(folder)
    last = dict(acknowledged)  # each turn's last acknowledged text
    texts = {turn.id: turn.text for turn in session.review.turns}
    for turn_id, text in last.items():  # there, or with the one edit that was saved but not yet answered
        assert texts[turn_id] == text or texts[turn_id].startswith(text + " (")
    assert session.revision in (revision, revision + 1)
