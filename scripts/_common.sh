# Shared helpers of scripts/test.sh and scripts/run_main.sh (sourced, not run).
# Needs only: bash, Python >= 3.10 with venv and pip, and a Rust toolchain (cargo).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Both scripts run unattended (CI has no standard input).
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export CARGO_TERM_PROGRESS_WHEN=never
# Fresh CI builds: incremental compilation only costs time there.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Python to build venvs with: $PYTHON, else python3, else python; 3.10 or newer.
find_python() {
    local cand
    for cand in "${PYTHON:-}" python3 python; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            PYTHON="$(command -v "$cand")"
            return 0
        fi
    done
    die "no Python 3.10+ with the venv module found (set PYTHON=/path/to/python)"
}

require_cargo() {
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found: install a Rust toolchain (https://rustup.rs) and retry"
}

# venv_bin DIR: where a venv keeps its executables (bin/ or Scripts/ on Windows).
venv_bin() {
    if [ -d "$1/Scripts" ] && [ ! -d "$1/bin" ]; then echo "$1/Scripts"; else echo "$1/bin"; fi
}

# new_venv DIR: a brand-new virtual environment at DIR (any old one is removed).
new_venv() {
    rm -rf "$1"
    "$PYTHON" -m venv "$1"
}

# Seconds since the epoch (for stage timings).
now() { date +%s; }
