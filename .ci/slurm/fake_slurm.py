#!/usr/bin/env python3
"""Stand-in SLURM commands for .ci/check_slurm.sh: sbatch, squeue, sacct, sacctmgr, sshare,
scontrol, sinfo, srun and scancel, as snakemake-executor-plugin-slurm calls them, on one
machine.

Installed as links named after each command (``.ci/check_slurm.sh`` makes them); the name a
link is called by says which command it is. Every call is appended to
``$FAKE_SLURM_DIR/calls.jsonl`` (command, arguments, stdin, job); a call with an option this
stand-in does not know is refused (status 1) and logged as refused, so the check sees every
call and fails on any it did not foresee. ``sbatch`` starts the job's script in the background
(with ``SLURM_JOB_ID``, ``SLURM_CPUS_PER_TASK`` and ``SLURM_GPUS`` set, its output in
``--output``) and records its state (PENDING, RUNNING, COMPLETED, FAILED, PREEMPTED) in
``$FAKE_SLURM_DIR/jobs/<id>.json``, which ``sacct`` and ``squeue`` report.

``FAKE_SLURM_PREEMPT=<comment substring>@<glob>``: the first job whose ``--comment`` contains
the substring is preempted as soon as a file matches the glob (e.g. its first training
checkpoint): every process of the job gets SIGTERM, then SIGKILL, as SLURM ends a job's
processes, and the job is reported PREEMPTED. A job submitted with ``--requeue`` is then put
back in the queue as SLURM does (same id, PENDING, its script run again from the start with
``SLURM_RESTART_COUNT=1``, its output appended); without it, it stays PREEMPTED.
"""
from __future__ import annotations

import fcntl
import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STATE = Path(os.environ.get("FAKE_SLURM_DIR", "/tmp/fake-slurm"))
ACCOUNT = os.environ.get("FAKE_SLURM_ACCOUNT", "sadness")
#: sbatch options that take a value, and those that do not.
SBATCH_VALUE = {"--job-name", "--output", "--comment", "-A", "--account", "-p", "--partition",
                "-t", "--time", "--mem", "--mem-per-cpu", "--cpus-per-task", "--ntasks",
                "--gpus", "-D", "--chdir", "--qos", "-C", "--nodes", "--gres", "--wrap",
                "--ntasks-per-gpu", "--cpus-per-gpu", "--exclude", "--clusters"}
SBATCH_FLAG = {"--parsable", "--export=ALL", "--requeue", "--no-requeue"}


def log_call(command: str, argv: list, refused: str | None = None, **extra) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    entry = {"command": command, "argv": argv, "time": time.time(), **extra}
    if refused:
        entry["refused"] = refused
    with open(STATE / "calls.jsonl", "a") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(entry) + "\n")


def refuse(command: str, argv: list, why: str) -> int:
    log_call(command, argv, refused=why)
    print(f"{command}: error: {why}", file=sys.stderr)
    return 1


def parse(argv: list, value_options: set, flags: set) -> tuple[dict, list] | str:
    """Options (``--x=v``, ``--x v``, ``-x v``) and the rest; a text saying what is wrong."""
    options, rest, i = {}, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg in flags:
            options[arg] = True
        elif "=" in arg and arg.split("=", 1)[0] in value_options:
            name, value = arg.split("=", 1)
            options[name] = value
        elif arg[:2] in value_options and len(arg) > 2 and not arg.startswith("--"):
            options[arg[:2]] = arg[2:]  # -n1, -c4
        elif arg in value_options:
            if i + 1 >= len(argv):
                return f"option {arg} needs a value"
            options[arg] = argv[i + 1]
            i += 1
        elif arg.startswith("-"):
            return f"unknown option {arg}"
        else:
            rest = argv[i:]
            break
        i += 1
    return options, rest


def jobs_dir() -> Path:
    path = STATE / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def next_id() -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "counter", "a+") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        handle.seek(0)
        number = int(handle.read() or 1000) + 1
        handle.seek(0)
        handle.truncate()
        handle.write(str(number))
    return number


