"""The ``transcribe`` command: a thin layer over the library.

Each command parses options, calls one library function and prints what it returns: results have
``to_json()`` for ``--json`` (machine-readable, on stdout and nothing else there) and ``lines()``
for people. Options that several commands share are declared once, below. Errors the tool
anticipates are printed as one plain sentence with a non-zero exit code (see ``errors.py``).
"""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from pathlib import Path

import click

from . import __version__
from .device import COMPUTE_TYPES, DEVICES
from .errors import SlowerWarning, TranscribeError
from .records import MODERATOR

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


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
            click.echo(
                f"Internal error ({type(exc).__name__}: {exc}). Nothing was purged. "
                "Run again with 'transcribe --verbose …' and report the output.",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


def emit_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1))


def show(result, as_json: bool) -> None:
    """A result as JSON, or its warnings on stderr and its lines on stdout."""
    if as_json:
        emit_json(result.to_json())
        return
    warnings = getattr(result, "warnings", ())
    if warnings:
        click.echo("Warning: " + "\nWarning: ".join(warnings), err=True)
    lines = result.lines()
    if lines:
        click.echo("\n".join(lines))


# -- options that several commands share ------------------------------------------------------------


def _stack(*decorators):
    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def json_option(what: str):
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")


FOLDER = click.argument("folder", type=click.Path(path_type=Path))
QUIET = _stack(
    click.option("--quiet", "-q", is_flag=True, help="No progress line."),
    click.option(
        "--progress",
        "show_progress",
        is_flag=True,
        help="A progress line on stderr even when it is not a terminal (a log file, a batch system).",
    ),
)
YES = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
MODELS_DIR = click.option(
    "--models-dir",
    type=click.Path(path_type=Path),
    help="The models directory (default: $TRANSCRIBE_MODELS, else ./models).",
)
NAMES = click.option(
    "--names",
    "names_file",
    type=click.Path(path_type=Path),
    help='Names to replace in every export (TOML: Kari = 3, "Ole Hansen" = "[navn]").',
)
SPEAKER_MAP = _stack(
    click.option(
        "--moderator",
        metavar="SPEAKER_xx",
        help="This cluster is the moderator (informants are numbered again in order of first speaking); "
        "see 'transcribe speakers'.",
    ),
    click.option(
        "--map",
        "map_file",
        type=click.Path(path_type=Path),
        help="Speaker map (TOML, SPEAKER_03 = 4); see 'transcribe speakers --template'.",
    ),
    click.option(
        "--merge", is_flag=True, help="With --map: allow two clusters on one label (one person split in two)."
    ),
)


def numbering_options(width_default: int | None, start_help: str, width_help: str, formats_help: str):
    """--formats, --start-line, --continue-from and --width, with the defaults of run or export."""
    return _stack(
        click.option("--formats", default="txt,json", show_default=True, help=formats_help),
        click.option("--start-line", type=int, help=start_help),
        click.option(
            "--continue-from",
            type=click.Path(path_type=Path),
            help="Another session folder: number on after its last line (group 2 after group 1).",
        ),
        click.option(
            "--width", type=int, default=width_default, show_default=width_default is not None, help=width_help
        ),
    )


def _informants(context, parameter, value):
    from .speakers import parse_informants

    return parse_informants(value)


# -- commands -----------------------------------------------------------------------------------------


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="transcribe")
@click.option("--verbose", is_flag=True, help="Show details (and tracebacks of internal errors).")
def cli(verbose: bool) -> None:
    """Offline focus-group transcription: diarise, transcribe in Norwegian, anonymise speakers,
    export numbered-line transcripts, and purge the audio verifiably."""


