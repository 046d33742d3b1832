"""``--executor slurm`` against a real slurmctld/slurmd (``scripts/slurm_local_cluster.sh start``).

Skipped, saying how to start one, when no cluster answers; with ``CSKD_SLURM=1`` (a CI that started one) a missing
cluster is a failure. The jobs run on CPU, one CPU each, so the node runs two at a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from test_executors import SUITE, cskd, rows, write_suite

from cskd.executors import records
from cskd.plan import expand
from cskd.suite import load_suite

pytestmark = pytest.mark.slurm
SLURM_OPTIONS = ["--executor", "slurm", "--gpus-per-job", "0", "--cpus-per-task", "1", "--time", "20"]


def cluster_problem() -> str | None:
    """Why no SLURM cluster can take jobs here, or None."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "slurm-wlm is not installed"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return f"sinfo failed: {error}"
    states = out.stdout.split()
    if out.returncode != 0 or not {"idle", "mixed", "allocated"} & set(states):
        return f"no node is up (sinfo: {out.stdout.strip() or out.stderr.strip()})"
    return None


@pytest.fixture(scope="module")
def slurm():
    problem = cluster_problem()
    if problem:
        message = f"{problem}: run scripts/slurm_local_cluster.sh install && scripts/slurm_local_cluster.sh start"
        if os.environ.get("CSKD_SLURM") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def cached_data(subset_data_dir):
    from cskd.data import load_subset

    load_subset("cifar10-jpeg", subset_data_dir, 300, 200)  # the full copy decoded once (where present)
    return subset_data_dir


