#!/usr/bin/env bash
# `sadutils reproduce --executor slurm` end to end without a cluster, on fresh clones of this
# checkout (run from CI as root; needs PyPI for the first install only):
#
#   1. the demo graph for one backbone and two seeds (`--backbones efficientnetv2b0 --seeds
#      2`: 13 runs, the text ablation's 5 included) goes through Snakemake and its SLURM plugin to stand-in SLURM commands
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
#      request run locally (`--executor local --jobs 2`, another clone, same data). With
#      `--against RESULTS` (the results root of a demo run of this checkout made by
#      scripts/demo.sh, e.g. `results`), no second run: the records of the models both runs
#      trained (text classifier, filter, EfficientNetV2B0 seeds 1234 and 1235, the no-pretrain
#      Xceptions of those seeds) must hold the same metrics instead (half the time);
#   5. a second `reproduce --executor slurm` submits nothing.
# First, tests/runner/test_cluster.py runs with Snakemake required (its Snakefile test).
#
# Why stand-ins and not Debian's slurm-wlm: the plugin reads job states with sacct, which
# needs slurmdbd and a MariaDB server besides slurmctld, slurmd and munge; the stand-ins check
# the same command lines without four daemons to start in CI.
#   bash .ci/check_slurm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
against=""
if [ "${1:-}" = "--against" ]; then
    against=$(cd "$2" && pwd)
fi
export PYTHON="${PYTHON:-python3.11}" MPLBACKEND=Agg
source scripts/_venv.sh
[ -x .venv/bin/sadutils ] || make_venv ""
make_snakemake_venv
start=$(date +%s)

# The unit tests of the cluster path, now with Snakemake installed: the one that has Snakemake
# read the derived Snakefile skips without it in the README's test command, and must not here.
SADUTILS_REQUIRE_SNAKEMAKE=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/runner/test_cluster.py

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
FAKE_SLURM_PREEMPT="03_train-efficientnetv2b0-seed1235@$work/results-slurm/demo/runs/efficientnetv2b0-seed1235/backup/checkpoint.json" \
    in_clone slurm results-slurm "$root/.venv/bin/sadutils" reproduce --executor slurm "${request[@]}" \
    --cluster-profile "$work/profile" | tee "$work/first.txt"
slurm_s=$(( $(date +%s) - start ))

t=$(date +%s)
if [ -z "$against" ]; then
    echo "=== check_slurm: the same request, local executor, --jobs 2"
    in_clone local results-local "$root/.venv/bin/sadutils" reproduce --jobs 2 "${request[@]}" > "$work/local.txt"
fi
local_s=$(( $(date +%s) - t ))

echo "=== check_slurm: reproduce --executor slurm again: nothing to submit"
in_clone slurm results-slurm "$root/.venv/bin/sadutils" reproduce --executor slurm "${request[@]}" \
    --cluster-profile "$work/profile" | tee "$work/second.txt"

in_clone slurm results-slurm "$root/.venv/bin/sadutils" tables --format csv > "$work/tables-slurm.csv"
if [ -z "$against" ]; then
    in_clone local results-local "$root/.venv/bin/sadutils" tables --format csv > "$work/tables-local.csv"
fi

"$root/.venv/bin/python" .ci/slurm/verify.py "$work" "$against"
echo "check_slurm: passed (slurm run ${slurm_s} s, local run ${local_s} s, all $(( $(date +%s) - start )) s)"
rm -rf "$work"
