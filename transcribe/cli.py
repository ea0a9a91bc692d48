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
from .device import COMPUTE_TYPES, DEVICES
from .errors import InputError, TranscribeError

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

STAGE_NAMES = {
    "decode": "Decoding audio",
    "transcribe": "Transcribing",
    "diarize:segmentation": "Finding speech",
    "diarize:speaker_counting": "Counting speakers",
    "diarize:embeddings": "Telling voices apart",
    "diarize:discrete_diarization": "Placing turns",
    "diarize:resegmentation": "Checking each turn's voice",
}


BAR_FORMAT = "{desc}{percentage:3.0f}%|{bar:30}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}]"


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
            known = bool(total)
            self.bar = tqdm(total=round(total, 1) if known else None, desc=f"{name:<22}", unit=unit, file=sys.stderr,
                            leave=True, bar_format=BAR_FORMAT if known else None)
        # pyannote counts whole batches, so "done" can overshoot the total.
        self.bar.n = round(min(done, self.bar.total) if self.bar.total else done, 1)
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
@click.option("--start-line", type=int, help="Number of the first transcript line (default 1).")
@click.option("--continue-from", type=click.Path(path_type=Path),
              help="Another session folder: number on after its last line (group 2 after group 1).")
@click.option("--width", type=int, default=80, show_default=True, help="Wrap text lines at this many characters.")
@click.option("--formats", default="txt,json", show_default=True, help="Export formats, comma-separated.")
@click.option("--asr-model", help="A CTranslate2 Whisper folder, or the name of one in the models directory "
                                   "(default: the embedded Whisper base). See 'transcribe models list'.")
@click.option("--diarization-model", help="A local pyannote pipeline folder, or the name of one in the models "
                                           "directory (default: the embedded one).")
@click.option("--models-dir", type=click.Path(path_type=Path),
              help="Where model names are looked up (default: $TRANSCRIBE_MODELS, else ./models).")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the speech models run: auto (an NVIDIA GPU when CUDA works, else the CPU), cpu or cuda.")
@click.option("--compute-type", type=click.Choice(COMPUTE_TYPES), default="auto", show_default=True, metavar="TYPE",
              help="Whisper's number format: auto (float16 on a GPU, int8 on CPU), int8_float16, float32, …")
@click.option("--batch-size", default="auto", show_default=True, metavar="N",
              help="Whisper windows decoded at once: auto (16 on a GPU, 1 on CPU); lower it if the GPU runs out of memory.")
@click.option("--speakers", "num_speakers", type=int, help="Exact number of speakers, if known (moderator included).")
@click.option("--min-speakers", type=int, help="At least this many speakers.")
@click.option("--max-speakers", type=int, help="At most this many speakers (default: informants + moderator + 2).")
@click.option("--moderator-label", default="M", show_default=True, help="Label for the moderator in exports.")
@click.option("--map", "map_file", type=click.Path(path_type=Path), help="Speaker map (TOML, SPEAKER_03 = 4) instead of the proposed one; see 'transcribe speakers --template'.")
@click.option("--merge", is_flag=True, help="With --map: allow two clusters on one label (one person split in two).")
@click.option("--names", "names_file", type=click.Path(path_type=Path), help='Names to replace in every export (TOML: Kari = 3, "Ole Hansen" = "[navn]").')
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout; no progress bars.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--purge", "purge_audio", is_flag=True,
              help="Then destroy the recordings, once the exports are written and verified (see 'transcribe purge').")