def submit(suite: Path, results: Path, data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    args = ["run", suite, "--results-dir", results, "--data-dir", data_dir, "--device", "cpu", "--no-progress"]
    return cskd(*args, *SLURM_OPTIONS, *extra, timeout=1800)


def jobs_of(results: Path) -> list[dict]:
    return records.read_all(results / "mini" / "jobs")


def test_slurm_job_arrays_train_the_suite_students_after_their_teacher(tmp_path, slurm, cached_data):
    suite = write_suite(tmp_path)  # two seeds: two teacher-free groups, then two student groups, each pair an array
    result = submit(suite, tmp_path, cached_data, "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    table = rows(tmp_path)
    assert len(table) == 5 and table["run_id"].is_unique and (table["status"] == "ok").all()
    teacher = table[table["kind"] == "teacher"].iloc[0]
    jobs = jobs_of(tmp_path)
    trains_teacher = next(job for job in jobs if teacher["run_id"] in {run["run_id"] for run in job["runs"]})
    students = [job for job in jobs if job["teacher_run"] == teacher["run_id"]]
    assert len(jobs) == 4 and len(students) == 2 and all("_" in str(job["job_id"]) for job in jobs)  # arrays
    for job in students:
        assert job["depends_on"] == trains_teacher["job_id"]
        assert job["started_at"] >= teacher["finished_at"]  # SLURM held it until the teacher's job had ended
    assert all(job["outcome"] == "ok" and job["attempts"] == 1 for job in jobs)
    status = cskd("status", suite, "--results-dir", tmp_path)
    assert "totals: 5 done, 0 running, 0 queued, 0 failed, 0 to do" in status.stdout, status.stdout


def test_a_cancelled_slurm_job_resumes_on_resubmission(tmp_path, slurm, cached_data):
    # long enough that the cancel lands mid-training (the status call before it takes seconds)
    suite = write_suite(tmp_path, seeds=[0], recipe={**SUITE["recipe"], "epochs": 20, "milestones": [10]})
    teacher = next(r for r in expand(load_suite(suite)).runs if r.kind == "teacher")
    result = submit(suite, tmp_path, cached_data)
    assert result.returncode == 0 and "2 job(s) submitted to SLURM" in result.stdout, result.stdout + result.stderr
    first = next(job for job in jobs_of(tmp_path) if job["teacher_run"] is None)
    epochs = tmp_path / "mini" / "epochs" / f"{teacher.run_id}.csv"
    deadline = time.time() + 900
    while time.time() < deadline and not (epochs.exists() and len(pd.read_csv(epochs)) >= 1):
        time.sleep(0.2)
    status = cskd("status", suite, "--results-dir", tmp_path).stdout
    line = next(line for line in status.splitlines() if teacher.run_id in line)
    assert line.split()[0] == "running" and f"slurm job {first['job_id']} on " in line, status
    assert "queued" in status and "Dependency" in status  # the students wait for the teacher's job
    subprocess.run(["scancel", str(first["job_id"])], check=True)
    ids = {str(job["job_id"]) for job in jobs_of(tmp_path)}
    while time.time() < deadline and ids & set(records.squeue() or {}):  # the students' job is cancelled too
        time.sleep(0.5)
    assert not ids & set(records.squeue() or {}), "the jobs are still queued or running after scancel"
    before = pd.read_csv(epochs)
    assert 1 <= len(before) < 20
    status = cskd("status", suite, "--results-dir", tmp_path).stdout
    line = next(line for line in status.splitlines() if teacher.run_id in line)
    killed_words = "ended without finishing" in line or "ended early" in line
    assert line.split()[0] == "failed" and killed_words and first["stderr"] in line, status

    again = submit(suite, tmp_path, cached_data, "--wait")
    assert again.returncode == 0, again.stdout + again.stderr
    table = rows(tmp_path)
    assert len(table) == 3 and table["run_id"].is_unique and (table["status"] == "ok").all()
    after = pd.read_csv(epochs)
    assert list(after["epoch"]) == list(range(1, 21))
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)  # resumed, not restarted


def test_a_preempted_slurm_job_checkpoints_requeues_itself_and_resumes_from_its_last_epoch(
    tmp_path, slurm, cached_data
):
    # SLURM's preemption as submitit's own test hook sends it (SlurmJob._interrupt): SIGTERM, which the job rides out,
    # then the USR2 that submitit asks SLURM for before a time limit; the job checkpoints and `scontrol requeue`s itself
    recipe = {**SUITE["recipe"], "epochs": 4, "milestones": [3]}
    suite = write_suite(tmp_path, seeds=[0], methods={"CE": {"method": "ce"}}, recipe=recipe)
    result = submit(suite, tmp_path, cached_data)
    assert result.returncode == 0 and "1 job(s) submitted to SLURM" in result.stdout, result.stdout + result.stderr
    (job,) = jobs_of(tmp_path)
    job_id, run_ids = str(job["job_id"]), sorted(run["run_id"] for run in job["runs"])
    epochs = [tmp_path / "mini" / "epochs" / f"{run_id}.csv" for run_id in run_ids]
    deadline = time.time() + 600
    while time.time() < deadline and not all(path.exists() and len(pd.read_csv(path)) >= 1 for path in epochs):
        time.sleep(0.2)
    subprocess.run(["scancel", "--signal=TERM", job_id], check=True)
    time.sleep(1)
    assert (records.squeue() or {}).get(job_id) is not None, "SIGTERM alone ended the job"
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    while time.time() < deadline and not jobs_of(tmp_path)[0].get("requeued_at"):
        time.sleep(0.2)
    before = [pd.read_csv(path) for path in epochs]
    assert all(1 <= len(frame) < 4 for frame in before)
    runs_csv = tmp_path / "mini" / "runs.csv"
    assert not runs_csv.exists() or not set(run_ids) & set(rows(tmp_path)["run_id"])  # nothing recorded for them

    # SLURM holds a requeued job back for a while (BeginTime); let it start at once
    queued = lambda: getattr((records.squeue() or {}).get(job_id), "state", "") == "PENDING"  # noqa: E731
    while time.time() < deadline and not queued() and jobs_of(tmp_path)[0].get("attempts") == 1:
        time.sleep(0.2)
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], capture_output=True)
    while time.time() < deadline and job_id in (records.squeue() or {}):  # requeued under the same id, then done
        time.sleep(0.5)
    (job,) = jobs_of(tmp_path)
    assert job["requeued_at"] and job["attempts"] == 2 and job["outcome"] == "ok", job
    table = rows(tmp_path)
    assert list(table["run_id"]) == run_ids and (table["status"] == "ok").all()
    for path, frame in zip(epochs, before, strict=True):
        after = pd.read_csv(path)
        assert list(after["epoch"]) == list(range(1, 5))
        # resumed, not retrained: the finished epochs' rows, wall-clock seconds included, are those written before
        pd.testing.assert_frame_equal(after.iloc[: len(frame)], frame)
