"""Slurm: an sbatch array script that runs a manifest on a cluster, one array task per session.

Sessions linked by ``continue_from`` run in one task, in order, because each needs the one
before it to be finished before its first line number is known.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass

from .. import __version__, models
from ..errors import InputError
from .manifest import Manifest

TIME = re.compile(r"(\d+-)?\d+(:\d{2}){0,2}")
MEMORY = re.compile(r"\d+[KMGT]?")
WORD = re.compile(r"[\w.,-]+")


@dataclass(frozen=True)
class SlurmResources:
    partition: str | None = None
    account: str | None = None
    gpus: int = 1
    cpus: int = 8
    mem: str = "32G"
    time: str = "24:00:00"

    def check(self) -> None:
        for option, value, pattern in (
            ("--partition", self.partition, WORD),
            ("--account", self.account, WORD),
            ("--time", self.time, TIME),
            ("--mem", self.mem, MEMORY),
        ):
            if value is not None and not pattern.fullmatch(value):
                raise InputError(f"{option} '{value}' is not something Slurm takes (e.g. --time 12:00:00, --mem 32G).")
        if self.gpus < 0 or self.cpus < 1:
            raise InputError("--gpus must be 0 or more and --cpus 1 or more.")


def slurm_script(manifest: Manifest, resources: SlurmResources, python: str = sys.executable) -> str:
    """An sbatch array script that runs the manifest: array task i runs the sessions of task i."""
    resources.check()
    tasks = manifest.tasks()
    models_dir = models.models_dir(manifest.models_dir).resolve()
    directives = [
        f"--job-name=transcribe-{manifest.path.stem}",
        f"--array=0-{len(tasks) - 1}",
        *([f"--partition={resources.partition}"] if resources.partition else []),
        *([f"--account={resources.account}"] if resources.account else []),
        *([f"--gres=gpu:{resources.gpus}"] if resources.gpus else []),
        f"--cpus-per-task={resources.cpus}",
        f"--mem={resources.mem}",
        f"--time={resources.time}",
        f"--output={manifest.path.parent}/slurm-%x-%A_%a.out",
    ]
    listing = [f"#   task {i}: {' → '.join(job.name for job in jobs)}" for i, jobs in enumerate(tasks)]
    lines = [
        "#!/bin/bash",
        *[f"#SBATCH {d}" for d in directives],
        "#",
        f"# Made by transcribe {__version__} ('transcribe batch --slurm') from {manifest.path}.",
        "# One array task per session; sessions linked by continue_from run in one task, in order,",
        "# because each numbers its lines on from the last line of the one before it:",
        *listing,
        "# Submit it with sbatch; follow with squeue --me; afterwards: sacct -j JOBID. Submitting it again",
        "# resumes (finished stages and sessions are kept); sbatch --array=N runs task N alone.",
        "set -euo pipefail",
        "",
        "# Compute nodes on TSD, HUNT Cloud and the like have no internet: nothing may reach for a model hub.",
        "export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 PYANNOTE_METRICS_ENABLED=0",
        f"export TRANSCRIBE_MODELS={shlex.quote(str(models_dir))}",
        'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
        "",
        "tasks=(",
        *[f'  "{",".join(job.name for job in jobs)}"' for jobs in tasks],  # names are letters, digits, . _ -
        ")",
        f"cd {shlex.quote(str(manifest.path.parent))}",
        f"exec {shlex.quote(python)} -m transcribe.cli batch {shlex.quote(str(manifest.path))} "
        '--only "${tasks[${SLURM_ARRAY_TASK_ID:?submit this script with sbatch}]}" --json',
        "",
    ]
    return "\n".join(lines)