@click.option("--yes", "-y", is_flag=True, help="With --purge: do not ask for confirmation.")
def run(recordings, informants, out, name, language, start_line, continue_from, width, formats, asr_model, diarization_model,
        models_dir, device, compute_type, batch_size, num_speakers, min_speakers, max_speakers, moderator_label, map_file, merge, names_file, as_json, quiet,
        purge_audio, yes):
    """Transcribe RECORDINGS (one session, in recording order) into a session folder.

    \b
    Example:
      transcribe run gruppe1.m4a --informants 1-6 --out gruppe1/
      transcribe run del1.m4a del2.m4a --informants 7-12 --continue-from gruppe1/ --out gruppe2/

    Rerunning on the same folder reuses finished stages.
    """
    from .device import parse_batch_size
    from .export import last_line, parse_formats
    from .models import resolve
    from .pipeline import RunOptions, run as run_pipeline
    from .speakers import parse_informants

    if start_line is not None and continue_from is not None:
        raise InputError("Give either --start-line or --continue-from, not both.")
    if continue_from is not None:
        start_line = last_line(continue_from) + 1
    options = RunOptions(
        informants=parse_informants(informants), language=language, name=name, start_line=1 if start_line is None else start_line, width=width,
        formats=parse_formats(formats),
        asr_model=asr_model and str(resolve(asr_model, "asr", models_dir)),
        diarization_model=diarization_model and str(resolve(diarization_model, "diarization", models_dir)),
        num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers, moderator_label=moderator_label,
        map_file=map_file, merge=merge, names_file=names_file,
        device=device, compute_type=compute_type, batch_size=parse_batch_size(batch_size),
    )
    folder = out or Path(Path(recordings[0]).stem)
    bars = StageBars(quiet or as_json)
    try:
        result = run_pipeline(list(recordings), folder, options, progress=bars)
    finally:
        bars.close()
    session = result.session
    if as_json:
        purged = _purge(result.folder, yes=yes) if purge_audio else None
        emit_json({
            "session": session.name, "folder": str(result.folder), "duration": round(session.duration, 3),
            "speaker_map": session.speaker_map, "computed": result.computed, "device": result.device,
            "speakers_alike": [list(pair) for pair in session.diarization.alike] if session.diarization else [],
            "seconds": {k: round(v, 2) for k, v in result.seconds.items()}, "warnings": result.warnings,
            "exports": [{"format": r.format, "file": r.file, "sha256": r.sha256} for r in result.exports],
            **({"purge": purged.to_dict()} if purged else {}),
        })
        return
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(f"Session '{session.name}' in {result.folder} ({session.duration / 60:.1f} min, {len(session.speaker_map)} speakers):")
    for record in result.exports:
        click.echo(f"  {result.folder / record.file}")
    mapping = ", ".join(f"{cluster} → {label}" for cluster, label in session.speaker_map.items())
    click.echo(f"Speakers: {mapping}")
    for a, b, similar in session.diarization.alike if session.diarization else ():
        click.echo(f"  {a} and {b} sound alike (voice similarity {similar:.2f}): perhaps one person in two clusters")
    click.echo(f"Check them with: transcribe speakers {result.folder}")
    if purge_audio:
        _show_purge(_purge(result.folder, yes=yes))


_SLURM_OPTIONS = {"script": "--out", "partition": "--partition", "account": "--account", "gpus": "--gpus", "cpus": "--cpus",
                  "mem": "--mem", "time_limit": "--time"}