def write_job(job: dict) -> None:
    path = jobs_dir() / f"{job['id']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(job))
    tmp.replace(path)


def read_jobs() -> list[dict]:
    jobs = []
    for path in sorted(jobs_dir().glob("*.json")):
        try:
            jobs.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return jobs


def sbatch(argv: list) -> int:
    parsed = parse(argv, SBATCH_VALUE, SBATCH_FLAG)
    if isinstance(parsed, str):
        return refuse("sbatch", argv, parsed)
    options, rest = parsed
    for needed in ("--parsable", "--job-name", "--output"):
        if needed not in options:
            return refuse("sbatch", argv, f"expected {needed}")
    stdin = None
    if "--wrap" in options:
        script = "#!/bin/sh\n" + options["--wrap"]
    elif rest == ["/dev/stdin"]:
        stdin = script = sys.stdin.read()
    else:
        return refuse("sbatch", argv, f"expected --wrap or /dev/stdin, got {rest}")
    number = next_id()
    job = {"id": number, "name": options["--job-name"], "comment": options.get("--comment", ""),
           "state": "PENDING", "options": options, "submitted": time.time()}
    write_job(job)
    log_call("sbatch", argv, stdin=stdin, job=number)
    output = Path(options["--output"].replace("%j", str(number)))
    output.parent.mkdir(parents=True, exist_ok=True)
    workdir = options.get("-D", options.get("--chdir", os.getcwd()))
    script_file = jobs_dir() / f"{number}.sh"
    script_file.write_text(script)
    # The job runs detached from this call (sbatch returns at once), under a small supervisor:
    # this same file called as `fake-slurm-job`.
    subprocess.Popen([sys.executable, os.path.abspath(__file__), "--run-job", str(number),
                      str(script_file), str(output), workdir],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
    print(number)
    return 0


def run_job(number: str, script: str, output: str, workdir: str) -> int:
    job = json.loads((jobs_dir() / f"{number}.json").read_text())
    env = dict(os.environ, SLURM_JOB_ID=number, SLURM_JOBID=number,
               SLURM_CPUS_PER_TASK=str(job["options"].get("--cpus-per-task", 1)),
               SLURM_JOB_NAME=job["name"])
    if job["options"].get("--gpus"):
        env["SLURM_GPUS"] = job["options"]["--gpus"]
    target, _, pattern = os.environ.get("FAKE_SLURM_PREEMPT", "").partition("@")
    marker = STATE / "preempted-once"
    will_preempt = bool(target) and target in job["comment"] and not marker.exists()
    if will_preempt:
        marker.write_text(str(number))
    restarts = 0
    while True:
        job["state"], job["started"], job["restarts"] = "RUNNING", time.time(), restarts
        with open(output, "a") as out:
            process = subprocess.Popen(["sh", script], cwd=workdir,
                                       env=dict(env, SLURM_RESTART_COUNT=str(restarts)),
                                       stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            job["pid"] = process.pid
            write_job(job)
            preempted = False
            while will_preempt and process.poll() is None:
                if glob.glob(pattern):
                    kill_tree(process.pid)
                    preempted = True
                    break
                time.sleep(0.2)
            code = process.wait()
        will_preempt = False
        job = {**json.loads((jobs_dir() / f"{number}.json").read_text()), "exit_code": code}
        if job["state"] == "CANCELLED":
            return 0
        if preempted:
            job["state"], job["preempted_at"] = "PREEMPTED", time.time()
            write_job(job)
            if not job["options"].get("--requeue"):
                return 0
            time.sleep(5)  # long enough for a status check to see it preempted
            job["state"] = "PENDING"
            write_job(job)
            restarts += 1
            continue
        job["state"] = "COMPLETED" if code == 0 else "FAILED"
        job["ended"] = time.time()
        write_job(job)
        return 0


def kill_tree(pid: int) -> None:
    """SIGTERM to a process and all its descendants (kernels start sessions of their own),
    then SIGKILL to those left after 10 s."""
    def descendants() -> list[int]:
        children: dict[int, list[int]] = {}
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
        found, todo = [], [pid]
        while todo:
            current = todo.pop()
            found.append(current)
            todo += children.get(current, [])
        return found

    pids = descendants()  # before any dies: orphans are adopted by init, out of sight
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for each in pids:
            try:
                os.kill(each, sig)
            except OSError:
                pass
        if sig == signal.SIGTERM:
            time.sleep(10)


def sacct(argv: list) -> int:
    log_call("sacct", argv)
    text = " ".join(argv)
    if "-o Account" in text or "--format=Account" in text:
        print(ACCOUNT)
        return 0
    if "nodelist" in text:
        print("localhost")
        return 0
    if "--format=Reason" in argv:  # why a failed job's steps ended
        print("None")
        return 0
    if "--name" not in argv or "--parsable2" not in argv:
        return refuse("sacct", argv, "expected --parsable2 --name RUNID")
    name = argv[argv.index("--name") + 1]
    for job in read_jobs():
        if job["name"] == name:
            print(f"{job['id']}|{job['state']}")
    return 0


def squeue(argv: list) -> int:
    log_call("squeue", argv)
    if "--name" not in argv:
        return refuse("squeue", argv, "expected --name RUNID")
    name = argv[argv.index("--name") + 1]
    for job in read_jobs():
        if job["name"] == name:
            print(f"{job['id']}|{job['state']}")
    return 0


def sacctmgr(argv: list) -> int:
    log_call("sacctmgr", argv)
    print(ACCOUNT)
    return 0


def sshare(argv: list) -> int:
    log_call("sshare", argv)
    print(ACCOUNT)
    return 0


def scontrol(argv: list) -> int:
    log_call("scontrol", argv)
    if argv[:2] == ["show", "config"]:
        print("MinJobAge               = 300 sec")
        return 0
    return refuse("scontrol", argv, "only `scontrol show config` is known")


def sinfo(argv: list) -> int:
    log_call("sinfo", argv)
    print("PARTITION AVAIL TIMELIMIT NODES STATE NODELIST\ncpu* up infinite 1 idle localhost")
    return 0


def srun(argv: list) -> int:
    parsed = parse(argv, {"-n", "--cpu-bind", "--cpus-per-task", "--gpus", "--nodes", "-c",
                          "--mem", "--ntasks"}, set())
    if isinstance(parsed, str):
        return refuse("srun", argv, parsed)
    options, rest = parsed
    if not rest:
        return refuse("srun", argv, "no command")
    if "SLURM_JOB_ID" not in os.environ:
        return refuse("srun", argv, "srun outside a job")
    log_call("srun", argv, job=os.environ["SLURM_JOB_ID"])
    return subprocess.call(rest)


def scancel(argv: list) -> int:
    ids = [a for a in argv if not a.startswith("-")]
    if not ids or any(not a.isdigit() for a in ids):
        return refuse("scancel", argv, "expected job ids")
    log_call("scancel", argv)
    for number in ids:
        path = jobs_dir() / f"{number}.json"
        if not path.is_file():
            continue
        job = json.loads(path.read_text())
        if job["state"] in ("PENDING", "RUNNING"):
            job["state"] = "CANCELLED"
            write_job(job)
            if job.get("pid"):
                kill_tree(job["pid"])
    return 0


COMMANDS = {"sbatch": sbatch, "scancel": scancel, "sacct": sacct, "squeue": squeue,
            "sacctmgr": sacctmgr,
            "sshare": sshare, "scontrol": scontrol, "sinfo": sinfo, "srun": srun}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--run-job":
        return run_job(*sys.argv[2:6])
    name = Path(sys.argv[0]).name
    if name not in COMMANDS:
        print(f"fake_slurm.py: call me through a link named one of {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    # The plugin quotes with shlex; arguments arrive as the shell split them.
    argv = sys.argv[1:]
    return COMMANDS[name](argv)


if __name__ == "__main__":
    sys.exit(main())
