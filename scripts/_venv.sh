# Sourced by scripts/demo.sh and scripts/test.sh: makes .venv (Python 3.10-3.12, 3.11 preferred;
# set PYTHON to choose) unless it exists, then installs this checkout with the extras in $1.
# On Linux x86_64 with CPython 3.11 the exact locked versions are installed first
# (requirements/lock-linux-py311.txt, hashes checked; regenerate with scripts/lock.sh);
# elsewhere pip resolves the ranges of pyproject.toml and says so.
LOCK=requirements/lock-linux-py311.txt

make_venv() {
    local extras="$1" candidate py=""
    if [ ! -x .venv/bin/python ]; then
        for candidate in "${PYTHON:-}" python3.11 python3.12 python3.10 python3; do
            if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
                'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; then
                py="$candidate"
                break
            fi
        done
        if [ -z "$py" ]; then
            echo "$0: need Python 3.10, 3.11 or 3.12 (python3.11 preferred); set PYTHON=/path/to/python" >&2
            exit 1
        fi
        echo "creating .venv with $("$py" --version 2>&1)"
        "$py" -m venv .venv
    fi
    local pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
    if [ -f "$LOCK" ] && .venv/bin/python -c 'import platform, sys; sys.exit(not (
            sys.version_info[:2] == (3, 11) and platform.system() == "Linux"
            and platform.machine() == "x86_64"))'; then
        echo "installing the locked versions ($LOCK) and sadutils${extras} into .venv (first time: several minutes)"
        "${pip[@]}" --require-hashes -r "$LOCK"
        "${pip[@]}" --no-deps -e ".${extras}"
    else
        echo "no lock for this Python/platform: installing sadutils${extras} from the ranges in pyproject.toml"
        "${pip[@]}" -e ".${extras}"
    fi
    # Kernels that a bare papermill or jupyter-book starts: no "TCP without encryption" warning
    # (see sadutils/runner/kernel.py).
    .venv/bin/python -c 'from sadutils.runner.kernel import install_kernel_config as i; i()'
}

# Snakemake and its SLURM plugin (`sadutils reproduce --executor slurm|snakemake`) in a tool
# environment of their own, .venv-snakemake, from requirements/lock-snakemake-linux-py311.txt
# (hashes checked; regenerate with scripts/lock.sh): their requirements pin packaging<26 and
# SQLAlchemy<2.1, which the companion's own lock keeps newer. Needs Python >= 3.11.
SNAKEMAKE_LOCK=requirements/lock-snakemake-linux-py311.txt

make_snakemake_venv() {
    local candidate py=""
    if [ ! -x .venv-snakemake/bin/snakemake ]; then
        for candidate in "${PYTHON:-}" python3.11 python3.12 python3; do
            if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
                'import sys; sys.exit(not sys.version_info[:2] >= (3, 11))' 2>/dev/null; then
                py="$candidate"
                break
            fi
        done
        if [ -z "$py" ]; then
            echo "$0: Snakemake needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
            exit 1
        fi
        echo "creating .venv-snakemake with $("$py" --version 2>&1)"
        "$py" -m venv .venv-snakemake
    fi
    local pip=(.venv-snakemake/bin/python -m pip install --quiet --disable-pip-version-check)
    if .venv-snakemake/bin/python -c 'import platform, sys; sys.exit(not (
            sys.version_info[:2] == (3, 11) and platform.system() == "Linux"
            and platform.machine() == "x86_64"))'; then
        echo "installing Snakemake and its SLURM plugin ($SNAKEMAKE_LOCK) into .venv-snakemake"
        "${pip[@]}" --require-hashes -r "$SNAKEMAKE_LOCK"
    else
        echo "no Snakemake lock for this Python/platform: installing the ranges of requirements/snakemake.in"
        "${pip[@]}" -r requirements/snakemake.in
    fi
}
