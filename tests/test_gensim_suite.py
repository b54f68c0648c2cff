"""gensim's own test modules as the judge of the drop-in (issue 14).

The installed gensim's ``test_word2vec.py``, ``test_keyedvectors.py``,
``test_doc2vec.py``, ``test_poincare.py``, ``test_translation_matrix.py``
(and ``test_phrases.py`` once
``embedrs.models.phrases`` exists) are copied to a temporary folder twice: as
they are, and with only ``gensim.models`` replaced by ``embedrs.models`` (plus
an ``import gensim`` at the top, so that the modules' other ``gensim.*`` names,
``gensim.utils`` and ``gensim.test.utils``, still resolve as before the swap).
Every test that passes on gensim must pass on embedrs, except those listed
with a reason in ``tests/gensim_suite_exceptions.txt``.

gensim's own side takes far longer than embedrs's (25 minutes on two busy
cores), so which of its tests pass is recorded once per gensim version in
``tests/gensim_suite_gensim_passes.txt``; with another gensim installed (or a
module not recorded yet, e.g. ``test_phrases.py``) the unmodified copies run
too, side by side with the swapped ones. ``EMBEDRS_GENSIM_SUITE_RECORD=1``
runs gensim's side and rewrites the record.

Skipped when gensim (or ``testfixtures``, which gensim's tests import) is not
installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("gensim")
pytest.importorskip("testfixtures")

EXCEPTIONS_FILE = Path(__file__).with_name("gensim_suite_exceptions.txt")
PASSES_FILE = Path(__file__).with_name("gensim_suite_gensim_passes.txt")
RECORD = os.environ.get("EMBEDRS_GENSIM_SUITE_RECORD") == "1"
MODULES = [
    "test_word2vec.py",
    "test_keyedvectors.py",
    "test_doc2vec.py",
    "test_poincare.py",
    "test_translation_matrix.py",
]
if importlib.util.find_spec("embedrs.models.phrases") is not None:
    MODULES.append("test_phrases.py")
#: Seconds each side may take (both run at once, on two cores in CI).
TIMEOUT = int(os.environ.get("EMBEDRS_GENSIM_SUITE_TIMEOUT", "2400"))

_FIRST_IMPORT = re.compile(r"^(?:import |from (?!__future__))", re.MULTILINE)


def swap_models(source: str) -> str:
    """gensim's test module with ``gensim.models`` replaced by ``embedrs.models``.

    ``import gensim`` goes before the first import (after any ``__future__``
    one): a module that did ``import gensim.models.keyedvectors`` and then
    uses ``gensim.utils`` keeps finding it.
    """
    swapped = source.replace("gensim.models", "embedrs.models")
    m = _FIRST_IMPORT.search(swapped)
    at = m.start() if m else 0
    return swapped[:at] + "import gensim  # noqa: F401\n" + swapped[at:]


def read_exceptions(path: Path = EXCEPTIONS_FILE) -> dict[str, str]:
    """``{test id: reason}`` from the exceptions file (``id  # reason`` per line)."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test_id, sep, reason = line.partition("#")
        if not sep or not reason.strip() or "::" not in test_id:
            raise ValueError(f"{path}:{n}: expected 'module.py::Class::test  # reason'")
        out[test_id.strip()] = reason.strip()
    return out


def _outcomes(junit: Path) -> dict[str, str]:
    """``{module.py::Class::test: passed|failed|skipped|xfailed}`` from a junit XML report.

    ``xfailed``: the test is marked ``xfail`` (by gensim's own module) and failed,
    as its marker allows. gensim marks tests so when their outcome is left to
    chance (``test_translate_gc`` samples words at random: "blinking test"), and
    pytest reports such a test that happens to pass as a plain pass.
    """
    res: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module, _, cls = (case.get("classname") or "").partition(".")
        test_id = "::".join(p for p in (f"{module}.py", cls, case.get("name") or "") if p)
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            res[test_id] = "failed"
        elif "skipped" in kinds:
            xfail = any(c.get("type") == "pytest.xfail" for c in case if c.tag == "skipped")
            res[test_id] = "xfailed" if xfail else "skipped"
        else:
            res[test_id] = "passed"
    return res


def read_recorded_passes(version: str, path: Path = PASSES_FILE) -> dict[str, list[str]]:
    """``{module: [test ids passing on gensim]}`` recorded for this gensim ``version``."""
    if RECORD or not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split()[:3] != ["#", "gensim", version]:
        return {}
    out: dict[str, list[str]] = {}
    for line in lines[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            out.setdefault(line.split("::", 1)[0], []).append(line)
    return out


def _write_recorded_passes(version: str, outcomes: dict[str, str]) -> None:
    passed = sorted(t for t, o in outcomes.items() if o == "passed")
    head = f"# gensim {version}: tests of its own modules that pass on it (test_gensim_suite.py)"
    PASSES_FILE.write_text("\n".join([head, *passed]) + "\n", encoding="utf-8")


def _start(folder: Path, modules: list[str]) -> subprocess.Popen:
    log = open(folder / "pytest.log", "w", encoding="utf-8")  # noqa: SIM115 - closed in run_both
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    cmd += ["--junitxml", str(folder / "report.xml"), *modules]
    proc = subprocess.Popen(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env)
    proc.log = log  # type: ignore[attr-defined]
    return proc


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, dict[str, str]]]:
    import gensim
    import gensim.test

    source = Path(gensim.test.__file__).parent
    recorded = read_recorded_passes(gensim.__version__)
    live = [m for m in MODULES if m not in recorded]
    with tempfile.TemporaryDirectory(prefix="embedrs-gensim-suite-") as tmp:
        procs = {}
        for side, modules in (("gensim", live), ("embedrs", MODULES)):
            if not modules:
                continue
            folder = Path(tmp) / side
            folder.mkdir()
            (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            for name in modules:
                text = (source / name).read_text(encoding="utf-8")
                (folder / name).write_text(
                    swap_models(text) if side == "embedrs" else text, encoding="utf-8"
                )
            procs[side] = _start(folder, modules)
        out: dict[str, dict[str, str]] = {}
        try:
            for side, proc in procs.items():
                try:
                    proc.wait(timeout=TIMEOUT)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"gensim's test modules ({side} side) ran past {TIMEOUT}s")
                report = Path(tmp) / side / "report.xml"
                if not report.exists():
                    tail = (Path(tmp) / side / "pytest.log").read_text(encoding="utf-8")[-3000:]
                    pytest.fail(f"pytest wrote no report for the {side} side:\n{tail}")
                out[side] = _outcomes(report)
        finally:
            for proc in procs.values():
                proc.kill()
                proc.wait()
                proc.log.close()  # type: ignore[attr-defined]
        if RECORD:
            _write_recorded_passes(gensim.__version__, out["gensim"])
        gensim_side = out.setdefault("gensim", {})
        for ids in recorded.values():
            gensim_side.update(dict.fromkeys(ids, "passed"))
        out["log"] = {"embedrs": (Path(tmp) / "embedrs" / "pytest.log").read_text(encoding="utf-8")}
        yield out


