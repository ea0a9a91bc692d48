"""What the review changes downstream: revisions, speakers/report/matrix, purge's refusal and receipt."""

import json

from click.testing import CliRunner
from reviewing import Review, real_session
from sessions import save_session

from transcribe.cli import cli
from transcribe.review import edits
from transcribe.session import Session


def reviewed(folder, *changes):
    """Apply pure edits to the saved session, as the server would, one save each."""
    for change in changes:
        session = Session.load(folder)
        session.review = change(edits.review_of(session), session)
        session.save(folder)
    return Session.load(folder)


def test_every_save_bumps_the_revision(tmp_path):
    save_session(tmp_path)
    assert Session.load(tmp_path).revision == 1
    runner = CliRunner()
    assert runner.invoke(cli, ["export", str(tmp_path)]).exit_code == 0
    session = Session.load(tmp_path)
    assert session.revision == 2
    assert {record.revision for record in session.exports} == {1}  # rendered from revision 1


def test_speakers_report_and_matrix_see_the_corrected_labels(tmp_path):
    save_session(tmp_path)
    reviewed(tmp_path, lambda review, s: edits.update(review, 5, s.revision, label=3, mapped="O1"))
    runner = CliRunner()
    result = runner.invoke(cli, ["speakers", str(tmp_path), "--json"])
    rows = {row["speaker"]: row for row in json.loads(result.output)}
    assert rows["SPEAKER_03"]["relabelled_turns"] == 1
    result = runner.invoke(cli, ["report", str(tmp_path), "--json"])
    participation = {row["label"]: row for row in json.loads(result.output)["participation"]}
    assert participation[3]["turns"] == 1 and participation["O1"]["turns"] == 0
    codes = tmp_path / "codes.toml"
    codes.write_text('"Sent" = [7]\n', encoding="utf-8")
    result = runner.invoke(cli, ["matrix", str(tmp_path), "--codes", str(codes), "--json"])
    assert result.exit_code == 0, result.output
    matrix = json.loads(result.output)
    informants = {row["informant"]: row["codes"] for row in matrix["informants"]}
    assert informants[3] == {"Sent": [7]} and not matrix["warnings"]  # without the review: an observer's line


def test_purge_refuses_exports_older_than_the_review_and_records_how_far_it_went(tmp_path):
    folder = tmp_path / "gruppe1"
    real_session(folder, tmp_path / "opptak")
    runner = CliRunner()
    assert runner.invoke(cli, ["export", str(folder)]).exit_code == 0
    reviewed(
        folder, lambda review, s: edits.update(review, 2, s.revision, text="For meg betyr det alt.", reviewed=True)
    )
    result = runner.invoke(cli, ["purge", str(folder), "--yes"])
    assert result.exit_code == 6
    assert "corrected in 'transcribe review' after gruppe1.txt, gruppe1.json were written" in result.output
    assert (tmp_path / "opptak" / "del1.m4a").exists()

    assert runner.invoke(cli, ["export", str(folder)]).exit_code == 0
    result = runner.invoke(cli, ["purge", str(folder)], input="n\n")
    assert "5 of 6 turns are not marked reviewed" in result.output and "transcribe review" in result.output
    assert result.exit_code == 6 and (tmp_path / "opptak" / "del1.m4a").exists()

    result = runner.invoke(cli, ["purge", str(folder), "--yes"])
    assert result.exit_code == 0, result.output
    receipt = json.loads((folder / "purge-receipt.json").read_text())
    assert receipt["review"] == {"turns": 6, "reviewed": 1, "edited": 1, "changes": 1}
    assert "Review:    1 of 6 turns marked reviewed by a person" in (folder / "purge-receipt.txt").read_text()
    assert runner.invoke(cli, ["verify-purge", str(folder)]).exit_code == 0


def test_the_speaker_map_changes_from_the_page_and_undo_gives_it_back(tmp_path):
    folder = tmp_path / "gruppe1"
    real_session(folder, tmp_path / "opptak")
    with Review(folder) as review:
        _, _, speakers = review.request("GET", "/api/speakers")
        rows = {row["cluster"]: row for row in speakers["speakers"]}
        assert rows["SPEAKER_01"]["sample"] == {"start": 10.2, "end": 16.2}  # a few seconds of its longest turn
        status, _, body = review.request(
            "PATCH", "/api/speakers/SPEAKER_03", {"label": 3, "revision": speakers["revision"]}
        )
        assert status == 200
        assert [turn["label"] for turn in body["turns"]] == [3]
        assert Session.load(folder).speaker_map["SPEAKER_03"] == 3
        status, _, body = review.request("POST", "/api/undo", {"revision": body["revision"]})
        assert status == 200 and Session.load(folder).speaker_map["SPEAKER_03"] == "O1"
        status, _, body = review.request(
            "PATCH", "/api/speakers/SPEAKER_03", {"label": "Z", "revision": body["revision"]}
        )
        assert status == 400 and "not a label" in body["error"]
