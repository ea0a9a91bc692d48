"""The ``transcribe`` command: a thin layer over the library.

Each command parses options, calls one library function and prints the result. Errors the tool
anticipates are printed as one plain sentence with a non-zero exit code (see ``errors.py``);
``--json`` prints machine-readable results on stdout and nothing else there.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click

from . import __version__
from .errors import TranscribeError

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

STAGE_NAMES = {
    "decode": "Decoding audio",
    "transcribe": "Transcribing",
    "diarize:segmentation": "Finding speech",
    "diarize:speaker_counting": "Counting speakers",
    "diarize:embeddings": "Telling voices apart",
    "diarize:discrete_diarization": "Placing turns",
}


class StageBars:
    """One tqdm bar per pipeline stage, on stderr; silent when asked or when not a terminal."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.stage = None
        self.bar = None

    def __call__(self, stage: str, done: float, total: float) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            unit = "s" if stage == "transcribe" else ("file" if stage == "decode" else "step")
            name = STAGE_NAMES.get(stage, stage.split(":", 1)[-1].replace("_", " ").capitalize())
            self.bar = tqdm(total=round(total, 1) or None, desc=name, unit=unit, file=sys.stderr, leave=True,
                            bar_format="{desc:<22}{percentage:3.0f}%|{bar:30}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}]")
        self.bar.n = round(done, 1)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def emit_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1))


class Cli(click.Group):
    """Turns the tool's errors into one plain sentence and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TranscribeError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted. Finished stages are saved; run the same command again to resume.", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: say so plainly; the traceback only with --verbose
            if ctx.params.get("verbose"):
                traceback.print_exc()
            click.echo(f"Internal error ({type(exc).__name__}: {exc}). Nothing was purged. "
                       "Run again with 'transcribe --verbose …' and report the output.", err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="transcribe")
@click.option("--verbose", is_flag=True, help="Show details (and tracebacks of internal errors).")
def cli(verbose: bool) -> None:
    """Offline focus-group transcription: diarise, transcribe in Norwegian, anonymise speakers,
    export numbered-line transcripts, and purge the audio verifiably."""


@cli.command()
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--informants", "-i", required=True, help="Informant numbers of this group, e.g. 1-6 or 7-12.")
@click.option("--out", "-o", "out", type=click.Path(path_type=Path), help="Session folder (default: named after the first recording).")
@click.option("--name", help="Session name, used for export file names (default: the folder's name).")
@click.option("--language", "-l", default="no", show_default=True, help="no (Bokmål; nb also works) or nn (Nynorsk). Never auto-detected.")
@click.option("--start-line", type=int, default=1, show_default=True, help="Number of the first transcript line.")
@click.option("--width", type=int, default=80, show_default=True, help="Wrap text lines at this many characters.")
@click.option("--formats", default="txt,json", show_default=True, help="Export formats, comma-separated.")
@click.option("--asr-model", help="A CTranslate2 Whisper folder (default: the embedded Whisper base).")
@click.option("--diarization-model", help="A local pyannote pipeline folder (default: the embedded one).")
@click.option("--speakers", "num_speakers", type=int, help="Exact number of speakers, if known (moderator included).")
@click.option("--min-speakers", type=int, help="At least this many speakers.")
@click.option("--max-speakers", type=int, help="At most this many speakers (default: informants + moderator + 2).")
@click.option("--moderator-label", default="M", show_default=True, help="Label for the moderator in exports.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout; no progress bars.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def run(recordings, informants, out, name, language, start_line, width, formats, asr_model, diarization_model,
        num_speakers, min_speakers, max_speakers, moderator_label, as_json, quiet):
    """Transcribe RECORDINGS (one session, in recording order) into a session folder.

    \b
    Example:
      transcribe run gruppe1.m4a --informants 1-6 --out gruppe1/
      transcribe run del1.m4a del2.m4a --informants 7-12 --start-line 413 --out gruppe2/

    Rerunning on the same folder reuses finished stages.
    """
    from .export import parse_formats
    from .pipeline import RunOptions, run as run_pipeline
    from .speakers import parse_informants

    options = RunOptions(
        informants=parse_informants(informants), language=language, name=name, start_line=start_line, width=width,
        formats=parse_formats(formats), asr_model=asr_model, diarization_model=diarization_model,
        num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers, moderator_label=moderator_label,
    )
    folder = out or Path(Path(recordings[0]).stem)
    bars = StageBars(quiet or as_json)
    try:
        result = run_pipeline(list(recordings), folder, options, progress=bars)
    finally:
        bars.close()
    session = result.session
    if as_json:
        emit_json({
            "session": session.name, "folder": str(result.folder), "duration": round(session.duration, 3),
            "speaker_map": session.speaker_map, "computed": result.computed,
            "seconds": {k: round(v, 2) for k, v in result.seconds.items()}, "warnings": result.warnings,
            "exports": [{"format": r.format, "file": r.file, "sha256": r.sha256} for r in result.exports],
        })
        return
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(f"Session '{session.name}' in {result.folder} ({session.duration / 60:.1f} min, {len(session.speaker_map)} speakers):")
    for record in result.exports:
        click.echo(f"  {result.folder / record.file}")
    mapping = ", ".join(f"{cluster} → {label}" for cluster, label in session.speaker_map.items())
    click.echo(f"Speakers: {mapping}")
    click.echo(f"Check them with: transcribe speakers {result.folder}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def speakers(folder, as_json):
    """Show each speaker cluster of a session with evidence: talk time, turns, first lines."""
    from .session import Session
    from .speakers import stats

    session = Session.load(folder)
    if session.utterances is None:
        raise TranscribeError(f"Session in {folder} has no transcript yet. Run 'transcribe run' first.")
    rows = []
    for row in stats(session.utterances):
        first = [u for u in session.utterances if u.speaker == row.speaker][:3]
        rows.append({
            "speaker": row.speaker, "label": (session.speaker_map or {}).get(row.speaker),
            "talk_time": round(row.talk_time, 1), "turns": row.turns, "words": row.words,
            "questions": row.questions, "first_start": round(row.first_start, 2),
            "first_lines": [{"start": round(u.start, 2), "text": u.text} for u in first],
        })
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['speaker']} → {row['label']}: {row['talk_time']:.0f} s, {row['turns']} turns, "
                   f"{row['words']} words, {row['questions']} questions, first at {_clock(row['first_start'])}")
        for line in row["first_lines"]:
            click.echo(f"    [{_clock(line['start'])}] {line['text'][:100]}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--formats", default="txt,json", show_default=True, help="Export formats, comma-separated.")
@click.option("--start-line", type=int, help="Number of the first line (default: as before).")
@click.option("--width", type=int, help="Wrap text lines at this many characters (default: as before).")
@click.option("--english", is_flag=True, help="English column headers.")
@click.option("--json", "as_json", is_flag=True, help="Print the written files as JSON.")
def export(folder, formats, start_line, width, english, as_json):
    """Write transcripts again from session.json alone (no audio needed)."""
    from .export import parse_formats, write_exports
    from .session import Session, locked

    with locked(folder):
        session = Session.load(folder)
        if start_line is not None:
            session.start_line = start_line
        if width is not None:
            session.width = width
        records = write_exports(session, folder, parse_formats(formats), english=english)
        session.save(folder)
    if as_json:
        emit_json([{"format": r.format, "file": r.file, "sha256": r.sha256} for r in records])
        return
    for record in records:
        click.echo(f"{Path(folder) / record.file}  sha256 {record.sha256[:16]}…")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
