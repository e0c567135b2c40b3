#!/usr/bin/env bash
# `sadutils reproduce --executor slurm` end to end without a cluster, on fresh clones of this
# checkout (run from CI as root; needs PyPI for the first install only):
#
#   1. the demo graph for one backbone and two seeds (`--backbones efficientnetv2b0 --seeds
#      2`: 8 runs) goes through Snakemake and its SLURM plugin to stand-in SLURM commands
#      (.ci/slurm/fake_slurm.py: sbatch, squeue, sacct, sacctmgr, sshare, scontrol, sinfo,
#      srun), which refuse any call they do not know and log every call; the shipped profile
#      profiles/slurm/config.yaml is used as it is, but for the first status check after 2 s
#      instead of 40 (a real cluster's scheduler needs the pause; the stand-in does not);
#   2. one training job (seed 1235) is preempted once as soon as it has written its first
#      checkpoint: SLURM requeues it (the profile's `slurm-requeue: true`, sbatch --requeue;
#      the plugin leaves preempted jobs to SLURM) and it resumes from that epoch;
#   3. every call is checked: one sbatch per run, GPU runs with --gpus=1, the others without,
#      each with a time, memory and CPUs; nothing refused;
#   4. `sadutils tables` shows the row with its 2 seeds, and equals the tables of the same
#      request run locally (`--executor local --jobs 2`, another clone, same data);
#   5. a second `reproduce --executor slurm` submits nothing.
#
# Why stand-ins and not Debian's slurm-wlm: the plugin reads job states with sacct, which
# needs slurmdbd and a MariaDB server besides slurmctld, slurmd and munge; the stand-ins check
# the same command lines without four daemons to start in CI.
#   bash .ci/check_slurm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PYTHON="${PYTHON:-python3.11}" MPLBACKEND=Agg
source scripts/_venv.sh
[ -x .venv/bin/sadutils ] || make_venv ""
make_snakemake_venv
start=$(date +%s)

work=$(mktemp -d)
echo "check_slurm: working in $work"
git clone -q . "$work/slurm"
git clone -q . "$work/local"
mkdir -p "$work/bin" "$work/profile"
for command in sbatch squeue sacct sacctmgr sshare scontrol sinfo srun scancel; do
    ln -s "$root/.ci/slurm/fake_slurm.py" "$work/bin/$command"
done
cp profiles/slurm/config.yaml "$work/profile/config.yaml"
echo "slurm-init-seconds-before-status-checks: 2" >> "$work/profile/config.yaml"

export PATH="$work/bin:$PATH" FAKE_SLURM_DIR="$work/fake" SADUTILS_DATA="$work/data"
export SADUTILS_SNAKEMAKE="$root/.venv-snakemake/bin/snakemake"
request=(--backbones efficientnetv2b0 --seeds 2)
in_clone() {  # in_clone CLONE RESULTS COMMAND...: sadutils of that clone (its notebooks, book/executed)
    local clone=$1 results=$2
    shift 2
    (cd "$work/$clone" && PYTHONPATH="$work/$clone" SADUTILS_RESULTS="$work/$results" "$@")
}

echo "=== check_slurm: reproduce --executor slurm ${request[*]} (one job preempted once)"
FAKE_SLURM_PREEMPT="03_train-efficientnetv2b0-seed1235@$work/results-slurm/demo/runs/*seed1235/backup/checkpoint.json" \
    in_clone slurm results-slurm "$root/.venv/bin/sadutils" reproduce --executor slurm "${request[@]}" \
    --cluster-profile "$work/profile" | tee "$work/first.txt"
slurm_s=$(( $(date +%s) - start ))

echo "=== check_slurm: the same request, local executor, --jobs 2"
t=$(date +%s)
in_clone local results-local "$root/.venv/bin/sadutils" reproduce --jobs 2 "${request[@]}" > "$work/local.txt"
local_s=$(( $(date +%s) - t ))

echo "=== check_slurm: reproduce --executor slurm again: nothing to submit"
in_clone slurm results-slurm "$root/.venv/bin/sadutils" reproduce --executor slurm "${request[@]}" \
    --cluster-profile "$work/profile" | tee "$work/second.txt"

