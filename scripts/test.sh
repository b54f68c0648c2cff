#!/usr/bin/env bash
# The whole embedrs test suite, from a fresh clone, with only Python 3.10+ (with
# pip and venv) and a Rust toolchain installed:
#
#   1. cargo test            the pure-Rust core (unit, integration and doc tests)
#   2. maturin build         the release wheel, once: abi3, manylinux2014 via zig
#                            (maturin's manylinux compliance check must pass)
#   3. pytest                tests/ against that INSTALLED wheel in a fresh venv
#                            (.venv-test) with the [test] extra (gensim, scipy,
#                            scikit-learn, ... for the parity tests)
#   4. wheel check           a second brand-new venv with only the wheel: import,
#                            version, small real calls (scripts/wheel_smoke.py)
#   5. lint                  ruff check and cargo fmt --check; reported, fatal only
#                            with EMBEDRS_STRICT_LINT=1 (which also runs clippy)
#
# Usage: bash scripts/test.sh [pytest args...]   e.g. bash scripts/test.sh -k word2vec
# Exits non-zero when any stage fails. Logs go to target/test-logs/.
# Environment: PYTHON (interpreter for the venvs), EMBEDRS_NO_ZIG=1 (build a
# plain wheel for this machine instead of manylinux2014 with zig),
# EMBEDRS_STRICT_LINT=1, EMBEDRS_PYTEST_TIMEOUT (seconds, default 3000).

set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

PYTEST_ARGS=("$@")
VENV="$ROOT/.venv-test"
CHECK_VENV="$ROOT/.venv-wheelcheck"
DIST="$ROOT/target/test-wheel"
LOGS="$ROOT/target/test-logs"
T0=$(now)
FAILED=()
TIMES=()

find_python
require_cargo
mkdir -p "$LOGS"
echo "embedrs test suite: $("$PYTHON" --version 2>&1) ($PYTHON), $(cargo --version), $(uname -sm)"

stage_done() { # name start status
    TIMES+=("$(printf '%-14s %4ss  %s' "$1" "$(( $(now) - $2 ))" "$3")")
    [ "$3" != FAILED ] || FAILED+=("$1")
}

# ---------------------------------------------------------------- 1. cargo test
step "1/5 cargo test (Rust core, no Python)"
t=$(now)
# Line tables are enough for test backtraces, and much cheaper to build than full debuginfo.
if CARGO_PROFILE_DEV_DEBUG=line-tables-only cargo test 2>&1 | tee "$LOGS/cargo-test.log"; then
    stage_done "cargo test" "$t" ok
else
    stage_done "cargo test" "$t" FAILED
fi

# -------------------------------------------------------- 2. build the wheel once
step "2/5 build the release wheel (maturin build --release)"
t=$(now)
new_venv "$VENV"
VPY="$(venv_bin "$VENV")/python"
# As if activated: maturin finds zig as `python -m ziglang` through PATH.
export PATH="$(venv_bin "$VENV"):$PATH" VIRTUAL_ENV="$VENV"
WHEEL=""
if ! "$VPY" -m pip install --quiet "maturin>=1.7,<2" 2>&1 | tail -5; then
    die "could not install maturin with pip"
fi
rm -rf "$DIST"
build_ok=false
if [ "$(uname -s)" = Linux ] && [ "${EMBEDRS_NO_ZIG:-0}" != 1 ]; then
    # manylinux2014 (glibc 2.17) with zig as the linker: a wheel that pip
    # installs on old distributions too. maturin checks compliance itself
    # and fails the build if the extension needs newer symbols.
    if "$VPY" -m pip install --quiet "ziglang>=0.13,<0.18" &&
        echo "zig $("$VPY" -m ziglang version)" &&
        "$VPY" -m maturin build --release --zig --compatibility manylinux2014 \
            --auditwheel check -i "$VPY" --out "$DIST" 2>&1 | tee "$LOGS/maturin-build.log"; then
        build_ok=true
    else
        echo "warning: the zig manylinux2014 build failed (see above); building a plain" \
            "wheel for this machine, still checked by maturin's auditwheel step" >&2
        rm -rf "$DIST"
    fi
fi
if ! $build_ok; then
    if "$VPY" -m maturin build --release --auditwheel check -i "$VPY" --out "$DIST" 2>&1 |
        tee "$LOGS/maturin-build.log"; then
        build_ok=true
    fi
fi
if $build_ok; then
    WHEEL="$(ls "$DIST"/embedrs-*.whl 2>/dev/null | head -n 1)"
fi
if [ -n "$WHEEL" ]; then
    echo "wheel: $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1))"
    if [ "$(uname -s)" = Linux ]; then
        # A second opinion on the manylinux tag (informational; maturin's own
        # check above is the one that fails the build).
        "$VPY" -m pip install --quiet auditwheel >/dev/null 2>&1 &&
            { "$VPY" -m auditwheel show "$WHEEL" 2>&1 | grep -A1 -m1 'consistent with' |
                tr '\n' ' ' | sed 's/^/auditwheel show: /'; echo; } || true
    fi
    stage_done "build wheel" "$t" ok
else
    stage_done "build wheel" "$t" FAILED
fi

