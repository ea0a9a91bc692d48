"""Helpers for the review tests: the fixed session on real audio, and a real review server.

The session is tests/sessions.py's hand-made one, but its two sources are real recordings cut
with ffmpeg from the committed voices fixture (30 s and 10 s), recorded with the sha256 and
offsets the one decoder finds, so the server checks and decodes them as it would a real run's.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from sessions import make_session

from transcribe import audio
from transcribe.session import Session

ROOT = Path(__file__).resolve().parent.parent
VOICES = Path(__file__).parent / "fixtures" / "voices_group.m4a"


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")  # Debian's, never downloaded
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
)


def chromium(profile: Path, size: tuple[int, int] = (1200, 900)):
    """Headless Chromium with a fresh profile; none of its background fetches may reach out."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_window_size(*size)
    return driver


def cut(path: Path, start: float, seconds: float, loop: bool = False) -> Path:
    """``seconds`` of the committed real voices from ``start`` as AAC .m4a; ``loop``: round again as needed."""
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            *(["-stream_loop", "-1"] if loop else ["-ss", str(start)]),
            "-t",
            str(seconds),
            "-i",
            str(VOICES),
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            "-ac",
            "1",
            "-ar",
            "48000",
            str(path),
        ],
        check=True,
    )
    return path


def real_session(folder: Path, recordings: Path, **kwargs) -> Session:
    """The fixed session in ``folder``, its sources real files in ``recordings``."""
    recordings.mkdir(parents=True, exist_ok=True)
    parts = [cut(recordings / "del1.m4a", 0, 30), cut(recordings / "del2.m4a", 40, 10)]
    sources = audio.load(parts).sources
    session = replace(make_session(**kwargs), sources=list(sources))
    session.save(folder)
    return session


class Review:
    """``transcribe review FOLDER --json --no-browser`` in a real process, on a real port."""

    def __init__(self, folder: Path, *args: str, env: dict | None = None):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "transcribe.cli", "review", str(folder), "--json", "--no-browser", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"review did not start: {self.process.stderr.read()}")
        started = json.loads(line)
        self.url, self.port, self.token = started["url"], started["port"], started["token"]

    def request(self, method: str, path: str, body=None, *, token: bool = True, headers: dict | None = None):
        """(status, headers, decoded JSON or raw bytes) of one request with the bearer token."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {
            "Host": f"127.0.0.1:{self.port}",
            **({"Authorization": f"Bearer {self.token}"} if token else {}),
            **(headers or {}),
        }
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        content = json.loads(raw) if response.getheader("Content-Type", "").startswith("application/json") else raw
        return response.status, response.headers, content

    def wait_audio(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, _, status = self.request("GET", "/api/status")
            if status["audio"]["state"] != "loading":
                return status["audio"]
            time.sleep(0.2)
        raise AssertionError("the audio was still loading")

    def stop(self, signal_number: int | None = None) -> int:
        if self.process.poll() is None:
            if signal_number is None:
                self.process.terminate()
            else:
                self.process.send_signal(signal_number)
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process.stdout.close()
            self.process.stderr.close()

    def __enter__(self) -> Review:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
