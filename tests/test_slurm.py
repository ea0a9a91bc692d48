"""transcribe batch --slurm: the sbatch array script, read, linted, run by bash, and run by a real Slurm.

The sessions are finished by hand (tests/batchjobs.py), so the jobs run no speech model. Where
Debian's slurm-wlm and munge are installed (apt-get install slurm-wlm munge), a private
single-node cluster is started for the module (its own munge key and socket, free ports, state in
a temporary folder, one node with one stand-in GPU) and the script is submitted to it for real;
elsewhere those tests are skipped.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import batchjobs
import pytest
from conftest import invoke
from test_batch import study

SLURM_TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")


def directives(script: str) -> dict[str, str]:
    return dict(
        line[len("#SBATCH --") :].split("=", 1) for line in script.splitlines() if line.startswith("#SBATCH --")
    )


@pytest.fixture
def manifest(tmp_path):
    path = study(tmp_path)
    batchjobs.finish(path)
    return path


def test_one_task_per_session_and_chains_in_one_task(manifest, tmp_path):
    result = invoke(
        "batch",
        manifest,
        "--slurm",
        "--partition",
        "accel",
        "--account",
        "p1234",
        "--gpus",
        "2",
        "--cpus",
        "4",
        "--mem",
        "16G",
        "--time",
        "2-00:00:00",
    )
    assert result.exit_code == 0, result.output
    script = result.stdout
    assert script.startswith("#!/bin/bash\n#SBATCH ")
    assert directives(script) == {
        "job-name": "transcribe-jobs",
        "array": "0-1",
        "partition": "accel",
        "account": "p1234",
        "gres": "gpu:2",
        "cpus-per-task": "4",
        "mem": "16G",
        "time": "2-00:00:00",
        "output": f"{tmp_path}/slurm-%x-%A_%a.out",
    }
    # Every #SBATCH line comes before the first command, or sbatch ignores it.
    first_command = next(i for i, line in enumerate(script.splitlines()) if line and not line.startswith("#"))
    assert all(i < first_command for i, line in enumerate(script.splitlines()) if line.startswith("#SBATCH"))
    assert re.search(r'^tasks=\(\n  "gruppe1,gruppe2"\n  "solo"\n\)$', script, re.M)
    assert "#   task 0: gruppe1 → gruppe2\n#   task 1: solo\n" in script
    # Compute nodes are offline: the hub is never asked, models come from a local folder.
    assert "export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1" in script and "PYANNOTE_METRICS_ENABLED=0" in script
    assert re.search(r"^export TRANSCRIBE_MODELS=/", script, re.M)
    assert f'batch {manifest.resolve()} --only "${{tasks[${{SLURM_ARRAY_TASK_ID:?' in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", "-s", "bash", "-"], input=script, text=True, check=True)


def test_cpu_only_script_written_to_a_file(manifest, tmp_path):
    out = tmp_path / "jobs.sbatch"
    result = invoke("batch", manifest, "--slurm", "--gpus", "0", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Wrote {out}: 2 array task(s) for 3 session(s). Submit it with: sbatch {out}\n"
    found = directives(out.read_text())
    assert "gres" not in found and "partition" not in found and "account" not in found
    assert found["cpus-per-task"] == "8" and found["mem"] == "32G" and found["time"] == "24:00:00"


def test_the_script_runs_its_task_under_bash(manifest, tmp_path):
    """What an array task does, run by bash without Slurm: task 0 is gruppe1 then gruppe2."""
    script = tmp_path / "jobs.sbatch"
    assert invoke("batch", manifest, "--slurm", "--out", script).exit_code == 0
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "0", "SLURM_CPUS_PER_TASK": "1"}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    log = [json.loads(line) for line in done.stdout.splitlines()]
    assert log[0]["sessions"] == ["gruppe1", "gruppe2"] and log[-1]["done"] == 2
    assert (tmp_path / "gruppe2" / "gruppe2.txt").is_file() and not (tmp_path / "ut" / "solo" / "solo.txt").exists()
    unsubmitted = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, env={"PATH": os.environ["PATH"]}
    )
    assert unsubmitted.returncode != 0 and "submit this script with sbatch" in unsubmitted.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--slurm", "--time", "soon"], "--time 'soon' is not something Slurm takes"),
        (["--slurm", "--mem", "lots"], "--mem 'lots' is not something Slurm takes"),
        (["--slurm", "--gpus", "-1"], "--gpus must be 0 or more"),
        (["--slurm", "--only", "solo"], "--only cannot be used with --slurm"),
        (["--partition", "accel"], "--partition only applies with --slurm"),
        (["--time", "1:00:00"], "--time only applies with --slurm"),
    ],
)
def test_slurm_options_are_checked(manifest, args, message):
    result = invoke("batch", manifest, *args)
    assert result.exit_code == 3 and message in result.stderr, result.output


# -- a real single-node Slurm ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, seconds: float, what: str, logs: list[Path]):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {log}\n{log.read_text()[-2000:]}" for log in logs if log.exists())
    pytest.fail(f"{what} did not happen within {seconds} s\n{tails}")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A private Slurm cluster of one node (this machine) with one stand-in GPU; yields the client env."""
    missing = [tool for tool in SLURM_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Slurm is not installed here ({', '.join(missing)} missing): apt-get install slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("starting slurmd needs root")
    root = tmp_path_factory.mktemp("slurm")
    for folder in ("state", "spool"):
        (root / folder).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    node = socket.gethostname()
    (root / "slurm.conf").write_text(f"""\
ClusterName=transcribe-test
SlurmctldHost={node}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
GresTypes=gpu
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={node} CPUs={os.cpu_count()} RealMemory=2000 Gres=gpu:1 State=UNKNOWN
PartitionName=test Nodes={node} Default=YES MaxTime=INFINITE State=UP
""")
    (root / "gres.conf").write_text("Name=gpu File=/dev/null\n")  # a stand-in: the jobs run on CPU
    env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}
    logs = [root / "munged.log", root / "slurmctld.log", root / "slurmd.log"]
    daemons = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        for command in (
            [
                "munged",
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={root}/munge.socket",
                f"--pid-file={root}/munged.pid",
                f"--log-file={root}/munged.log",
                f"--seed-file={root}/munged.seed",
            ],
        )
    ]
    wait_for(lambda: (root / "munge.socket").exists(), 20, "munged starting", logs)
    daemons += [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        for command in (["slurmctld", "-D", "-i"], ["slurmd", "-D"])
    ]
    try:
        idle = lambda: (
            subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout.strip()
            == "idle"
        )
        wait_for(idle, 60, "the Slurm node becoming idle", logs)
        yield env, logs
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
        for daemon in daemons:
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()