in_clone slurm results-slurm "$root/.venv/bin/sadutils" tables --format csv > "$work/tables-slurm.csv"
in_clone local results-local "$root/.venv/bin/sadutils" tables --format csv > "$work/tables-local.csv"

"$root/.venv/bin/python" - "$work" <<'PY'
import csv, glob, json, sys
from pathlib import Path
work = Path(sys.argv[1])
calls = [json.loads(line) for line in (work / "fake" / "calls.jsonl").read_text().splitlines()]
refused = [c for c in calls if "refused" in c]
assert not refused, f"stand-in SLURM refused calls: {refused}"
sbatch = [c for c in calls if c["command"] == "sbatch"]
jobs = [json.loads(p.read_text()) for p in sorted((work / "fake" / "jobs").glob("*.json"))]
runs = [j["comment"].split("_wildcards_")[1] for j in jobs]
expected = ["01_text_classifier", "02_filtering", "03_train-efficientnetv2b0-seed1234",
            "03_train-efficientnetv2b0-seed1235", "05_no_pretrain-seed1234",
            "05_no_pretrain-seed1235", "04_cross_dataset", "06_analysis"]
completed = [r for r, j in zip(runs, jobs) if j["state"] == "COMPLETED"]
assert sorted(completed) == sorted(expected), runs  # one job per run, each seed its own
# a job that failed (a kernel that did not start in time on a loaded machine) is submitted
# again by Snakemake (`retries`): allowed, and shown
retried = [r for r, j in zip(runs, jobs) if j["state"] == "FAILED"]
assert len(sbatch) == len(jobs) == 8 + len(retried), (len(sbatch), runs)
preempted = [j for j in jobs if j.get("preempted_at")]
assert len(preempted) == 1 and "seed1235" in preempted[0]["comment"], preempted
assert preempted[0]["restarts"] == 1  # requeued by SLURM, same job id
for job in jobs:
    options, run = job["options"], job["comment"].split("_wildcards_")[1]
    gpu = run.split("-")[0] in ("01_text_classifier", "03_train", "05_no_pretrain")
    assert (options.get("--gpus") == "1") == gpu, (run, options)
    assert int(options["-t"]) > 0 and int(options["--mem"]) > 0, (run, options)
    assert int(options["--cpus-per-task"]) >= 1 and options.get("--requeue"), (run, options)
srun = [c for c in calls if c["command"] == "srun"]
assert len(srun) == len(jobs) + 1, len(srun)  # each job's step through srun, the requeued twice
records = [json.loads(Path(p).read_text()) for p in
           glob.glob(str(work / "results-slurm/demo/records/*.json"))]
resumed = [r for r in records if r.get("kind") == "train"
           and (r.get("provenance") or {}).get("seed") == 1235]
assert resumed and resumed[-1]["params"]["resumed_from_epoch"] >= 1, \
    [r["params"].get("resumed_from_epoch") for r in resumed]
second = (work / "second.txt").read_text()
assert second.count("skip (up to date)") == 8 and "queued" not in second, second
slurm = (work / "tables-slurm.csv").read_text()
local = (work / "tables-local.csv").read_text()
assert slurm == local, "tables differ:\n" + slurm + "\n---\n" + local
rows = [r for r in csv.DictReader(slurm.splitlines()) if "EfficientNetV2B0" in str(r)]
print("check_slurm: calls checked:", {c: sum(x["command"] == c for x in calls)
                                      for c in sorted({x["command"] for x in calls})})
print(f"check_slurm: jobs submitted again after a failure: {retried or 'none'}")
print(f"check_slurm: preempted job {preempted[0]['id']} resumed from epoch "
      f"{resumed[-1]['params']['resumed_from_epoch']}; tables equal the local run's "
      f"({len(slurm.splitlines())} lines); the row: {rows[:1]}")
PY
echo "check_slurm: passed (slurm run ${slurm_s} s, local run ${local_s} s, all $(( $(date +%s) - start )) s)"
rm -rf "$work"
