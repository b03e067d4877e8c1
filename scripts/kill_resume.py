"""A kill at any instant (issue #14 §2): SIGKILLs rank 0 of a running job, as a power cut does, at
random moments, then finishes the run with --resume and compares it bit for bit with an
uninterrupted run (scripts/same-bits.py: every table, attribute and saved tree but times, hosts
and ranks). Prints one row per kill and exits 1 if any resumed run differs or fails.

Usage: python kill_resume.py BINARY WORKDIR KILLS SEED   (run through scripts/kill-resume)
"""

import os
import random
import re
import signal
import subprocess
import sys
import time

BINARY, WORK, KILLS, SEED = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
HERE = os.path.dirname(os.path.abspath(__file__))
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2"]

# Each job runs in a folder of its own, reference and killed runs under the same file names (the
# result names its model file).
JOBS = {
    # 36 tasks of SVC fits (scripts/run-local's grid search on 8000 rows), with the refit.
    "gridsearch": ("gridsearch", "jobs/quick-svc.toml", {"n_samples = 4000": "n_samples = 8000"}, False),
    # 2000 trees in blocks, the model saved tree by tree as blocks arrive.
    "forest": ("forest", "jobs/small-forest.toml", {"n_estimators = 200": "n_estimators = 2000"}, True),
}


def command(job, resume):
    kind, path, _, save_model = JOBS[job]
    args = [os.path.abspath(BINARY), kind, f"{job}.toml", "--out", f"{job}.h5"]
    if save_model:
        args += ["--save-model", f"{job}-model.h5"]
    return MPIRUN + args + (["--resume"] if resume else [])


def folder(job, run):
    return f"{WORK}/{run}/{job}"


def prepare(job):
    _, path, changes, _ = JOBS[job]
    text = open(path).read()
    for old, new in changes.items():
        text = text.replace(old, new)
    for run in ["reference", "killed"]:
        os.makedirs(folder(job, run), exist_ok=True)
        with open(f"{folder(job, run)}/{job}.toml", "w") as f:
            f.write(text)


def rank0_of(mpirun_pid):
    """The pid of rank 0 among mpirun's children, once it has started."""
    for child in children(mpirun_pid):
        try:
            with open(f"/proc/{child}/environ", "rb") as f:
                if b"OMPI_COMM_WORLD_RANK=0\0" in f.read():
                    return child
        except OSError:
            pass
    return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def clear(job, run):
    for file in os.listdir(folder(job, run)):
        if not file.endswith(".toml"):
            os.remove(f"{folder(job, run)}/{file}")


def same(expected, got):
    result = subprocess.run([sys.executable, f"{HERE}/same-bits.py", expected, got], capture_output=True, text=True)
    return result.returncode == 0, result.stdout.strip().splitlines()[:3]


def uninterrupted(job):
    prepare(job)
    start = time.monotonic()
    subprocess.run(command(job, False) + ["--quiet"], check=True, cwd=folder(job, "reference"))
    return time.monotonic() - start


def kill_once(job, at):
    """Starts the job, SIGKILLs rank 0 `at` seconds in, resumes; None if it finished first."""
    clear(job, "killed")
    here = folder(job, "killed")
    start = time.monotonic()
    run = subprocess.Popen(command(job, False) + ["--quiet"], stderr=subprocess.DEVNULL, cwd=here)
    rank0 = None
    while time.monotonic() - start < at:
        rank0 = rank0_of(run.pid) or rank0
        if run.poll() is not None:
            return None
        time.sleep(0.005)
    rank0 = rank0_of(run.pid) or rank0
    if rank0 is None or run.poll() is not None:
        run.wait()
        return None
    os.kill(rank0, signal.SIGKILL)
    killed = time.monotonic()
    try:
        run.wait(timeout=30)
        ended = f"{time.monotonic() - killed:.1f}"
    except subprocess.TimeoutExpired:
        run.kill()
        ended = "HUNG"
    resumed = subprocess.run(command(job, True), capture_output=True, text=True, timeout=300, cwd=here)
    note = re.search(r"resuming from the task log .*: (\d+) of (\d+) tasks recorded(; cut off a torn)?", resumed.stderr)
    logged = f"{note.group(1)}/{note.group(2)}" if note else "no log"
    torn = "yes" if note and note.group(3) else "no"
    phase = "start" if not note else "tasks" if note.group(1) != note.group(2) else "finish"
    reference = folder(job, "reference")
    identical, problems = same(f"{reference}/{job}.h5", f"{here}/{job}.h5")
    if JOBS[job][3]:
        model_same, model_problems = same(f"{reference}/{job}-model.h5", f"{here}/{job}-model.h5")
        identical, problems = identical and model_same, problems + model_problems
    return dict(at=at, phase=phase, logged=logged, torn=torn, ended=ended, rc=resumed.returncode,
                identical=identical and resumed.returncode == 0, problems=problems,
                stderr=resumed.stderr.strip().splitlines()[-3:])


def main():
    rng = random.Random(SEED)
    reference = {job: uninterrupted(job) for job in JOBS}
    for job, seconds in reference.items():
        print(f"uninterrupted {job}: {seconds:.1f} s")
    print(f"{'kill':>4}  {'job':<10} {'at (s)':>7} {'of run':>6}  {'phase':<6}  {'logged':>7}  {'torn':<4}  {'ranks ended (s)':>15}  {'resume':>6}  identical")
    failures = 0
    for k in range(KILLS):
        job = list(JOBS)[k % len(JOBS)]
        while True:
            at = rng.uniform(0.05, 1.05) * reference[job]
            row = kill_once(job, at)
            if row is not None:
                break
        ok = row["identical"] and row["ended"] != "HUNG"
        failures += not ok
        print(f"{k + 1:>4}  {job:<10} {at:>7.2f} {at / reference[job]:>6.0%}  {row['phase']:<6}  {row['logged']:>7}  {row['torn']:<4}  {row['ended']:>15}  {'rc ' + str(row['rc']):>6}  {'yes' if ok else 'NO'}", flush=True)
        if not ok:
            for line in row["problems"] + row["stderr"]:
                print(f"      {line}")
    print(f"{KILLS - failures} of {KILLS} kills resumed identically")
    sys.exit(1 if failures else 0)


main()
