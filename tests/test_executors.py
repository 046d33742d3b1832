"""The job executors: cost shares, cluster settings, job records, the dry-run, and ``--executor local`` on real data.

The end-to-end tests spread a tiny suite (one teacher, CE and KD students, two seeds: four lockstep groups) over two
CPU workers of the local executor, compare it with the in-process runner, kill a job and resubmit it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from cskd.cluster_config import ClusterConfigError, check_section, parse_time, resolve
from cskd.cost import GPU_ASSUMED_MACS_PER_SECOND, gpu_rate, group_macs_per_image, run_macs_per_image
from cskd.executors import records
from cskd.executors.jobs import format_minutes
from cskd.plan import expand
from cskd.results import read_runs
from cskd.suite import SuiteError, load_suite

#: students 8 channels wide at the stem (width 0.125 of ResNet-18): torch 2.14.1 crashes in the CPU backward of a
#: channels_last 1x1 stride-2 convolution from fewer than 16 channels, so the engine trains them in NCHW there
SUITE = {
    "name": "mini",
    "dataset": "cifar10-jpeg",
    "train_subset": 300,
    "test_subset": 200,
    "recipe": {"epochs": 2, "batch_size": 100, "lr": 0.05, "milestones": [1]},
    "models": {
        "T": {"model": "cifar_resnet18_w0_25"},
        "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}},
    },
    "pairs": [["T", "S"]],
    "methods": {"CE": {"method": "ce"}, "KD": {"method": "kd", "args": {"form": "mse"}}},
    "seeds": [0, 1],
}
COMPARED = ["best_top1", "best_top5", "best_epoch", "last_top1", "last_top5", "teacher_top1", "status"]


def write_suite(folder: Path, **changes) -> Path:
    path = folder / "mini.yaml"
    path.write_text(yaml.safe_dump({**SUITE, **changes}))
    return path


def cskd(*args: str | Path, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cskd", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, **kwargs)


def run_args(suite: Path, results: Path, data_dir: Path) -> list[str | Path]:
    return [
        "run",
        suite,
        "--results-dir",
        results,
        "--data-dir",
        data_dir,
        "--device",
        "cpu",
        "--deterministic",
        "--no-progress",
    ]


@pytest.fixture(scope="module")
def cached_data(subset_data_dir):
    from cskd.data import load_subset

    load_subset("cifar10-jpeg", subset_data_dir, 300, 200)  # the full copy decoded once (where present)
    return subset_data_dir


# --- cost shares -----------------------------------------------------------------------------------------------------


def test_run_shares_split_the_teacher_among_the_students_training_each_epoch_and_sum_to_the_group():
    # teacher 10 MACs, students 1 and 2 MACs, the first with a 2-epoch init stage, 3 main epochs:
    # student 1: 3 * 1 * (3 + 2) = 15 own, teacher 3 * 10 / 2 = 15 in main epochs and 2 * 10 in init epochs -> 50
    # student 2: 3 * 2 * 3 = 18 own, teacher 3 * 10 / 2 = 15 -> 33
    shares = run_macs_per_image(10, [1, 2], [2, 0], epochs=3)
    assert shares == [50, 33]
    assert sum(shares) == group_macs_per_image(10, [1, 2], [2, 0], epochs=3)


def test_dry_run_gives_hours_per_run_with_init_stages_totals_bases_and_jobs_per_executor(tmp_path, capsys):
    from cskd.cli import main

    methods = {**SUITE["methods"], "FitNet": {"method": "fitnet", "args": {"hint_epochs": 3}}}
    suite = write_suite(tmp_path, methods=methods)
    assert main(["run", str(suite), "--results-dir", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    fitnet = next(line for line in out.splitlines() if "FitNet" in line)
    assert "CPU-h" in fitnet and "GPU-h" in fitnet and "(2 ep + 3 init x 300 img)" in fitnet
    assert "estimated hours:" in out and "CPU-hours" in out and "GPU-hours" in out
    assert "CPU: learned:" in out and "GPU: assumed, not measured" in out  # the rate of the recorded runs
    assert "4 lockstep group(s)" in out and "--executor local: 4 job(s)" in out
    assert "--executor slurm: 4 job(s) in 2 submission(s)" in out


def test_gpu_hours_use_the_rate_a_passed_gpu_check_measured_and_the_stated_assumption_otherwise(tmp_path):
    assumed = gpu_rate(tmp_path)
    assert assumed.macs_per_second == GPU_ASSUMED_MACS_PER_SECOND and assumed.basis.startswith("assumed, not measured")
    check = {"device_type": "cuda", "passed": True, "gpu": "NVIDIA X", "throughput": {"engine_macs_per_second": 3e12}}
    (tmp_path / "gpu_check.json").write_text(json.dumps(check))
    measured = gpu_rate(tmp_path)
    assert measured.macs_per_second == 3e12 and "measured" in measured.basis and "NVIDIA X" in measured.basis
    (tmp_path / "gpu_check.json").write_text(json.dumps(check | {"passed": False}))
    assert gpu_rate(tmp_path) == assumed


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check would run for minutes")
def test_gpu_check_without_cuda_fails_at_once_saying_why(tmp_path):
    out = tmp_path / "gpu_check.json"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"
    env = {**os.environ, "CSKD_PYTHON": sys.executable}
    result = subprocess.run([str(script), "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 2 and "CUDA is not available" in result.stdout, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["passed"] is False and report["steps"] == {} and "CUDA is not available" in report["error"]


# --- cluster settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "minutes"), [(90, 90), ("90", 90), ("1:30:00", 90), ("1-02:00:30", 1561), ("2-12", 3600)]
)
def test_time_limits_are_read_in_slurm_forms(given, minutes):
    assert parse_time(given, "") == minutes
    assert format_minutes(90) == "0-01:30:00"


def test_bad_cluster_settings_name_the_key_and_close_names():
    with pytest.raises(ClusterConfigError, match=r"f\.yaml: partitio: unknown cluster setting \(closest: partition"):
        check_section({"partitio": "gpu"}, "f.yaml: ")
    with pytest.raises(ClusterConfigError, match=r"gpus_per_job: expected int, got str"):
        check_section({"gpus_per_job": "2"}, "")
    with pytest.raises(ClusterConfigError, match=r"time: expected minutes or HH:MM:SS"):
        check_section({"time": "two hours"}, "")
    with pytest.raises(ClusterConfigError, match=r"mem: expected a size"):
        check_section({"mem": "lots"}, "")


def test_command_line_beats_the_suite_which_beats_the_user_file_and_sbatch_options_merge():
    config = resolve(
        [
            ("user file", {"partition": "cpu", "account": "lab", "sbatch": {"constraint": "v100", "exclude": "n1"}}),
            ("suite", {"partition": "gpu", "time": "2:00:00", "sbatch": {"constraint": "a100"}}),
            ("command line", {"time": 30}),
        ]
    )
    assert (config.partition, config.account, config.time_min, config.gpus_per_job) == ("gpu", "lab", 30, 1)
    assert config.sbatch == {"constraint": "a100", "exclude": "n1"}
    assert config.sources["partition"] == "suite" and config.sources["time"] == "command line"


def test_a_suite_with_a_bad_cluster_section_is_refused_naming_file_and_key(tmp_path):
    with pytest.raises(SuiteError, match=r"mini\.yaml: cluster\.cpus_per_task: must be at least 1"):
        load_suite(write_suite(tmp_path, cluster={"cpus_per_task": 0}))
    assert load_suite(write_suite(tmp_path, cluster={"partition": "gpu"})).cluster == {"partition": "gpu"}


def test_slurm_options_without_the_slurm_executor_are_refused(tmp_path):
    result = cskd("run", write_suite(tmp_path), "--results-dir", tmp_path, "--partition", "gpu")
    assert result.returncode == 2 and "--partition: only with --executor slurm" in result.stderr


# --- job records -----------------------------------------------------------------------------------------------------


def test_liveness_of_local_and_slurm_jobs(tmp_path):
    me = records.this_process()
    gone = {"host": socket.gethostname(), "pid": me["pid"], "start": "not the start of this process"}
    assert records.liveness({"executor": "local", "job_id": "1", "controller": me}, None).state == "running"
    assert records.liveness({"executor": "local", "job_id": "1", "controller": gone}, None).state == "gone"
    assert records.liveness({"executor": "local", "dispatcher": me}, None).state == "queued"
    queue = {"7_1": records.SlurmJob("PENDING", "", "Dependency"), "8": records.SlurmJob("RUNNING", "node3", "")}
    assert records.liveness({"executor": "slurm", "job_id": "7_1"}, queue) == records.Liveness(
        "queued", reason="Dependency"
    )
    assert records.liveness({"executor": "slurm", "job_id": "8"}, queue).where == "node3"
    assert records.liveness({"executor": "slurm", "job_id": "9"}, queue).state == "gone"
    assert records.liveness({"executor": "slurm", "job_id": "9"}, None).state == "unknown"
    path = records.create(tmp_path, executor="local", runs=[])
    assert records.update(path, job_id="3")["job_id"] == "3" and records.read_all(tmp_path)[0]["job_id"] == "3"


def test_the_last_error_line_of_a_log(tmp_path):
    log = tmp_path / "job.err"
    log.write_text("Traceback (most recent call last):\n  File x\nValueError: bad teacher\nsubmitit INFO done\n\n")
    assert records.last_error_line(log) == "ValueError: bad teacher"
    log.write_text("slurmstepd: error: *** JOB 5 ON vm CANCELLED AT 2026-01-01T00:00:00 ***\n")
    assert "CANCELLED" in records.last_error_line(log)
    assert records.last_error_line(tmp_path / "missing.err") == ""


# --- the local executor on real data ---------------------------------------------------------------------------------


def rows(results: Path) -> pd.DataFrame:
    return read_runs(results / "mini" / "runs.csv").sort_values("run_id").reset_index(drop=True)


def test_local_executor_over_two_workers_matches_the_serial_runner_bitwise(tmp_path, cached_data):
    suite = write_suite(tmp_path)
    threads = str(max(1, (os.cpu_count() or 1) // 2))  # what each of the two workers gets
    serial = cskd(*run_args(suite, tmp_path / "serial", cached_data), env={"OMP_NUM_THREADS": threads})
    assert serial.returncode == 0, serial.stdout + serial.stderr
    local = cskd(*run_args(suite, tmp_path / "local", cached_data), "--executor", "local", "--gpus", "2")
    assert local.returncode == 0, local.stdout + local.stderr
    assert "4 job(s), one per lockstep group, 2 at a time (CPU worker 1, CPU worker 2" in local.stdout
    one, two = rows(tmp_path / "serial"), rows(tmp_path / "local")
    assert len(two) == 5 and two["run_id"].is_unique and (two["status"] == "ok").all()
    assert list(one["run_id"]) == list(two["run_id"])
    pd.testing.assert_frame_equal(one[COMPARED], two[COMPARED])
    for run_id in two["run_id"]:
        epochs = [pd.read_csv(tmp_path / side / "mini" / "epochs" / f"{run_id}.csv") for side in ("serial", "local")]
        pd.testing.assert_frame_equal(*(e.drop(columns="seconds") for e in epochs))
    jobs = records.read_all(tmp_path / "local" / "mini" / "jobs")
    assert len(jobs) == 4 and all(job["outcome"] == "ok" for job in jobs)
    assert {job["slot"] for job in jobs} == {"CPU worker 1", "CPU worker 2"}
    status = cskd("status", suite, "--results-dir", tmp_path / "local")
    assert status.returncode == 0 and "totals: 5 done, 0 running, 0 queued, 0 failed, 0 to do" in status.stdout


def test_a_killed_job_fails_alone_and_resumes_on_resubmission(tmp_path, cached_data):
    suite = write_suite(tmp_path, recipe={**SUITE["recipe"], "epochs": 4, "milestones": [2]})
    victim = next(r for r in expand(load_suite(suite)).runs if r.method.label == "CE" and r.seed == 1)
    command = [sys.executable, "-m", "cskd", *map(str, run_args(suite, tmp_path, cached_data))]
    dispatcher = subprocess.Popen(
        [*command, "--executor", "local", "--gpus", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    epochs = tmp_path / "mini" / "epochs" / f"{victim.run_id}.csv"
    killed, deadline = None, time.time() + 900
    while killed is None and time.time() < deadline and dispatcher.poll() is None:
        for job in records.read_all(tmp_path / "mini" / "jobs"):
            covers = victim.run_id in {run["run_id"] for run in job["runs"]}
            if covers and job.get("task") and epochs.exists() and len(pd.read_csv(epochs)) >= 1:
                os.kill(job["task"]["pid"], signal.SIGKILL)  # the job's training process, part-way
                killed = job
        time.sleep(0.05)
    out = dispatcher.communicate(timeout=900)[0]
    assert killed is not None, "the job was not caught part-way:\n" + out
    before = pd.read_csv(epochs)
    assert dispatcher.returncode == 1, out
    assert f"FAILED job {killed['job_id']}" in out and f"log: {killed['stderr']}" in out
    assert "4 job(s): 3 ok, 1 failed, 0 not run" in out  # the three other groups went on
    assert set(rows(tmp_path)["run_id"]) == {r.run_id for r in expand(load_suite(suite)).runs} - {victim.run_id}
    status = cskd("status", suite, "--results-dir", tmp_path)
    line = next(line for line in status.stdout.splitlines() if victim.run_id in line)
    killed_words = ("ended early" in line or "ended without finishing" in line) and killed["stderr"] in line
    assert line.split()[0] == "failed" and killed_words, line
    assert "totals: 4 done, 0 running, 0 queued, 1 failed, 0 to do" in status.stdout

    again = subprocess.run([*command, "--executor", "local", "--gpus", "2"], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 job(s), one per lockstep group" in again.stdout
    table = rows(tmp_path)
    assert len(table) == 5 and table["run_id"].is_unique and (table["status"] == "ok").all()
    after = pd.read_csv(epochs)
    assert list(after["epoch"]) == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)  # resumed after the recorded epochs
    record = json.loads(Path(killed["path"]).read_text())
    assert record["outcome"] == "failed" and record["error"].startswith("ended early")