@cli.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--only", help="Run only these sessions of the manifest (names, comma-separated).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines on stdout (one object per event) for unattended runs.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--slurm", is_flag=True, help="Write an sbatch array script that runs the manifest on a Slurm cluster; run nothing here.")
@click.option("--out", "-o", "script", type=click.Path(path_type=Path), help="With --slurm: write the script here (default: print it).")
@click.option("--partition", help="With --slurm: the partition, e.g. accel.")
@click.option("--account", help="With --slurm: the project account, e.g. p1234 (TSD) or nn1234k (Sigma2).")
@click.option("--gpus", type=int, default=1, show_default=True, help="With --slurm: GPUs per task (0: CPU only).")
@click.option("--cpus", type=int, default=8, show_default=True, help="With --slurm: CPU cores per task.")
@click.option("--mem", default="32G", show_default=True, help="With --slurm: memory per task.")
@click.option("--time", "time_limit", default="24:00:00", show_default=True, help="With --slurm: time limit per task.")
def batch(manifest, only, as_json, quiet, slurm, script, partition, account, gpus, cpus, mem, time_limit):
    """Run every session listed in MANIFEST (jobs.toml), unattended and resumable.

    \b
    Example:
      transcribe batch jobs.toml
      transcribe batch jobs.toml --json > batch.log
      transcribe batch jobs.toml --slurm --account p1234 --partition accel --out jobs.sbatch

    The manifest has a [defaults] table (models, device, language, …) and one [[session]] per
    session (name, audio, informants, start_line or continue_from, map, names, purge, out); see
    the README. It is checked whole before anything runs. A failed session does not stop the
    others; run the same command again to retry it, finished stages are kept. Exit status: 0 when
    every session is done, 9 when some did not finish, 3 when the manifest cannot be used.
    """
    from .batch import SlurmResources, load_manifest, run_batch, slurm_script
    from .errors import BatchFailed

    context = click.get_current_context()
    given = [name for name in _SLURM_OPTIONS if context.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
    if given and not slurm:
        raise InputError(f"{_SLURM_OPTIONS[given[0]]} only applies with --slurm.")
    if slurm and only:
        raise InputError("--only cannot be used with --slurm: the script runs every session, one array task each.")
    jobs = load_manifest(manifest)
    if slurm:
        text = slurm_script(jobs, SlurmResources(partition=partition, account=account, gpus=gpus, cpus=cpus, mem=mem, time=time_limit))
        if script is None:
            click.echo(text, nl=False)
            return
        from .files import write_atomic

        write_atomic(Path(script), text)
        click.echo(f"Wrote {script}: {len(jobs.tasks())} array task(s) for {len(jobs.jobs)} session(s). Submit it with: sbatch {script}")
        return
    names = [name.strip() for name in only.split(",") if name.strip()] if only else None
    show = _JsonLines() if as_json else _BatchProgress(quiet)
    try:
        outcomes = run_batch(jobs, only=names, report=show)
    finally:
        show.close()
    if not as_json:
        click.echo("\n".join(_batch_table(outcomes)))
    unfinished = [o for o in outcomes if o.status != "done"]
    if unfinished:
        raise BatchFailed(
            f"{len(unfinished)} of {len(outcomes)} sessions did not finish ({', '.join(o.job.name for o in unfinished)}); "
            "the others are done. Fix what the table says and run the same command again: finished sessions are kept."
        )


class _JsonLines:
    """Batch events as JSON Lines on stdout; progress at most every tenth of a stage."""

    def __init__(self):
        self.steps: dict[tuple[str, str], int] = {}

    def __call__(self, event: dict) -> None:
        if event["event"] == "progress":
            step = int(10 * event["done"] / event["total"]) if event["total"] else 0
            key = (event["session"], event["stage"])
            if self.steps.get(key) == step:
                return
            self.steps[key] = step
            event = {**event, "done": round(event["done"], 1), "total": round(event["total"], 1)}
        click.echo(json.dumps(event, ensure_ascii=False))

    def close(self) -> None:
        return None


class _BatchProgress:
    """Batch events for a person: a line per session and per model load, bars per stage, on stderr."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bars = StageBars(quiet)

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "progress":
            self.bars(event["stage"], event["done"], event["total"])
            return
        self.close()
        if kind == "start":
            parts = len(event["audio"])
            click.echo(f"[{event['index']}/{event['count']}] {event['session']}: {parts} recording{'s' * (parts != 1)} → "
                       f"{event['folder']}", err=True)
        elif kind == "model":
            click.echo(f"Loaded the {event['role']} model on {event['device']} in {event['seconds']:.0f} s.", err=True)
        elif kind == "end":
            what = event["note"] or event["error"] or f"computed {', '.join(event['computed'])}"
            click.echo(f"[{event['index']}/{event['count']}] {event['session']}: {event['status']} in {event['seconds']:.0f} s ({what})",
                       err=True)
            for warning in event["warnings"]:
                click.echo(f"Warning: {warning}", err=True)

    def close(self) -> None:
        self.bars.close()
        self.bars = StageBars(self.quiet)


def _batch_table(outcomes) -> list[str]:
    counts = {status: sum(1 for o in outcomes if o.status == status) for status in ("done", "failed", "skipped")}
    rows = [("session", "status", "audio", "time", "folder, or what went wrong")]
    for o in outcomes:
        audio = f"{o.result.session.duration / 60:.1f} min" if o.result else "-"
        rows.append((o.job.name, o.status, audio, f"{o.seconds:.0f} s", o.error or str(o.job.folder)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"{counts['done']} done, {counts['failed']} failed, {counts['skipped']} skipped:"]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4] for row in rows]
    return lines


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--template", is_flag=True, help="Print a map file to edit (TOML, current labels, evidence as comments).")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def speakers(folder, template, as_json):
    """Show each speaker cluster of a session with evidence: talk time, turns, first lines.

    \b
    To correct the labels:
      transcribe speakers gruppe1 --template > gruppe1-map.toml
      (edit it: SPEAKER_03 = 4, SPEAKER_00 = "M", SPEAKER_07 = "O1")
      transcribe export gruppe1 --map gruppe1-map.toml
    """
    from .errors import SessionError
    from .review.edits import review_of, reviewed_utterances
    from .session import Session
    from .speakers import map_template, sounds_like, stats
    from .timecode import clock

    session = Session.load(folder)
    if session.utterances is None:
        raise SessionError(f"Session in {folder} has no transcript yet. Run 'transcribe run' first.")
    if template:
        click.echo(map_template(session), nl=False)
        return
    rows = []
    alike = sounds_like(session)
    utterances = [utterance for utterance, _ in reviewed_utterances(session)]  # as corrected in 'transcribe review'
    relabelled = [turn.cluster for turn in review_of(session).turns if turn.label is not None]
    for row in stats(utterances):
        first = [u for u in utterances if u.speaker == row.speaker][:3]
        rows.append({
            "speaker": row.speaker, "label": (session.speaker_map or {}).get(row.speaker),
            "talk_time": round(row.talk_time, 1), "turns": row.turns, "words": row.words,
            "questions": row.questions, "first_start": round(row.first_start, 2),
            "first_lines": [{"start": round(u.start, 2), "text": u.text} for u in first],
            "sounds_like": [{"speaker": other, "similarity": similar} for other, similar in alike.get(row.speaker, [])],
            "relabelled_turns": relabelled.count(row.speaker),
        })
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['speaker']} → {row['label']}: {row['talk_time']:.0f} s, {row['turns']} turns, "
                   f"{row['words']} words, {row['questions']} questions, first at {clock(row['first_start'])}")
        if row["relabelled_turns"]:
            click.echo(f"    {row['relabelled_turns']} of its turns have another label, set in 'transcribe review'")
        for other in row["sounds_like"]:
            click.echo(f"    sounds like {other['speaker']} (voice similarity {other['similarity']:.2f}): "
                       "if one person, give both one label and add --merge")
        for line in row["first_lines"]:
            click.echo(f"    [{clock(line['start'])}] {line['text'][:100]}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--formats", default="txt,json", show_default=True,
              help="Comma-separated: txt, docx, csv, json, maxqda, nvivo, srt, vtt.")
@click.option("--start-line", type=int, help="Number of the first line (default: as before).")
@click.option("--continue-from", type=click.Path(path_type=Path),
              help="Another session folder: number on after its last line (group 2 after group 1).")
@click.option("--width", type=int, help="Wrap text lines at this many characters (default: as before).")
@click.option("--timestamps", is_flag=True, help="Show when each turn starts (txt and docx).")
@click.option("--moderator-label", help="Label for the moderator (default: as before).")
@click.option("--map", "map_file", type=click.Path(path_type=Path), help="Speaker map (TOML, SPEAKER_03 = 4); see 'transcribe speakers --template'.")
@click.option("--merge", is_flag=True, help="With --map: allow two clusters on one label (one person split in two).")
@click.option("--names", "names_file", type=click.Path(path_type=Path), help='Names to replace in every export (TOML: Kari = 3, "Ole Hansen" = "[navn]").')
@click.option("--english", is_flag=True, help="English column headers.")
@click.option("--json", "as_json", is_flag=True, help="Print the written files as JSON.")
def export(folder, formats, start_line, continue_from, width, timestamps, moderator_label, map_file, merge, names_file,
           english, as_json):
    """Write transcripts again from session.json alone (no audio needed).

    \b
    Example:
      transcribe export gruppe1 --formats txt,docx,maxqda --map gruppe1-map.toml --names navn.toml
      transcribe export gruppe2 --continue-from gruppe1
    """
    from .export import ExportOptions, export_session

    options = ExportOptions(
        formats=formats, start_line=start_line, continue_from=continue_from, width=width, moderator_label=moderator_label,
        map_file=map_file, merge=merge, names_file=names_file, english=english, timestamps=timestamps,
    )
    session, records = export_session(folder, options)
    if as_json:
        emit_json([{"format": r.format, "file": r.file, "sha256": r.sha256} for r in records])
        return
    for record in records:
        click.echo(f"{Path(folder) / record.file}  sha256 {record.sha256[:16]}…")
    if names_file is not None and session.pseudonymisation:
        click.echo(f"Names replaced: {session.pseudonymisation['replacements']} "
                   f"({session.pseudonymisation['names']} names in {names_file}).")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port on 127.0.0.1 (default: a free one). Through an SSH tunnel, use the same port on both ends.")
@click.option("--no-browser", is_flag=True, help="Do not open the page in the default browser.")
@click.option("--idle", type=click.FloatRange(0, min_open=True), default=60, show_default=True,
              help="Stop after this many minutes without a request.")
@click.option("--json", "as_json", is_flag=True, help='Print {"url", "port", "token"} as one JSON line instead.')
def review(folder, port, no_browser, idle, as_json):
    """Correct the transcript in a local web page, listening to the recording, before purge.

    \b
    Every change is saved in session.json at once; 'transcribe export' then writes the
    corrected transcript. The page answers on 127.0.0.1 only, to the link printed here (it
    carries a fresh token). From a remote workstation, tunnel the port:
      ssh -L 8765:127.0.0.1:8765 workstation    (then, there:)
      transcribe review gruppe1 --port 8765 --no-browser
    Stop it with Ctrl-C. See docs/review.md.
    """
    import webbrowser

    from .review.server import open_review, serve

    server, started = open_review(folder, port)
    try:  # from the moment the address is out, Ctrl-C is the way to stop
        if as_json:
            click.echo(json.dumps({"url": started.url, "port": started.port, "token": started.token}))
        else:
            click.echo(f"Review at {started.url}")
        if not no_browser:
            webbrowser.open(started.url)
        serve(server, idle * 60)
    except KeyboardInterrupt:
        click.echo("Review stopped; every change is saved in session.json.", err=True)
        return
    click.echo(f"Review stopped after {idle:g} minutes without a request; every change is saved in session.json.", err=True)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--names", "names_file", type=click.Path(path_type=Path),
              help="Your names file so far: list only what it does not replace yet.")
@click.option("--json", "as_json", is_flag=True, help="Print the candidates as JSON.")
def names(folder, names_file, as_json):
    """List capitalised words inside sentences (likely names) with their line numbers.

    Use it to complete the names file for --names; line numbers are those of the exports.
    """
    from .export import build_document
    from .names import candidates, load_names
    from .session import Session

    document = build_document(Session.load(folder), names=load_names(names_file) if names_file else None)
    found = candidates(document.lines)
    if as_json:
        emit_json([{"word": c.word, "lines": list(c.lines)} for c in found])
        return
    if not found:
        click.echo("No capitalised words inside sentences.")
    width = max((len(c.word) for c in found), default=0) + 2
    for candidate in found:
        click.echo(f"{candidate.word:<{width}}lines {', '.join(str(n) for n in candidate.lines)}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--questions", type=click.Path(path_type=Path),
              help="The interview guide, one question per line, to match against the moderator's turns "
                   "(default: each moderator question starts a segment).")
@click.option("--json", "as_json", is_flag=True, help="Print every table as JSON.")
def report(folder, questions, as_json):
    """Participation, guide questions, who spoke after whom, and figures, from session.json alone.

    Writes CSV tables and PNG/SVG figures into FOLDER/report/.
    """
    from .report import build_report, read_guide, summary, write_report
    from .session import Session

    result = build_report(Session.load(folder), read_guide(questions) if questions else None)
    files = write_report(result, folder)
    if as_json:
        emit_json({**result.to_dict(), "files": [str(path) for path in files]})
        return
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for line in [*summary(result), ""]:
        click.echo(line)
    for path in files:
        click.echo(str(path))


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--codes", "codes_file", required=True, type=click.Path(path_type=Path),
              help='Your coding as TOML, code name → line numbers or ranges: "Støtte" = [74, 75, "78-80"].')
@click.option("--json", "as_json", is_flag=True, help="Print the matrix and its warnings as JSON.")
def matrix(folder, codes_file, as_json):
    """Informant × code matrix: the lines each informant contributed to each code (CSV and docx)."""
    from .matrix import build_matrix, format_lines, read_codes, write_matrix
    from .session import Session

    result = build_matrix(Session.load(folder), read_codes(codes_file))
    files = write_matrix(result, folder)
    if as_json:
        emit_json({**result.to_dict(), "files": [str(path) for path in files]})
        return
    for item in result.unplaced:
        click.echo(f"Warning: {item.message}", err=True)
    for informant in result.informants:
        cells = [f"{code} {format_lines(result.lines(informant, code))}" for code in result.codes if result.lines(informant, code)]
        click.echo(f"{informant}: {'; '.join(cells) or '—'}")
    for path in files:
        click.echo(str(path))


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Check everything and list what would be destroyed; delete nothing.")
@click.option("--force-mismatch", is_flag=True,
              help="Also destroy a recording whose content no longer matches the sha256 taken at intake.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def purge(folder, yes, dry_run, force_mismatch, as_json):
    """Destroy the session's recordings, once every export is verified, and write a receipt.

    \b
    Each recording is overwritten with random bytes, synced, unlinked, and its folder synced;
    purge-receipt.json and purge-receipt.txt record what was destroyed, when, and the limits.
    An interrupted purge finishes when run again. Example:
      transcribe purge gruppe1/ --dry-run
      transcribe purge gruppe1/
    """
    result = _purge(folder, yes=yes, dry_run=dry_run, force_mismatch=force_mismatch)
    if as_json:
        emit_json(result.to_dict())
    else:
        _show_purge(result)


@cli.command("verify-purge")
@click.argument("target", metavar="DIR_OR_RECEIPT", type=click.Path(path_type=Path))
@click.option("--scan", "scan_folders", multiple=True, type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Also search this folder, recursively, for audio and copies of the recordings (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks and the verdict as JSON.")
def verify_purge(target, scan_folders, as_json):
    """Check a purge: the receipt, that each recording is gone, the exports, and no audio left.

    \b
    Audio is found by content, not by file name. Exits 0 only if every check holds. Example:
      transcribe verify-purge gruppe1/ --scan ~/Opptak
    """
    from .errors import VerificationFailed
    from .verify import verify_purge as verify

    report = verify(target, scan_folders)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(f"Purge of session '{report.session or report.folder}' (receipt {report.receipt}):")
        for check in report.checks:
            where = f"{check.path}: " if check.path else ""
            click.echo(f"  {'ok' if check.ok else 'FAIL':<5} {check.check:<10} {where}{check.detail}")
        for folder in report.unscanned_source_folders:
            click.echo(f"Not scanned: {folder}, where recordings were. Add --scan {folder} to search there too.")
        click.echo("Verdict: PASSED, every check holds." if report.ok else f"Verdict: FAILED, {len(report.problems)} problem(s).")
    if not report.ok:
        raise VerificationFailed(f"The purge of '{report.session or report.folder}' cannot be confirmed: "
                                 f"{len(report.problems)} check(s) failed.")


def _purge(folder: Path, yes: bool, dry_run: bool = False, force_mismatch: bool = False):
    """Purge with a confirmation prompt (on stderr, so --json stays clean) unless ``yes``."""
    from .purge import purge

    def confirm(plan) -> bool:
        from .review.edits import review_of

        _show_plan(plan.session.name, plan.folder, plan.targets, [plan.action(t) for t in plan.targets], plan.exports, err=True)
        review = review_of(plan.session).summary()
        if review["reviewed"] < review["turns"]:
            click.echo(f"{review['turns'] - review['reviewed']} of {review['turns']} turns are not marked reviewed: once the "
                       f"audio is gone they cannot be checked by listening (transcribe review {plan.folder}).", err=True)
        count = sum(1 for t in plan.targets if plan.action(t) == "destroy")
        return click.confirm(f"This cannot be undone. Destroy {count} recording(s) of '{plan.session.name}'?", err=True)

    return purge(folder, force_mismatch=force_mismatch, dry_run=dry_run, confirm=None if yes or dry_run else confirm)


def _show_purge(result) -> None:
    if result.state == "dry-run":
        _show_plan(result.session, result.folder, result.files, result.actions, result.exports)
        click.echo("Dry run: nothing was deleted.")
        return
    if result.state == "already-purged":
        click.echo(f"Session '{result.session}' is already purged. Receipt: {result.receipt} (sha256 {result.receipt_sha256}).")
        return
    destroyed = sum(1 for t in result.files if t.status == "destroyed")
    absent = len(result.files) - destroyed
    click.echo(f"Destroyed {destroyed} recording(s) of '{result.session}'" + (f"; {absent} already absent." if absent else "."))
    click.echo(f"Receipt: {result.receipt}\n  sha256 {result.receipt_sha256}: keep this hash in the project's records.")
    folders = " ".join(f"--scan {p}" for p in sorted({str(Path(t.path).parent) for t in result.files}))
    click.echo(f"Check with: transcribe verify-purge {result.folder} {folders}")


def _show_plan(name, folder, targets, actions, exports, err: bool = False) -> None:
    lines = [f"Session '{name}' in {folder}: exports verified"]
    lines += [f"  {record.file}  sha256 {record.sha256[:16]}…" for record in exports]
    groups = {"destroy": "To destroy (overwrite with random bytes, sync, unlink):",
              "record-absent": "Already absent (recorded as such):",
              "done": "Destroyed by an earlier, interrupted purge:"}
    for action, heading in groups.items():
        rows = [t for t, a in zip(targets, actions) if a == action]
        lines += [heading] if rows else []
        for t in rows:
            changed = f", CONTENT CHANGED since intake (now sha256 {t.found_sha256[:16]}…)" if t.found_sha256 else ""
            size = f"{t.size / 1e6:.1f} MB" if t.size >= 1e6 else f"{t.size / 1e3:.0f} kB"
            lines.append(f"  {t.path}  ({size}, sha256 {t.sha256[:16]}…{changed})")
    click.echo("\n".join(lines), err=err)


@cli.group()
def models():
    """Model folders: list what is installed, check a copied folder, fetch better models.

    \b
    On a networked machine:   transcribe models fetch nb-whisper-large --to /media/usb/models
    On the offline machine:   transcribe models check nb-whisper-large
                              transcribe run gruppe1.m4a -i 1-6 --asr-model nb-whisper-large
    """


_MODELS_DIR = click.option("--models-dir", type=click.Path(path_type=Path),
                           help="The models directory (default: $TRANSCRIBE_MODELS, else ./models).")


@models.command("list")
@_MODELS_DIR
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def models_list(models_dir, as_json):
    """Show the embedded defaults and every model folder in the models directory.

    Each folder's files are checked against its manifest for presence and size; 'transcribe models
    check' verifies every file's sha256 too.
    """
    from .models import embedded_models, installed, models_dir as find_models_dir

    root = find_models_dir(models_dir)
    embedded, found = embedded_models(), installed(root)
    if as_json:
        emit_json({"models_dir": str(root), "embedded": [row.to_dict() for row in embedded],
                   "folders": [row.to_dict() for row in found]})
        return
    width = max(len(row.name) for row in embedded + found)
    click.echo("Embedded (installed with transcribe):")
    for row in embedded:
        click.echo(_model_row(row, width))
    click.echo(f"\nIn {root}:" if root.is_dir() else f"\n{root} does not exist yet.")
    for row in found:
        click.echo(_model_row(row, width))
    if not found:
        click.echo("  no model folders. Fetch some on a networked machine: transcribe models fetch")
    else:
        click.echo("\nUse one by name: transcribe run … --asr-model NAME (or --diarization-model NAME).")


def _model_row(row, width: int) -> str:
    line = f"  {row.name:<{width}}  {row.role:<12} {_bytes(row.size):>8}  {row.licence or '?':<10}  {row.status:<10}  {row.source}"
    return line.rstrip() + (f"\n      {row.detail}" if row.status != "ok" and row.detail else "")


def _bytes(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


@models.command("check")
@click.argument("targets", nargs=-1)
@_MODELS_DIR
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def models_check(targets, models_dir, as_json):
    """Verify model folders against their manifests: every file present, with its size and sha256.

    TARGETS are folders, or names in the models directory; without any, every folder there is
    checked. A damaged or incomplete folder is named with the file at fault (exit status 4).
    """
    from .errors import ModelError
    from .models import check_folder, installed, models_dir as find_models_dir, resolve

    folders = [resolve(target, None, models_dir) for target in targets] or [Path(r.path) for r in installed(models_dir)]
    if not folders:
        click.echo(f"No model folders in {find_models_dir(models_dir)}.")
        return
    results, failures = [], []
    for folder in folders:
        try:
            if not folder.is_dir():
                raise ModelError(f"The model folder {folder} does not exist.")
            manifest = check_folder(folder)
        except ModelError as exc:
            failures.append(str(exc))
            results.append({"folder": str(folder), "ok": False, "problem": str(exc)})
            if not as_json:
                click.echo(f"FAILED  {folder}", err=True)
            continue
        source = manifest["source"]
        results.append({"folder": str(folder), "ok": True, "name": manifest["name"], "role": manifest["role"],
                        "repo": source["repo"], "revision": source["revision"], "files": len(manifest["files"])})
        if not as_json:
            click.echo(f"ok      {folder}  ({len(manifest['files'])} files verified; {source['repo']}@{source['revision'][:12]})")
    if as_json:
        emit_json(results)
    if failures:
        raise ModelError(failures[0] if len(failures) == 1 else f"{len(failures)} of {len(folders)} model folders failed: " + " | ".join(failures))


@models.command("fetch")
@click.argument("name", required=False)
@click.option("--to", "directory", type=click.Path(path_type=Path),
              help="The models directory to fetch into (default: $TRANSCRIBE_MODELS, else ./models).")
@click.option("--token", help="A Hugging Face token, for gated models (default: $HF_TOKEN, else your saved login).")
@click.option("--revision", help="A branch, tag or commit of the source repository (default: its latest).")
@click.option("--quantization", help="Convert the Transformers weights here with CTranslate2 at this precision "
                                      "(int8, int8_float16, float16, …) instead of taking the published conversion "
                                      "(needs 'pip install transformers').")
def models_fetch(name, directory, token, revision, quantization):
    """Download a model, with a manifest, on a networked machine; without NAME, list what can be fetched.

    This is the only command that uses the network. Copy the folder it makes to the offline
    machine's models directory (USB stick, secure transfer) and check it there with
    'transcribe models check NAME'.

    \b
    Example:
      transcribe models fetch nb-whisper-large --to /media/usb/models
      transcribe models fetch speaker-diarization-community-1 --token hf_…
    """
    from .fetch import CATALOGUE, fetch
    from .models import read_manifest

    if name is None:
        click.echo("Models transcribe can fetch (transcribe models fetch NAME):")
        for entry in CATALOGUE.values():
            click.echo(f"  {entry.name:<32} {entry.role:<12} {_bytes(entry.size):>7}  {entry.licence:<10}  {entry.repo}\n"
                       f"      {entry.about}")
        return
    folder = fetch(name, directory, token=token, revision=revision, quantization=quantization,
                   say=lambda message: click.echo(message, err=True))
    manifest = read_manifest(folder)
    size = sum(entry["size"] for entry in manifest["files"])
    click.echo(f"{folder}: {manifest['source']['repo']}@{manifest['source']['revision'][:12]}, "
               f"{len(manifest['files'])} files, {_bytes(size)}, licence {manifest['licence']}.")
    option = "--asr-model" if manifest["role"] == "asr" else "--diarization-model"
    click.echo(f"Copy the folder into the offline machine's models directory, check it there with "
               f"'transcribe models check {name}', then use it: transcribe run … {option} {name}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
