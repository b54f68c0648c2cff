"""The package as installed: version, typing files, logging, error mapping."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import embedrs
import numpy as np
import pytest
from embedrs import _embedrs

PKG_DIR = Path(embedrs.__file__).resolve().parent


def _optional(module: str, name: str):
    """``module.name``, or skip the test while this build lacks the module."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            pytest.skip(f"{module} is not in this build")
        raise
    obj = getattr(mod, name, None)
    if obj is None:
        pytest.skip(f"{module}.{name} is not in this build")
    return obj


def test_version_comes_from_the_extension():
    assert embedrs.__version__ == _embedrs.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)*", embedrs.__version__)
    assert importlib.metadata.version("embedrs") == embedrs.__version__


def test_extension_is_a_private_submodule_of_the_package():
    assert _embedrs.__name__ == "embedrs._embedrs"
    assert Path(_embedrs.__file__).resolve().parent == PKG_DIR
    assert "__version__" in embedrs.__all__


@pytest.mark.skipif(
    os.environ.get("EMBEDRS_EXPECT_INSTALLED") != "1",
    reason="only when scripts/test.sh tests an installed wheel",
)
def test_installed_wheel_is_what_is_tested():
    site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    assert PKG_DIR.parent in site, f"embedrs was imported from {PKG_DIR}, not site-packages"


def test_typing_files_are_shipped():
    assert (PKG_DIR / "py.typed").is_file()
    stub = (PKG_DIR / "_embedrs.pyi").read_text(encoding="utf-8")
    assert "__version__: str" in stub


def test_console_script_is_declared():
    eps = importlib.metadata.distribution("embedrs").entry_points
    scripts = {ep.name: ep.value for ep in eps if ep.group == "console_scripts"}
    assert scripts.get("embedrs") == "embedrs.cli:main"


def test_runtime_dependency_is_numpy_only():
    requires = importlib.metadata.requires("embedrs") or []
    runtime = [r for r in requires if "extra ==" not in r]
    assert [re.split(r"[<>=!~ ;\[]", r)[0].lower() for r in runtime] == ["numpy"]


def test_library_logs_under_embedrs_without_configuring_logging():
    root = logging.getLogger("embedrs")
    assert any(isinstance(h, logging.NullHandler) for h in root.handlers)
    assert root.level == logging.NOTSET  # the application decides
    for name in ("embedrs._default_corpus", "embedrs._cli.train", "embedrs.cli"):
        module = importlib.import_module(name)
        logger = getattr(module, "logger", None)
        if logger is not None:
            assert logger.name.startswith("embedrs.")
            assert logger.parent is not None


def test_progress_lines_reach_a_handler_on_the_embedrs_logger(tmp_path):
    from embedrs._default_corpus import build_default_corpus

    (tmp_path / "mod.py").write_text('"""First sentence here. Second sentence here."""\n')
    records: list[logging.LogRecord] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Grab(level=logging.INFO)
    logger = logging.getLogger("embedrs")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        build_default_corpus(root=tmp_path)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert any(
        r.name.startswith("embedrs.") and "default corpus" in r.getMessage() for r in records
    )


# ---- error mapping: core errors reach Python as the exception gensim raises ----


def test_missing_key_is_keyerror():
    KeyedVectors = _optional("embedrs.models.keyedvectors", "KeyedVectors")
    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["a", "b"], np.eye(2, 3, dtype=np.float32))
    with pytest.raises(KeyError):
        kv["no-such-word"]
    with pytest.raises(KeyError):
        kv.most_similar("no-such-word")


def test_missing_file_is_oserror(tmp_path):
    KeyedVectors = _optional("embedrs.models.keyedvectors", "KeyedVectors")
    with pytest.raises(OSError):
        KeyedVectors.load_word2vec_format(str(tmp_path / "missing.txt"))


def test_malformed_file_is_valueerror_naming_the_file(tmp_path):
    KeyedVectors = _optional("embedrs.models.keyedvectors", "KeyedVectors")
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nword 1.0 2.0 not-a-number\nother 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError):
        KeyedVectors.load_word2vec_format(str(bad))


def test_bad_parameter_is_valueerror():
    Word2Vec = _optional("embedrs.models.word2vec", "Word2Vec")
    with pytest.raises(ValueError):
        Word2Vec([["a", "b", "c"]] * 10, vector_size=-1, min_count=1)


def test_training_without_vocabulary_is_runtimeerror():
    # gensim: "you must first build vocabulary before training the model"
    Word2Vec = _optional("embedrs.models.word2vec", "Word2Vec")
    with pytest.raises(RuntimeError):
        Word2Vec([["a", "b"]], min_count=5)


# ---- the abi3-py310 wheel: its Python sources must parse on CPython 3.10 ----


def test_package_sources_are_python_310_compatible():
    # The check parses every source with ``ast`` in a fresh interpreter: on
    # CPython 3.11 ``ast.parse`` keeps a global recursion counter, so a parse
    # here can fail with "AST constructor recursion depth mismatch" while
    # another thread left behind by an earlier test (Ray's) parses too.
    script = Path(__file__).with_name("_py310_check.py")
    proc = subprocess.run(
        [sys.executable, str(script), str(PKG_DIR)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checked" in proc.stdout, proc.stdout
