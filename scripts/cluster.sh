#!/usr/bin/env bash
# Installs what `sadutils reproduce --executor slurm` needs on a cluster's login node (or any
# machine): the companion's .venv (as scripts/demo.sh makes it) and Snakemake with its SLURM
# plugin in .venv-snakemake. Then:
#   .venv/bin/sadutils reproduce --executor slurm --dry-run --profile paper   # what would run
#   .venv/bin/sadutils reproduce --executor slurm --profile paper             # submit
#   bash scripts/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/_venv.sh
make_venv ""
make_snakemake_venv
echo "ready: $(.venv-snakemake/bin/snakemake --version) (Snakemake) in .venv-snakemake; edit profiles/slurm/config.yaml for your cluster"