def test_slurm_accepts_the_script_and_runs_every_task(slurm, manifest, tmp_path):
    env, logs = slurm
    script = tmp_path / "jobs.sbatch"
    result = invoke(
        "batch",
        manifest,
        "--slurm",
        "--gpus",
        "1",
        "--cpus",
        "1",
        "--mem",
        "500M",
        "--time",
        "00:10:00",
        "--out",
        script,
    )
    assert result.exit_code == 0, result.output
    checked = subprocess.run(["sbatch", "--test-only", str(script)], env=env, capture_output=True, text=True)
    assert checked.returncode == 0 and "to start at" in checked.stderr, checked.stderr

    job = subprocess.run(
        ["sbatch", "--parsable", str(script)], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    queued = lambda: (
        not subprocess.run(["squeue", "-h", "-j", job], env=env, capture_output=True, text=True).stdout.strip()
    )
    wait_for(queued, 240, f"Slurm job {job} finishing", logs)
    for task, sessions in ((0, ["gruppe1", "gruppe2"]), (1, ["solo"])):
        state = subprocess.run(
            ["scontrol", "show", "job", f"{job}_{task}"], env=env, capture_output=True, text=True
        ).stdout
        output = tmp_path / f"slurm-transcribe-jobs-{job}_{task}.out"
        assert "JobState=COMPLETED" in state and "ExitCode=0:0" in state, (
            output.read_text() if output.exists() else state
        )
        assert "gres/gpu=1" in state or "gres:gpu:1" in state or "gpu:1" in state
        log = [json.loads(line) for line in output.read_text().splitlines() if line.startswith("{")]
        assert log[0]["sessions"] == sessions and log[-1]["done"] == len(sessions), output.read_text()
    assert (tmp_path / "gruppe2" / "gruppe2.txt").is_file() and (tmp_path / "ut" / "solo" / "solo.txt").is_file()