def _failure_excerpt(log: str, test_id: str) -> str:
    """The ``E ...`` lines pytest printed for ``test_id`` (first few)."""
    name = test_id.rsplit("::", 1)[-1]
    block = re.search(
        rf"_{{3,}} \S*{re.escape(name)} _{{3,}}\n(.*?)(?=\n_{{3,}} |\Z)", log, re.DOTALL
    )
    if not block:
        return ""
    errs = [ln for ln in block.group(1).splitlines() if ln.startswith("E ")]
    return "\n      ".join(errs[:3])


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_everything_that_passes_on_gensim_passes_on_embedrs(
    module: str, results: dict[str, dict[str, str]]
) -> None:
    gensim_side, ours = results["gensim"], results["embedrs"]
    exceptions = read_exceptions()
    passed_on_gensim = [
        t for t, o in gensim_side.items() if t.startswith(f"{module}::") and o == "passed"
    ]
    assert passed_on_gensim, f"no test of {module} passed on gensim"
    mine = [t for t in ours if t.startswith(f"{module}::")]
    # A test gensim marks xfail may fail on either side by its own declaration.
    broken = [
        t
        for t in passed_on_gensim
        if ours.get(t, "missing") not in ("passed", "xfailed") and t not in exceptions
    ]
    fixed = [t for t in exceptions if t.startswith(f"{module}::") and ours.get(t) == "passed"]
    kinds = ("passed", "failed", "skipped", "xfailed")
    counts = {k: sum(1 for t in mine if ours.get(t) == k) for k in kinds}
    print(f"{module}: embedrs {counts}; {len(passed_on_gensim)} pass on gensim")
    if fixed:
        warnings.warn(
            f"{module}: now passing on embedrs, remove from {EXCEPTIONS_FILE.name}: {fixed}",
            stacklevel=1,
        )
    if broken:
        log = results["log"]["embedrs"]
        detail = "\n".join(
            f"  {t} ({ours.get(t, 'missing')})\n      {_failure_excerpt(log, t)}" for t in broken
        )
        pytest.fail(
            f"{len(broken)} test(s) of gensim's {module} pass on gensim but not on embedrs "
            f"(fix them, or list them with a reason in {EXCEPTIONS_FILE.name}):\n{detail}"
        )


def test_exceptions_file_is_well_formed_and_short() -> None:
    exceptions = read_exceptions()
    assert len(exceptions) <= 25, "keep the list of exceptions short"
    for test_id in exceptions:
        assert test_id.split("::", 1)[0] in {
            "test_word2vec.py",
            "test_keyedvectors.py",
            "test_doc2vec.py",
            "test_poincare.py",
            "test_phrases.py",
            "test_translation_matrix.py",
        }, test_id


def test_outcomes_tell_an_allowed_xfail_from_a_skip(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="test_m.T" name="ok"/>'
        '<testcase classname="test_m.T" name="bad"><failure message="x"/></testcase>'
        '<testcase classname="test_m.T" name="off"><skipped type="pytest.skip" message="y"/>'
        "</testcase>"
        '<testcase classname="test_m.T" name="blink"><skipped type="pytest.xfail" message="z"/>'
        "</testcase>"
        "</testsuite></testsuites>",
        encoding="utf-8",
    )
    assert _outcomes(report) == {
        "test_m.py::T::ok": "passed",
        "test_m.py::T::bad": "failed",
        "test_m.py::T::off": "skipped",
        "test_m.py::T::blink": "xfailed",
    }


def test_swap_keeps_other_gensim_names() -> None:
    src = '"""doc"""\nfrom __future__ import division\nimport gensim.models.keyedvectors\nx = 1\n'
    out = swap_models(src)
    assert "gensim.models" not in out
    assert (
        out.index("from __future__") < out.index("import gensim  #") < out.index("import embedrs")
    )
