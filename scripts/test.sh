#!/usr/bin/env bash
# The test suite on a fresh machine: makes .venv (Python 3.10-3.12, 3.11 preferred; set PYTHON
# to choose), installs this checkout with its test extra, runs pytest. Arguments go to pytest.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k demo    # a subset
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.10 python3; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
            'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; then
            PY="$candidate"
            break
        fi
    done
    if [ -z "${PY:-}" ]; then
        echo "scripts/test.sh: need Python 3.10, 3.11 or 3.12 (python3.11 preferred); set PYTHON=/path/to/python" >&2
        exit 1
    fi
    echo "creating .venv with $("$PY" --version 2>&1)"
    "$PY" -m venv .venv
fi
echo "installing sadutils and its test dependencies into .venv (first time: several minutes)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/python -m pytest -q "$@"
