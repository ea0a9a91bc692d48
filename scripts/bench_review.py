#!/usr/bin/env python3
"""How fast the review page is on a long session, in headless Chromium (Debian's, via Selenium).

Builds a synthetic session of ``--hours`` (default 2) with about ``--words`` words (default
20 000): turns of seven speakers made of the test session's sentences, with word times as
Whisper gives them (to the hundredth, short pauses between turns) and word probabilities drawn
so about 6 % fall below the doubt threshold.
Its recording is real audio: the committed voices fixture looped with ffmpeg to the full length
(AAC, as an iPhone writes it), recorded with its sha256, so the server checks and decodes it as
it would a real session's. Then it starts ``transcribe review`` and measures:

* start: from the command to its printed address; decode: until the audio is in memory;
* open: the page's own ``performance.now()`` when the transcript is on screen (from the start of
  navigation, the token redirect included) and its render time;
* play: from a click on a word to the audio element's ``playing`` event (page timing), for
  words spread over the session;
* save: one text edit, from the PATCH to its answer (the whole session.json read, checked,
  rewritten and fsynced);
* memory: the server's resident set once the audio is decoded.

    python scripts/bench_review.py                       # 2 hours, 20 000 words
    python scripts/bench_review.py --hours 0.1 --words 1000 --screenshot docs/review.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from reviewing import chromium, cut  # noqa: E402
from sessions import SCRIPT, make_session  # noqa: E402

from transcribe.audio import sha256_and_size  # noqa: E402
from transcribe.records import Source, Turn, Utterance, Word  # noqa: E402

CLUSTERS = [f"SPEAKER_0{n}" for n in range(7)]
SENTENCES = [sentence.split() for *_, text in SCRIPT for sentence in re.findall(r"[^.?!:]+[.?!:]", text)]
TURN_WORDS = 10  # mean words per turn
PAUSE = 0.85  # mean seconds between turns


def synthetic_session(hours: float, count: int, recording: Path, seed: int = 1):
    """A finished session of ``hours`` with about ``count`` words, its source the real ``recording``."""
    rng = random.Random(seed)
    duration = hours * 3600
    step = (duration - PAUSE * count / TURN_WORDS) / count  # seconds per word, leaving room for the pauses
    utterances, position, speaker = [], 0.5, 0
    while position < duration - 10:
        speaker = 0 if speaker != 0 and rng.random() < 0.4 else rng.randrange(1, len(CLUSTERS))
        words, tokens = [], []
        for _ in range(max(2, round(rng.expovariate(1 / TURN_WORDS)))):
            if not tokens:
                tokens = list(rng.choice(SENTENCES))
            length = step * rng.uniform(0.6, 0.9)
            probability = round(min(1.0, rng.betavariate(3, 0.6)), 4)  # mean 0.83, 6 % below 0.5
            words.append(Word(round(position, 2), round(position + length, 2), tokens.pop(0), probability))
            position += step
            if position > duration - 5:
                break
        utterances.append(Utterance(CLUSTERS[speaker], words[0].start, words[-1].end, tuple(words)))
        position += rng.uniform(0.2, 2 * PAUSE - 0.2)
    turns = tuple(Turn(u.start, u.end, u.speaker) for u in utterances)
    sha256, size = sha256_and_size(recording)
    source = Source(
        path=str(recording.resolve()),
        file=recording.name,
        sha256=sha256,
        size=size,
        offset=0.0,
        duration=probe(recording),
        codec="aac",
        sample_rate=48000,
        channels=1,
    )
    base = make_session(name="lang", informants=tuple(range(1, 7)))
    mapping = {"SPEAKER_00": "M", **{cluster: n for n, cluster in enumerate(CLUSTERS[1:], start=1)}}
    return replace(
        base,
        sources=[source],
        diarization=replace(
            base.diarization, turns=turns, exclusive=turns, alike=(("SPEAKER_03", "SPEAKER_05", 0.81),)
        ),
        transcription=replace(base.transcription, words=tuple(w for u in utterances for w in u.words)),
        utterances=utterances,
        speaker_map=mapping,
    )


def probe(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def api(port: int, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--words", type=int, default=20000)
    parser.add_argument("--clicks", type=int, default=12, help="words clicked to measure playback start")
    parser.add_argument("--screenshot", type=Path, help="save a screenshot of the page (PNG, reduced to 256 colours)")
    parser.add_argument("--keep", type=Path, help="build the session here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-review-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    started = time.monotonic()
    recording = work / "opptak.m4a"
    if not recording.exists() or abs(probe(recording) - args.hours * 3600) > 1:
        cut(recording, 0, args.hours * 3600, loop=True)
    session = synthetic_session(args.hours, args.words, recording)
    folder = work / "lang"
    shutil.rmtree(folder, ignore_errors=True)
    session.save(folder)
    words = len(session.transcription.words)
    print(
        f"Session: {args.hours:g} h, {words} words, {len(session.utterances)} turns, session.json "
        f"{(folder / 'session.json').stat().st_size / 1e6:.1f} MB (built in {time.monotonic() - started:.0f} s)",
        file=sys.stderr,
    )

    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "transcribe.cli", "review", str(folder), "--json", "--no-browser"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    info = json.loads(process.stdout.readline())
    rows.append(("server start (command → address printed)", f"{time.monotonic() - began:.2f} s"))
    profile = Path(tempfile.mkdtemp(prefix="bench-review-chromium-"))
    driver = chromium(profile, (1100, 760))
    try:
        opened = time.monotonic()
        driver.get(info["url"])
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true"
        )
        wall = time.monotonic() - opened
        timing = driver.execute_script("return window.reviewTiming")
        rows.append(("page open, transcript on screen (page timing)", f"{timing['readyMs'] / 1000:.2f} s"))
        rows.append(("  of which rendering the turns", f"{timing['renderMs'] / 1000:.2f} s"))
        rows.append(("  wall time of driver.get → ready", f"{wall:.2f} s"))
        while api(info["port"], info["token"], "GET", "/api/status")["audio"]["state"] == "loading":
            time.sleep(0.2)
        rows.append(("audio decoded into memory (from start)", f"{time.monotonic() - began:.1f} s"))
        rows.append(("server memory (RSS) with the audio", f"{rss_mb(process.pid):.0f} MB"))
        WebDriverWait(driver, 10).until(lambda d: not d.find_element(By.ID, "play").get_property("disabled"))

        sections = driver.find_elements(By.CSS_SELECTOR, "section.turn")
        plays = []
        for index in range(args.clicks):
            section = sections[(index * 7919) % len(sections)]
            driver.execute_script(
                "document.getElementById('player').pause(); arguments[0].scrollIntoView({block: 'center'})", section
            )
            time.sleep(0.3)
            section.find_elements(By.CSS_SELECTOR, ".w")[0].click()
            WebDriverWait(driver, 10).until(
                lambda d, done=index: d.execute_script("return window.reviewTiming.plays.length") > done
            )
            plays.append(driver.execute_script("return window.reviewTiming.lastPlayMs"))
        rows.append((f"play after a click (median of {len(plays)})", f"{statistics.median(plays):.0f} ms"))
        rows.append(("play after a click (slowest)", f"{max(plays):.0f} ms"))
        driver.execute_script("document.getElementById('player').pause()")

        turns = api(info["port"], info["token"], "GET", "/api/turns")
        turn = turns["turns"][len(turns["turns"]) // 2]
        saved = time.monotonic()
        answer = api(
            info["port"],
            info["token"],
            "PATCH",
            f"/api/turns/{turn['id']}",
            {"text": turn["text"] + " sa hun", "revision": turns["revision"]},
        )
        rows.append(("save one text edit (PATCH → answer)", f"{(time.monotonic() - saved) * 1000:.0f} ms"))
        if args.screenshot:
            screenshot(driver, info, answer["revision"], turns["turns"], len(turns["turns"]) // 2, args.screenshot)
    finally:
        driver.quit()
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    width = max(len(name) for name, _ in rows)
    print(
        f"Review page, {args.hours:g} h session, {words} words; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Chromium headless"
    )
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>8}")


def screenshot(driver, info: dict, revision: int, turns: list[dict], edited: int, path: Path) -> None:
    """The page around the edited turn, one turn before it marked reviewed, a word playing."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    api(
        info["port"],
        info["token"],
        "PATCH",
        f"/api/turns/{turns[edited - 1]['id']}",
        {"reviewed": True, "revision": revision},
    )
    driver.refresh()
    WebDriverWait(driver, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    WebDriverWait(driver, 30).until(lambda d: not d.find_element(By.ID, "play").get_property("disabled"))
    section = driver.find_element(By.CSS_SELECTOR, f'section[data-id="{turns[edited + 1]["id"]}"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", section)
    section.find_elements(By.CSS_SELECTOR, ".w")[0].click()
    time.sleep(0.8)
    driver.execute_script("document.getElementById('player').pause()")
    driver.save_screenshot(str(path))
    shrink(path)


def shrink(path: Path) -> None:
    """A screenshot for the docs: 256 colours keep text sharp at a fraction of the size."""
    from PIL import Image

    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=256).save(path, optimize=True)


if __name__ == "__main__":
    main()