# ---------------------------------------------------------- 3. pytest on the wheel
step "3/5 pytest against the installed wheel (.venv-test)"
t=$(now)
PYTEST_RC=-1
if [ -n "$WHEEL" ]; then
    if "$VPY" -m pip install --quiet "${WHEEL}[test]"; then
        # Run from an empty folder so that only the installed package can be
        # imported (the source tree's python/embedrs has no compiled extension).
        RUN_DIR="$(mktemp -d)"
        TIMEOUT=()
        command -v timeout >/dev/null 2>&1 &&
            TIMEOUT=(timeout --kill-after=30 "${EMBEDRS_PYTEST_TIMEOUT:-3000}")
        rm -f "$LOGS/pytest.xml"
        (cd "$RUN_DIR" && EMBEDRS_EXPECT_INSTALLED=1 ${TIMEOUT[@]+"${TIMEOUT[@]}"} "$VPY" -m pytest \
            -c "$ROOT/pyproject.toml" --rootdir "$ROOT" -p no:cacheprovider -ra \
            --junitxml "$LOGS/pytest.xml" "$ROOT/tests" ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"})
        PYTEST_RC=$?
        rm -rf "$RUN_DIR"
        if [ "$PYTEST_RC" -eq 5 ] && [ ${#PYTEST_ARGS[@]} -gt 0 ]; then
            echo "pytest selected no test with the given arguments (exit 5): not a failure"
            PYTEST_RC=0
        elif [ "$PYTEST_RC" -eq 5 ]; then
            echo "error: pytest collected no test at all under tests/" >&2
        elif [ "$PYTEST_RC" -eq 124 ] || [ "$PYTEST_RC" -eq 137 ]; then
            echo "error: pytest ran past ${EMBEDRS_PYTEST_TIMEOUT:-3000}s and was stopped" >&2
        fi
    else
        echo "error: could not install ${WHEEL}[test]" >&2
    fi
fi
if [ "$PYTEST_RC" -eq 0 ]; then stage_done "pytest" "$t" ok; else stage_done "pytest" "$t" FAILED; fi

# ---------------------------------------------------- 4. wheel in a brand-new venv
step "4/5 wheel check: brand-new venv, pip install <wheel>, import, small real calls"
t=$(now)
wheel_ok=false
if [ -n "$WHEEL" ]; then
    name="$(basename "$WHEEL")"
    tag_ok=true
    case "$name" in *-abi3-*) ;; *) echo "error: $name is not an abi3 wheel" >&2; tag_ok=false ;; esac
    if [ "$(uname -s)" = Linux ]; then
        case "$name" in *manylinux*) ;; *) echo "error: $name has no manylinux tag" >&2; tag_ok=false ;; esac
    fi
    version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)"
    new_venv "$CHECK_VENV"
    CPY="$(venv_bin "$CHECK_VENV")/python"
    RUN_DIR="$(mktemp -d)"
    if $tag_ok && "$CPY" -m pip install --quiet "$WHEEL" &&
        (cd "$RUN_DIR" && "$CPY" -c "import embedrs; print(embedrs.__version__)" &&
            "$CPY" "$ROOT/scripts/wheel_smoke.py" --expect-version "$version" \
                --source-root "$ROOT"); then
        wheel_ok=true
    fi
    rm -rf "$RUN_DIR"
fi
if $wheel_ok; then stage_done "wheel check" "$t" ok; else stage_done "wheel check" "$t" FAILED; fi

# -------------------------------------------------------------------- 5. lint
step "5/5 lint (ruff check, cargo fmt --check$([ "${EMBEDRS_STRICT_LINT:-0}" = 1 ] && echo ', clippy'))"
t=$(now)
lint_ok=true
RUFF="$(venv_bin "$VENV")/ruff"
if [ -x "$RUFF" ]; then
    dirs=()
    for d in python tests benches scripts; do [ -d "$ROOT/$d" ] && dirs+=("$d"); done
    "$RUFF" check --no-cache --output-format concise "${dirs[@]}" || lint_ok=false
else
    echo "ruff not installed in $VENV: skipped"
fi
if cargo fmt --version >/dev/null 2>&1; then
    cargo fmt --check >"$LOGS/cargo-fmt.log" 2>&1 ||
        { echo "cargo fmt --check: files need formatting (see $LOGS/cargo-fmt.log)"; lint_ok=false; }
fi
if [ "${EMBEDRS_STRICT_LINT:-0}" = 1 ]; then
    cargo clippy --all-targets -- -D warnings || lint_ok=false
    cargo clippy --all-targets --features python -- -D warnings || lint_ok=false
fi
if $lint_ok; then
    stage_done "lint" "$t" ok
elif [ "${EMBEDRS_STRICT_LINT:-0}" = 1 ]; then
    stage_done "lint" "$t" FAILED
else
    stage_done "lint" "$t" "warnings, not fatal (EMBEDRS_STRICT_LINT=1 makes them fatal)"
fi

# ------------------------------------------------------------------ summary
if [ ${#FAILED[@]} -gt 0 ]; then verdict="FAILED (${FAILED[*]})"; else verdict="passed"; fi
step "summary: embedrs test suite $verdict in $(( $(now) - T0 ))s"
for line in "${TIMES[@]}"; do echo "  $line"; done
"$PYTHON" - "$LOGS/cargo-test.log" "$LOGS/pytest.xml" <<'EOF' || true
import re, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
try:
    for m in re.finditer(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored",
                         open(sys.argv[1], encoding="utf-8", errors="replace").read()):
        passed += int(m[1]); failed += int(m[2]); skipped += int(m[3])
except OSError:
    pass
rust = (passed, failed, skipped)
try:
    root = ET.parse(sys.argv[2]).getroot()
    for s in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        n, f, e, k = (int(s.get(a, 0)) for a in ("tests", "failures", "errors", "skipped"))
        passed += n - f - e - k; failed += f + e; skipped += k
except (OSError, ET.ParseError):
    pass
print(f"  rust tests: {rust[0]} passed, {rust[1]} failed, {rust[2]} ignored;"
      f" python tests: {passed - rust[0]} passed, {failed - rust[1]} failed,"
      f" {skipped - rust[2]} skipped")
print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
EOF
[ ${#FAILED[@]} -eq 0 ] || exit 1