@cli.command()
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--informants", "-i", required=True, callback=_informants, help="Informant numbers of this group, e.g. 1-6 or 7-12."
)
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(path_type=Path),
    help="Session folder (default: named after the first recording).",
)
@click.option("--name", help="Session name, used for export file names (default: the folder's name).")
@click.option(
    "--language",
    "-l",
    default="no",
    show_default=True,
    help="no (Bokmål; nb also works) or nn (Nynorsk). Never auto-detected.",
)
@numbering_options(
    80,
    "Number of the first transcript line (default 1).",
    "Wrap text lines at this many characters.",
    "Export formats, comma-separated.",
)
@click.option(
    "--asr-model",
    help="A CTranslate2 Whisper folder, or the name of one in the models directory "
    "(default: the embedded Whisper base). See 'transcribe models list'.",
)
@click.option(
    "--diarization-model",
    help="A local pyannote pipeline folder, or the name of one in the models directory (default: the embedded one).",
)
@MODELS_DIR
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="auto",
    show_default=True,
    help="Where the speech models run: auto (an NVIDIA GPU when CUDA works, else the CPU), cpu or cuda.",
)
@click.option(
    "--compute-type",
    type=click.Choice(COMPUTE_TYPES),
    default="auto",
    show_default=True,
    metavar="TYPE",
    help="Whisper's number format: auto (float16 on a GPU, int8 on CPU), int8_float16, float32, …",
)
@click.option(
    "--batch-size",
    default="auto",
    show_default=True,
    metavar="N",
    help="Whisper windows decoded at once: auto (16 on a GPU, 1 on CPU); lower it if the GPU runs out of memory.",
)
@click.option("--speakers", "num_speakers", type=int, help="Exact number of speakers, if known (moderator included).")
@click.option("--min-speakers", type=int, help="At least this many speakers.")
@click.option("--max-speakers", type=int, help="At most this many speakers (default: informants + moderator + 2).")
@click.option("--moderator-label", default=MODERATOR, show_default=True, help="Label for the moderator in exports.")
@SPEAKER_MAP
@NAMES
@click.option(
    "--vocabulary",
    type=click.Path(path_type=Path),
    callback=lambda _context, _parameter, path: _vocabulary(path),
    help="Terms Whisper should expect, one a line (the interview guide's words, place names, the group's own words).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout; no progress bars.")
@QUIET
@click.option(
    "--purge",
    "purge_audio",
    is_flag=True,
    help="Then destroy the recordings, once the exports are written and verified (see 'transcribe purge').",
)
@click.option("--yes", "-y", is_flag=True, help="With --purge: do not ask for confirmation.")
def run(
    recordings, out, asr_model, diarization_model, models_dir, as_json, quiet, show_progress, purge_audio, yes, **given
):
    """Transcribe RECORDINGS (one session, in recording order) into a session folder.

    \b
    Example:
      transcribe run gruppe1.m4a --informants 1-6 --out gruppe1/
      transcribe run del1.m4a del2.m4a --informants 7-12 --continue-from gruppe1/ --out gruppe2/

    Rerunning on the same folder reuses finished stages.
    """
    from .models import resolve
    from .pipeline import RunOptions
    from .pipeline import run as run_pipeline
    from .progress import StageBars

    options = RunOptions(
        **given,
        asr_model=asr_model and str(resolve(asr_model, "asr", models_dir)),
        diarization_model=diarization_model and str(resolve(diarization_model, "diarization", models_dir)),
    )
    bars = StageBars(quiet or as_json, force=show_progress)
    try:
        result = run_pipeline(list(recordings), out or Path(Path(recordings[0]).stem), options, progress=bars)
    except BaseException:
        bars.close(finished=False)
        raise
    bars.close()
    if as_json:
        purged = _purge(result.folder, yes=yes) if purge_audio else None
        emit_json({**result.to_dict(), **({"purge": purged.to_dict()} if purged else {})})
        return
    show(result, as_json=False)
    if purge_audio:
        show(_purge(result.folder, yes=yes), as_json=False)


def _vocabulary(path: Path | None) -> tuple[str, ...]:
    from .asr import read_vocabulary

    return read_vocabulary(path) if path is not None else ()


