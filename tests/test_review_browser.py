"""The review page in a real browser (Debian's headless Chromium through Selenium), on real audio.

Selenium is told where chromedriver is, so Selenium Manager never runs and nothing is downloaded.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docx
import pytest
from reviewing import CHROMEDRIVER, CHROMIUM, ROOT, Review, chromium, real_session

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run installs them)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install '.[test]')")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture
def browser():
    profile = Path(tempfile.mkdtemp(prefix="review-chromium-"))
    driver = chromium(profile)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def turn(driver, number: int):
    return driver.find_elements(By.CSS_SELECTOR, "section.turn")[number]


def saved(driver, revision: int) -> int:
    """Wait for the page to have saved a change past ``revision``; return the new revision."""
    WebDriverWait(driver, 10).until(
        lambda d: (
            d.find_element(By.ID, "status").text.startswith("Saved (revision ")
            and int(d.find_element(By.ID, "status").text.split()[-1].rstrip(").")) > revision
        )
    )
    return int(driver.find_element(By.ID, "status").text.split()[-1].rstrip(")."))


def test_listen_correct_reload_and_export(tmp_path, browser):
    folder = tmp_path / "gruppe1"
    real_session(folder, tmp_path / "opptak")
    with Review(folder) as review:
        browser.get(review.url)
        WebDriverWait(browser, 10).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true"
        )
        assert "token" not in browser.current_url  # the cookie holds it now
        WebDriverWait(browser, 30).until(lambda d: not d.find_element(By.ID, "play").get_property("disabled"))
        assert [line.text for line in browser.find_elements(By.CSS_SELECTOR, ".num")] == [str(n) for n in range(1, 10)]

        # Listen: a click on line 3's number plays from its first word.
        turn(browser, 2).find_element(By.CSS_SELECTOR, ".num").click()
        WebDriverWait(browser, 10).until(
            lambda d: d.execute_script("return document.getElementById('player').currentTime") > 0.3
        )
        offset = browser.execute_script("return window.reviewTiming.lastPlayMs")
        assert offset is not None and browser.find_element(By.ID, "clock").text >= "00:00:10"
        ActionChains(browser).send_keys(" ").perform()  # pause
        WebDriverWait(browser, 5).until(lambda d: d.execute_script("return document.getElementById('player').paused"))

        # Correct a word: "Kari" in turn 2 becomes a placeholder.
        revision = 1
        kari = [w for w in turn(browser, 1).find_elements(By.CSS_SELECTOR, ".w") if w.text == "Kari"][0]
        kari.click()
        ActionChains(browser).send_keys(Keys.ENTER).perform()
        area = turn(browser, 1).find_element(By.TAG_NAME, "textarea")
        area.clear()
        area.send_keys("For meg betyr det å ta ansvar for mitt eget liv. [navn] sa det samme.")
        area.send_keys(Keys.CONTROL, Keys.ENTER)
        revision = saved(browser, revision)
        written = [w for w in turn(browser, 1).find_elements(By.CSS_SELECTOR, ".w.written")]
        assert [w.text for w in written] == ["[navn]"]

        # Change a label: the late observer's turn is informant 3's.
        turn(browser, 4).find_element(By.CSS_SELECTOR, "button.label").click()
        Select(turn(browser, 4).find_element(By.CSS_SELECTOR, "select.picker")).select_by_visible_text("3")
        revision = saved(browser, revision)
        assert turn(browser, 4).find_element(By.CSS_SELECTOR, ".lab").text == "3"

        # Split the last turn before "Jeg": a new turn with its own line number, no repeated label.
        jeg = [w for w in turn(browser, 5).find_elements(By.CSS_SELECTOR, ".w") if w.text == "Jeg"][0]
        jeg.click()
        ActionChains(browser).send_keys("s").perform()
        revision = saved(browser, revision)
        assert len(browser.find_elements(By.CSS_SELECTOR, "section.turn")) == 7
        assert turn(browser, 6).find_element(By.CSS_SELECTOR, ".w").text == "Jeg"

        # Mark a turn reviewed, then undo it.
        turn(browser, 0).find_element(By.CSS_SELECTOR, ".w").click()
        ActionChains(browser).send_keys("r").perform()
        revision = saved(browser, revision)
        assert "reviewed" in turn(browser, 0).get_attribute("class")
        ActionChains(browser).send_keys("z").perform()
        revision = saved(browser, revision)
        assert "reviewed" not in turn(browser, 0).get_attribute("class")

        # The speaker map, from the same page: hints shown, a few seconds of each cluster to hear.
        browser.find_element(By.ID, "speakers-toggle").click()
        WebDriverWait(browser, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#speaker-rows tr")) == 4)
        row = browser.find_element(By.CSS_SELECTOR, '#speaker-rows tr[data-cluster="SPEAKER_01"]')
        row.find_element(By.CSS_SELECTOR, "button.listen").click()
        WebDriverWait(browser, 10).until(
            lambda d: d.execute_script("return document.getElementById('player').currentTime") > 0.3
        )
        Select(row.find_element(By.CSS_SELECTOR, "select.map")).select_by_visible_text("3")
        revision = saved(browser, revision)
        assert turn(browser, 2).find_element(By.CSS_SELECTOR, "button.label").text == "3"

        # Reload: everything was kept.
        browser.refresh()
        WebDriverWait(browser, 10).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true"
        )
        texts = [
            section.find_element(By.CSS_SELECTOR, ".text").text
            for section in browser.find_elements(By.CSS_SELECTOR, "section.turn")
        ]
        assert "[navn] sa det samme." in texts[1] and "Kari" not in texts[1]
        assert texts[5] == "Hver tirsdag." and texts[6].startswith("Jeg har sagt")
        labels = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "section.turn button.label")]
        assert labels == ["M", "1", "3", "M", "3", "1", "1"]

    result = subprocess.run(
        [sys.executable, "-m", "transcribe.cli", "export", str(folder), "--formats", "txt,docx"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "gruppe1.docx" in result.stdout
    txt = (folder / "gruppe1.txt").read_text(encoding="utf-8")
    assert "[navn] sa det samme." in txt and "Kari sa" not in txt
    assert re.search(r"^3 +7 +Unnskyld at vi er sent ute\.$", txt, re.M)  # the turn's own label
    assert re.search(r"^3 +3 +Vi møtes", txt, re.M)  # the map's new label for SPEAKER_01
    assert re.search(r"^1 +8 +Hver tirsdag\.$", txt, re.M) and re.search(r"^ +9 +Jeg har sagt", txt, re.M)  # the split
    rows = [[cell.text for cell in row.cells] for row in docx.Document(str(folder / "gruppe1.docx")).tables[0].rows]
    assert ["1", "2", "For meg betyr det å ta ansvar for mitt eget liv. [navn] sa det samme."] in rows
    assert ["3", "7", "Unnskyld at vi er sent ute."] in rows
    assert ["1", "8", "Hver tirsdag."] in rows and rows[rows.index(["1", "8", "Hver tirsdag."]) + 1][:2] == ["", "9"]
