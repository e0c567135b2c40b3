#!/usr/bin/env bash
# The test suite on a fresh machine: makes .venv (Python 3.10-3.12, 3.11 preferred; set PYTHON
# to choose), installs this checkout with its test extra, runs pytest. Arguments go to pytest.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k demo    # a subset
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/_venv.sh
make_venv "[test]"
.venv/bin/python -m pytest -q "$@"