_SLURM_OPTIONS = {
    "script": "--out",
    "partition": "--partition",
    "account": "--account",
    "gpus": "--gpus",
    "cpus": "--cpus",
    "mem": "--mem",
    "time_limit": "--time",
}


def _given(context: click.Context, options: dict[str, str]) -> list[str]:
    """Which of ``options`` (parameter → option name) were given on the command line."""
    source = click.core.ParameterSource.COMMANDLINE
    return [option for name, option in options.items() if context.get_parameter_source(name) == source]


@cli.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--only", help="Run only these sessions of the manifest (names, comma-separated).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON Lines on stdout (one object per event) for unattended runs."
)
@QUIET
@click.option(
    "--slurm",
    is_flag=True,
    help="Write an sbatch array script that runs the manifest on a Slurm cluster; run nothing here.",
)
@click.option(
    "--out",
    "-o",
    "script",
    type=click.Path(path_type=Path),
    help="With --slurm: write the script here (default: print it).",
)
@click.option("--partition", help="With --slurm: the partition, e.g. accel.")
@click.option("--account", help="With --slurm: the project account, e.g. p1234 (TSD) or nn1234k (Sigma2).")
@click.option("--gpus", type=int, default=1, show_default=True, help="With --slurm: GPUs per task (0: CPU only).")
@click.option("--cpus", type=int, default=8, show_default=True, help="With --slurm: CPU cores per task.")
@click.option("--mem", default="32G", show_default=True, help="With --slurm: memory per task.")
@click.option("--time", "time_limit", default="24:00:00", show_default=True, help="With --slurm: time limit per task.")
def batch(
    manifest, only, as_json, quiet, show_progress, slurm, script, partition, account, gpus, cpus, mem, time_limit
):
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
    from .batch import SlurmResources, check_finished, load_manifest, run_batch, slurm_script, table
    from .errors import InputError
    from .progress import BatchProgress, JsonLines

    given = _given(click.get_current_context(), _SLURM_OPTIONS)
    if given and not slurm:
        raise InputError(f"{given[0]} only applies with --slurm.")
    if slurm and only:
        raise InputError("--only cannot be used with --slurm: the script runs every session, one array task each.")
    jobs = load_manifest(manifest)
    if slurm:
        text = slurm_script(
            jobs, SlurmResources(partition=partition, account=account, gpus=gpus, cpus=cpus, mem=mem, time=time_limit)
        )
        if script is None:
            click.echo(text, nl=False)
            return
        from .files import write_atomic

        write_atomic(Path(script), text)
        click.echo(
            f"Wrote {script}: {len(jobs.tasks())} array task(s) for {len(jobs.jobs)} session(s). Submit it with: sbatch {script}"
        )
        return
    events = JsonLines() if as_json else BatchProgress(quiet, force=show_progress)
    try:
        outcomes = run_batch(jobs, only=only.split(",") if only else None, report=events)
    finally:
        events.close()
    if not as_json:
        click.echo("\n".join(table(outcomes)))
    check_finished(outcomes)


@cli.command()
@FOLDER
@click.option("--template", is_flag=True, help="Print a map file to edit (TOML, current labels, evidence as comments).")
@json_option("the table")
def speakers(folder, template, as_json):
    """Show each speaker cluster of a session with evidence: talk time, turns, first lines.

    \b
    To correct the labels:
      transcribe speakers gruppe1 --template > gruppe1-map.toml
      (edit it: SPEAKER_03 = 4, SPEAKER_00 = "M", SPEAKER_07 = "O1")
      transcribe export gruppe1 --map gruppe1-map.toml
    """
    from .session import Session
    from .speakers import evidence, map_template

    session = Session.load(folder)
    found = evidence(session)
    if template:
        click.echo(map_template(session), nl=False)
        return
    show(found, as_json)


