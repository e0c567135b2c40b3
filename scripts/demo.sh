#!/usr/bin/env bash
# The main job on a fresh machine: makes .venv (Python 3.10-3.12, 3.11 preferred; set PYTHON to
# choose), installs this checkout, reproduces the paper's pipeline on the synthetic demo data
# (offline, CPU is enough) and builds the book that reports it. Arguments go to `reproduce`.
#   bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/_venv.sh
make_venv ""

.venv/bin/sadutils reproduce --profile demo "$@"
.venv/bin/jupyter-book build book -W -n --keep-going

# jupyter-book writes next to the _config.yml it finds (the repository root), else into book/.
for html in _build/html/index.html book/_build/html/index.html; do
    if [ -f "$html" ]; then
        echo "The book is ready: open $(pwd)/$html in a browser."
        exit 0
    fi
done
echo "scripts/demo.sh: the book build finished but no index.html was found under _build/html" >&2
exit 1
