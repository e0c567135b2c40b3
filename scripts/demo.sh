#!/usr/bin/env bash
# The main job on a fresh machine: makes .venv (Python 3.10-3.12, 3.11 preferred; set PYTHON to
# choose), installs this checkout, reproduces the paper's pipeline on the synthetic demo data
# (offline, CPU is enough) and builds the book that reports it. Arguments go to `reproduce`
# (e.g. --force, --only 03_train; --verbose also shows the book build's messages).
#   bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/_venv.sh
make_venv ""

# One notebook run per core at a time, at most 4 (a kernel holds 1-2 GB): each kernel computes
# with one thread (so that the numbers do not depend on the machine's core count), and the
# cores are used by running several at once. Later arguments win (e.g. --jobs 1).
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 4 ] && jobs=4
[ "$jobs" -lt 2 ] && jobs=2
.venv/bin/sadutils reproduce --profile demo --jobs "$jobs" "$@"

# The book build's own messages (Sphinx, the pages' kernels) go to a log file, shown only when
# the build fails or with --verbose.
verbose=""
for arg in "$@"; do
    case "$arg" in -v|--verbose) verbose=1 ;; esac
done
log="${SADUTILS_RESULTS:-results}/demo/logs/book.log"
mkdir -p "$(dirname "$log")"
echo "book: building (jupyter-book build book -W -n --keep-going; its messages: $log) ..."
start=$(date +%s)
status=0
if [ -n "$verbose" ]; then
    .venv/bin/jupyter-book build book -W -n --keep-going 2>&1 | tee "$log" || status=$?
else
    .venv/bin/jupyter-book build book -W -n --keep-going >"$log" 2>&1 || status=$?
fi
if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "scripts/demo.sh: the book build failed (status $status); its messages: $log" >&2
    exit 1
fi

# jupyter-book writes next to the _config.yml it finds (the repository root), else into book/.
for html in _build/html/index.html book/_build/html/index.html; do
    if [ -f "$html" ]; then
        echo "book: built in $(( $(date +%s) - start )) s. Open $(pwd)/$html in a browser."
        exit 0
    fi
done
echo "scripts/demo.sh: the book build finished but no index.html was found under _build/html" >&2
exit 1
