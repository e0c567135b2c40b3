#!/usr/bin/env bash
# Regenerate requirements/lock-linux-py311.txt, the exact versions (with hashes) that
# scripts/demo.sh, scripts/test.sh and CI install on Linux x86_64 with CPython 3.11, from the
# ranges in pyproject.toml (which stay for people installing the package into their own
# environment). Needs network access to PyPI. Run after changing a dependency:
#   bash scripts/lock.sh
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"
if ! command -v "$UV" >/dev/null 2>&1; then
    echo "$0: needs uv (pip install uv), or set UV=/path/to/uv" >&2
    exit 1
fi
"$UV" pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 --no-header --annotation-style line \
    -o requirements/lock-linux-py311.txt
echo "wrote requirements/lock-linux-py311.txt"
# Snakemake and its SLURM plugin: a tool environment of their own (scripts/_venv.sh says why).
"$UV" pip compile requirements/snakemake.in --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 --no-header --annotation-style line \
    -o requirements/lock-snakemake-linux-py311.txt
echo "wrote requirements/lock-snakemake-linux-py311.txt"
