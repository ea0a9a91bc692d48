"""The progress line tells the truth: it ends at 100 %, weighs stages by their cost, fits its labels."""

from __future__ import annotations

import io
import re

import pytest

from transcribe import progress


@pytest.fixture
def stderr():
    return io.StringIO()  # not a terminal: the line is shown only when forced


def percentages(text: str) -> list[int]:
    return [int(p) for p in re.findall(r"(\d+)%\|", text)]


def test_a_finished_run_ends_at_100_percent_with_every_label_fitting(stderr):
    bars = progress.StageBars(quiet=False, force=True, stream=stderr)
    bars.expect(["decode", "diarize", "transcribe"], "cpu")
    bars("decode", 1, 1)
    bars("diarize:segmentation", 1, 32)  # pyannote reports its first batch, then only the step's end
    bars("diarize:segmentation", 1, 1)
    bars("diarize:embeddings", 3, 3)
    bars("transcribe", 600.0, 600.0)
    bars.close()
    text = stderr.getvalue()
    shown = percentages(text)
    assert shown == sorted(shown) and shown[-1] == 100  # never goes back, ends at 100 %
    assert "Telling voices apart" in text and "Done" in text
    assert all(len(name) < progress.LABEL_WIDTH for name in progress.STAGE_NAMES.values())


def test_stages_are_weighed_by_their_measured_cost_and_reused_ones_are_left_out(stderr):
    bars = progress.StageBars(quiet=False, force=True, stream=stderr)
    bars.expect(["decode", "transcribe"], "cpu")  # diarisation reused from an earlier run
    bars("decode", 1, 1)
    bars("transcribe", 300.0, 600.0)
    weights = progress.WEIGHTS["cpu"]
    expected = (weights["decode"] + weights["transcribe"] / 2) / (weights["decode"] + weights["transcribe"])
    assert percentages(stderr.getvalue())[-1] == int(100 * expected)  # 51 %, not a third of all stages
    bars.close(finished=False)
    assert percentages(stderr.getvalue())[-1] == int(100 * expected)  # a stopped run is not shown as done


def test_no_line_when_quiet_or_when_stderr_is_not_a_terminal(stderr):
    for bars in (
        progress.StageBars(quiet=True, force=True, stream=stderr),
        progress.StageBars(quiet=False, stream=stderr),
    ):
        bars("decode", 1, 1)
        bars.close()
    assert stderr.getvalue() == ""
