"""Batch: many sessions from one manifest, unattended and resumable, on one machine or a Slurm cluster.

The manifest (``jobs.toml``) lists the sessions; ``[defaults]`` sets the models and the device
for the whole batch and default values for every session::

    [defaults]
    asr_model = "nb-whisper-large"    # a name in the models directory, or a folder
    device = "auto"                   # also: compute_type, batch_size, diarization_model, models_dir
    language = "no"                   # also: formats, width, moderator_label, speakers,
    purge = false                     #       min_speakers, max_speakers, names

    [[session]]
    name = "gruppe1"
    audio = ["opptak/gruppe1.m4a"]    # in recording order; relative to the manifest's folder
    informants = "1-6"

    [[session]]
    name = "gruppe2"
    audio = ["opptak/g2-del1.m4a", "opptak/g2-del2.m4a"]
    informants = "7-12"
    continue_from = "gruppe1"         # number on after gruppe1's last line (or start_line = 1)
    map = "kart/gruppe2.toml"         # also: merge, names, out (default: <manifest folder>/<name>)
    purge = true

The whole manifest is checked before any work, and every problem is named with its session and
key. Sessions run in manifest order, except that one which continues another's line numbers runs
after it. The models are loaded once, when the first session needs them, so sessions whose stages
are all done (a rerun) take seconds. A session that fails is recorded and the batch goes on;
sessions that continue from it are skipped. ``run_batch`` reports what happens as plain dicts,
which the CLI prints as progress or as JSON Lines.

Slurm: :func:`slurm_script` writes an sbatch array script with one array task per session, except
that sessions linked by ``continue_from`` run in one task, in order, because each needs the one
before it to be finished before its first line number is known.
"""

from .manifest import Job, Manifest, load_manifest
from .run import Events, Outcome, check_finished, run_batch, select, summary, table
from .slurm import SlurmResources, slurm_script

__all__ = [
    "Events",
    "Job",
    "Manifest",
    "Outcome",
    "SlurmResources",
    "check_finished",
    "load_manifest",
    "run_batch",
    "select",
    "slurm_script",
    "summary",
    "table",
]