@cli.command()
@FOLDER
@numbering_options(
    None,
    "Number of the first line (default: as before).",
    "Wrap text lines at this many characters (default: as before).",
    "Comma-separated: txt, docx, csv, json, maxqda, nvivo, srt, vtt.",
)
@click.option("--timestamps", is_flag=True, help="Show when each turn starts (txt and docx).")
@click.option("--moderator-label", help="Label for the moderator (default: as before).")
@SPEAKER_MAP
@NAMES
@click.option("--english", is_flag=True, help="English column headers.")
@json_option("the written files")
def export(folder, as_json, **given):
    """Write transcripts again from session.json alone (no audio needed).

    \b
    Example:
      transcribe export gruppe1 --formats txt,docx,maxqda --map gruppe1-map.toml --names navn.toml
      transcribe export gruppe2 --continue-from gruppe1
    """
    from .finish import FinishOptions, export_session

    show(export_session(folder, FinishOptions(**given)), as_json)


@cli.command()
@FOLDER
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port on 127.0.0.1 (default: a free one). Through an SSH tunnel, use the same port on both ends.",
)
@click.option("--no-browser", is_flag=True, help="Do not open the page in the default browser.")
@click.option(
    "--idle",
    type=click.FloatRange(0, min_open=True),
    default=60,
    show_default=True,
    help="Stop after this many minutes without a request.",
)
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
    click.echo(
        f"Review stopped after {idle:g} minutes without a request; every change is saved in session.json.", err=True
    )


@cli.command()
@FOLDER
@click.option(
    "--names",
    "names_file",
    type=click.Path(path_type=Path),
    help="Your names file so far: list only what it does not replace yet.",
)
@json_option("the candidates")
def names(folder, names_file, as_json):
    """List capitalised words inside sentences (likely names) with their line numbers.

    Use it to complete the names file for --names; line numbers are those of the exports.
    """
    from .export import build_document
    from .names import Candidates, load_names
    from .session import Session

    document = build_document(Session.load(folder), names=load_names(names_file) if names_file else None)
    show(Candidates.of(document.lines), as_json)


@cli.command()
@FOLDER
@click.option(
    "--questions",
    type=click.Path(path_type=Path),
    help="The interview guide, one question per line, to match against the moderator's turns "
    "(default: each moderator question starts a segment).",
)
@json_option("every table")
def report(folder, questions, as_json):
    """Participation, guide questions, who spoke after whom, and figures, from session.json alone.

    Writes CSV tables and PNG/SVG figures into FOLDER/report/.
    """
    from .report import report_session

    show(report_session(folder, questions), as_json)


@cli.command()
@FOLDER
@click.option(
    "--codes",
    "codes_file",
    required=True,
    type=click.Path(path_type=Path),
    help='Your coding as TOML, code name → line numbers or ranges: "Støtte" = [74, 75, "78-80"].',
)
@json_option("the matrix and its warnings")
def matrix(folder, codes_file, as_json):
    """Informant × code matrix: the lines each informant contributed to each code (CSV and docx)."""
    from .matrix import matrix_session

    show(matrix_session(folder, codes_file), as_json)


@cli.command()
@FOLDER
@YES
@click.option("--dry-run", is_flag=True, help="Check everything and list what would be destroyed; delete nothing.")
@click.option(
    "--force-mismatch",
    is_flag=True,
    help="Also destroy a recording whose content no longer matches the sha256 taken at intake.",
)
@json_option("the result")
def purge(folder, yes, dry_run, force_mismatch, as_json):
    """Destroy the session's recordings, once every export is verified, and write a receipt.

    \b
    Each recording is overwritten with random bytes, synced, unlinked, and its folder synced;
    purge-receipt.json and purge-receipt.txt record what was destroyed, when, and the limits.
    An interrupted purge finishes when run again. Example:
      transcribe purge gruppe1/ --dry-run
      transcribe purge gruppe1/
    """
    show(_purge(folder, yes=yes, dry_run=dry_run, force_mismatch=force_mismatch), as_json)


