#!/usr/bin/env bash
# The test suite on a fresh machine: makes .venv (Python 3.10-3.12, 3.11 preferred; set PYTHON
# to choose), installs this checkout with its test extra, runs pytest with one worker process
# per CPU core, at most 4 (pytest-xdist; SADUTILS_TEST_WORKERS=N chooses, 0 runs in this
# process). Arguments go to pytest.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k demo    # a subset
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/_venv.sh
make_venv "[test]"
workers="${SADUTILS_TEST_WORKERS:-$(nproc 2>/dev/null || echo 1)}"
[ "$workers" -gt 4 ] && workers=4
[ "$workers" -le 1 ] && workers=0  # one core: no worker processes, the tests run here
# loadfile: a test file's tests run in one worker, so a file's module-scoped fixtures (a
# trained model shared by several tests) are made once.
.venv/bin/python -m pytest -q -n "$workers" --dist loadfile "$@"
