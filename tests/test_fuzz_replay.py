"""Replay the committed Python fuzz corpora and findings (``fuzz/corpus/python_*``,
``fuzz/artifacts/python_*``) through the fuzzers' own oracles
(``fuzz/python/oracles.py``), without atheris.

Each target's inputs run in ONE subprocess (``fuzz/python/replay.py``) so that
an input that crashes the interpreter fails this test, naming the input,
instead of killing pytest. See FUZZING.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
TARGETS = ("gensim_pickle", "container", "relations")


def _inputs(target: str) -> list[Path]:
    files = []
    for kind in ("corpus", "artifacts"):
        d = FUZZ / kind / f"python_{target}"
        if d.is_dir():
            files += sorted(p for p in d.iterdir() if p.is_file() and p.suffix != ".txt")
    return files


@pytest.mark.parametrize("target", TARGETS)
def test_replay_python_fuzz_corpus(target: str, tmp_path: Path) -> None:
    if not (FUZZ / "python" / "replay.py").is_file():
        pytest.skip(f"fuzz corpora not found under {FUZZ} (run from a source checkout)")
    files = _inputs(target)
    if not files:
        pytest.skip(f"no corpus for {target} under {FUZZ}/corpus/python_{target}")
    proc = subprocess.run(
        [sys.executable, str(FUZZ / "python" / "replay.py"), target, *map(str, files)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    lines = proc.stdout.splitlines()
    if proc.returncode < 0 or proc.returncode not in (0, 1):
        started = [ln[6:] for ln in lines if ln.startswith("START ")]
        last = started[-1] if started else "?"
        pytest.fail(
            f"the replay process died (exit {proc.returncode}) on {last}\n{proc.stderr[-3000:]}"
        )
    findings = []
    current = "?"
    for ln in lines:
        if ln.startswith("START "):
            current = ln[6:]
        elif ln.startswith("FINDING "):
            findings.append(f"{Path(current).name}: {ln[8:]}")
    assert proc.returncode == 0 and not findings, (
        f"{len(findings)} of {len(files)} {target} inputs break the contract:\n"
        + "\n".join(findings)
        + f"\n{proc.stderr[-2000:]}"
    )