def _purge(folder: Path, yes: bool, dry_run: bool = False, force_mismatch: bool = False):
    """Purge with a confirmation prompt (on stderr, so --json stays clean) unless ``yes``."""
    from .purge import purge

    def confirm(plan) -> bool:
        click.echo("\n".join(plan.lines()), err=True)
        return click.confirm(
            f"This cannot be undone. Destroy {plan.to_destroy} recording(s) of '{plan.session.name}'?", err=True
        )

    return purge(folder, force_mismatch=force_mismatch, dry_run=dry_run, confirm=None if yes or dry_run else confirm)


@cli.command("verify-purge")
@click.argument("target", metavar="DIR_OR_RECEIPT", type=click.Path(path_type=Path))
@click.option(
    "--scan",
    "scan_folders",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Also search this folder, recursively, for audio and copies of the recordings (repeatable).",
)
@json_option("the checks and the verdict")
def verify_purge(target, scan_folders, as_json):
    """Check a purge: the receipt, that each recording is gone, the exports, and no audio left.

    \b
    Audio is found by content, not by file name. Exits 0 only if every check holds. Example:
      transcribe verify-purge gruppe1/ --scan ~/Opptak
    """
    from .verify import verify_purge as verify

    verification = verify(target, scan_folders)
    show(verification, as_json)
    verification.raise_if_failed()


@cli.group()
def models():
    """Model folders: list what is installed, check a copied folder, fetch better models.

    \b
    On a networked machine:   transcribe models fetch nb-whisper-large --to /media/usb/models
    On the offline machine:   transcribe models check nb-whisper-large
                              transcribe run gruppe1.m4a -i 1-6 --asr-model nb-whisper-large
    """


@models.command("list")
@MODELS_DIR
@json_option("the list")
def models_list(models_dir, as_json):
    """Show the embedded defaults and every model folder in the models directory.

    Each folder's files are checked against its manifest for presence and size; 'transcribe models
    check' verifies every file's sha256 too.
    """
    from .models import listing

    show(listing(models_dir), as_json)


@models.command("check")
@click.argument("targets", nargs=-1)
@MODELS_DIR
@json_option("the results")
def models_check(targets, models_dir, as_json):
    """Verify model folders against their manifests: every file present, with its size and sha256.

    TARGETS are folders, or names in the models directory; without any, every folder there is
    checked. A damaged or incomplete folder is named with the file at fault (exit status 4).
    """
    from .models import check_folders

    checked = check_folders(targets, models_dir)
    if not as_json and checked.problem_lines():
        click.echo("\n".join(checked.problem_lines()), err=True)
    show(checked, as_json)
    checked.raise_if_failed()


@models.command("fetch")
@click.argument("name", required=False)
@click.option(
    "--to",
    "directory",
    type=click.Path(path_type=Path),
    help="The models directory to fetch into (default: $TRANSCRIBE_MODELS, else ./models).",
)
@click.option("--token", help="A Hugging Face token, for gated models (default: $HF_TOKEN, else your saved login).")
@click.option("--revision", help="A branch, tag or commit of the source repository (default: its latest).")
@click.option(
    "--quantization",
    help="Convert the Transformers weights here with CTranslate2 at this precision "
    "(int8, int8_float16, float16, …) instead of taking the published conversion "
    "(needs 'pip install transformers').",
)
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
    from .fetch import catalogue_lines, fetch, fetched_lines

    if name is None:
        click.echo("\n".join(catalogue_lines()))
        return
    folder = fetch(
        name,
        directory,
        token=token,
        revision=revision,
        quantization=quantization,
        say=lambda message: click.echo(message, err=True),
    )
    click.echo("\n".join(fetched_lines(folder, name)))


def main() -> None:
    warnings.showwarning = _plain_warning
    cli()


def _plain_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """The tool's own warnings as one plain line on stderr; others as Python shows them."""
    if issubclass(category, SlowerWarning):
        click.echo(f"Warning: {message}", err=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


if __name__ == "__main__":
    main()
