"""Smoke test of an INSTALLED embedrs wheel (run from outside the source tree).

Used by scripts/test.sh (in a brand-new venv holding only the wheel and its
runtime dependency numpy) and by the release workflow. It imports the
package, checks what the wheel must carry, and makes small real calls into
the compiled core: every model that this build has is trained or fitted on a
tiny generated input. Exits non-zero on the first failure.

Usage: python wheel_smoke.py [--expect-version X.Y.Z] [--source-root DIR]
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path


def _optional(module: str, name: str):
    """``module.name``, or None when this build has no such module."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
    return getattr(mod, name, None)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--expect-version", default=None)
    parser.add_argument("--source-root", default=None, type=Path)
    args = parser.parse_args()

    import embedrs
    import numpy as np
    from embedrs import _embedrs

    pkg_dir = Path(embedrs.__file__).resolve().parent
    print(f"embedrs {embedrs.__version__} imported from {pkg_dir}")
    if args.source_root is not None:
        src_pkg = (args.source_root / "python" / "embedrs").resolve()
        assert pkg_dir != src_pkg, f"imported the source tree ({pkg_dir}), not the wheel"
    if args.expect_version is not None:
        assert embedrs.__version__ == args.expect_version, (
            embedrs.__version__,
            args.expect_version,
        )
    assert Path(_embedrs.__file__).resolve().parent == pkg_dir, _embedrs.__file__
    for name in ("py.typed", "_embedrs.pyi"):
        assert (pkg_dir / name).is_file(), f"the wheel lacks embedrs/{name}"
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("embedrs").handlers)
    checks = ["import", "version", "py.typed", "stubs", "logging"]

    # The command-line entry point.
    scripts_dirs = os.pathsep.join([sysconfig.get_path("scripts"), os.path.dirname(sys.executable)])
    exe = shutil.which("embedrs", path=scripts_dirs)
    assert exe, "the wheel installed no `embedrs` command"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "train" in out, out
    checks.append("embedrs --help")

    # The embedded default corpus (pure Python, but the main job's first step).
    from embedrs._default_corpus import build_default_corpus

    sentences, stats = build_default_corpus(max_tokens=30_000)
    assert stats.tokens >= 30_000 and len(sentences) > 100, stats
    checks.append(f"default corpus ({stats.tokens} tokens)")

    tmp = Path(tempfile.mkdtemp(prefix="embedrs-smoke-"))
    try:
        Word2Vec = _optional("embedrs.models.word2vec", "Word2Vec")
        if Word2Vec is not None:
            model = Word2Vec(
                sentences, vector_size=16, window=3, min_count=3, epochs=2, workers=1, seed=1
            )
            assert model.wv.vectors.shape[1] == 16 and np.isfinite(model.wv.vectors).all()
            word = model.wv.index_to_key[0]
            sims = model.wv.most_similar(word, topn=3)
            assert len(sims) == 3, sims
            model.wv.save_word2vec_format(str(tmp / "v.txt"))
            checks.append(f"Word2Vec ({len(model.wv.index_to_key)} words)")
            KeyedVectors = _optional("embedrs.models.keyedvectors", "KeyedVectors")
            if KeyedVectors is not None:
                kv = KeyedVectors.load_word2vec_format(str(tmp / "v.txt"))
                assert kv.index_to_key == model.wv.index_to_key
                assert np.allclose(kv[word], model.wv[word], atol=1e-5)
                checks.append("KeyedVectors round trip")

        TSNE = _optional("embedrs.manifold", "TSNE")
        if TSNE is not None:
            rng = np.random.default_rng(0)
            x = np.vstack([rng.normal(c, 0.1, size=(40, 5)) for c in (0.0, 3.0)])
            y = TSNE(n_components=2, perplexity=10, random_state=0).fit_transform(x)
            assert y.shape == (80, 2) and np.isfinite(y).all()
            checks.append("TSNE")

        PoincareModel = _optional("embedrs.models.poincare", "PoincareModel")
        if PoincareModel is not None:
            relations = [
                ("dog", "mammal"),
                ("cat", "mammal"),
                ("mammal", "animal"),
                ("sparrow", "bird"),
                ("bird", "animal"),
            ]
            pm = PoincareModel(relations, size=2, negative=2, seed=0)
            pm.train(epochs=5)
            assert np.all(np.linalg.norm(pm.kv.vectors, axis=1) < 1.0)
            checks.append("PoincareModel")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("wheel smoke test passed: " + ", ".join(checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
