#!/usr/bin/env bash
# The main job, from a fresh clone, with only Python 3.10+ (with pip and venv)
# and a Rust toolchain installed: builds the release wheel, installs it into
# .venv-main and runs `embedrs` with no arguments, which trains word2vec
# vectors on the embedded default corpus (the installed Python standard
# library's docstrings and comments), prints nearest neighbours and writes its
# outputs to ./embedrs_output/.
#
# Usage: bash scripts/run_main.sh [embedrs options...]
#   e.g. bash scripts/run_main.sh --sg 1 --epochs 10 --out my_output
#        bash scripts/run_main.sh --help
# Set EMBEDRS_SKIP_BUILD=1 to rerun the job with the already-installed build.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

VENV="$ROOT/.venv-main"
DIST="$ROOT/target/main-wheel"

find_python
VPY="$(venv_bin "$VENV")/python"
if [ "${EMBEDRS_SKIP_BUILD:-0}" != 1 ] || [ ! -x "$VPY" ]; then
    require_cargo
    step "setting up $VENV with $("$PYTHON" --version 2>&1)"
    [ -x "$VPY" ] || "$PYTHON" -m venv "$VENV"
    "$VPY" -m pip install --quiet "maturin>=1.7,<2"
    step "building the release wheel (cargo output below; the first build takes a few minutes)"
    rm -rf "$DIST"
    "$VPY" -m maturin build --release -i "$VPY" --out "$DIST"
    WHEEL="$(ls "$DIST"/embedrs-*.whl | head -n 1)"
    step "installing $(basename "$WHEEL")"
    "$VPY" -m pip install --quiet "$WHEEL"
    "$VPY" -m pip install --quiet --force-reinstall --no-deps "$WHEEL"
fi

step "running: embedrs $*"
exec "$(venv_bin "$VENV")/embedrs" "$@"
