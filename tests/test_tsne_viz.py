"""embedrs.viz (t-SNE pictures and JSON export) and the `embedrs tsne` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from embedrs import viz


class FakeKeyedVectors:
    """Duck-typed KeyedVectors: index_to_key, vectors and __getitem__."""

    def __init__(self, n: int = 60, dim: int = 10, seed: int = 0) -> None:
        rng = np.random.RandomState(seed)
        self.index_to_key = [f"w{i}" for i in range(n)]
        centers = rng.uniform(-5, 5, size=(3, dim))
        self.vectors = (centers[np.arange(n) % 3] + 0.3 * rng.standard_normal((n, dim))).astype(
            np.float32
        )

    def __getitem__(self, key: str) -> np.ndarray:
        return self.vectors[self.index_to_key.index(key)]


class NoMatrixKeyedVectors(FakeKeyedVectors):
    """Has only kv[key], no .vectors."""

    def __init__(self) -> None:
        super().__init__()
        self._v = self.vectors
        del self.vectors

    def __getitem__(self, key: str) -> np.ndarray:
        return self._v[self.index_to_key.index(key)]


def test_normalize_coords_and_records(tmp_path):
    coords = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 10.0]])
    norm = viz.normalize_coords(coords)
    np.testing.assert_allclose(norm, [[0, 0], [0.5, 1], [1, 0]])
    const = viz.normalize_coords(np.ones((3, 2)))
    assert (const == 0.5).all()
    out = tmp_path / "points.json"
    recs = viz.to_json_records(coords, ["a", "b", "c"], path=out)
    assert recs[1] == {"label": "b", "point": [0.5, 1.0]}
    assert json.loads(out.read_text()) == recs
    recs = viz.to_json_records(coords, ["x.png", "y.png", "z.png"], key="path")
    assert recs[0]["path"] == "x.png"
    assert viz.to_json_records(coords)[2]["label"] == 2
    with pytest.raises(ValueError, match="labels"):
        viz.to_json_records(coords, ["a"])
    with pytest.raises(ValueError, match="NaN"):
        viz.normalize_coords(np.array([[np.nan, 1.0]]))


def test_tsne_keyed_vectors_top_n():
    words, coords = viz.tsne_keyed_vectors(FakeKeyedVectors(), top_n=45, perplexity=5)
    assert words == [f"w{i}" for i in range(45)]
    assert coords.shape == (45, 2) and np.isfinite(coords).all()
    words, coords = viz.tsne_keyed_vectors(NoMatrixKeyedVectors(), top_n=30)
    assert len(words) == 30 and coords.shape == (30, 2)


def test_plots_write_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "words.png"
    _words, coords = viz.plot_keyed_vectors(FakeKeyedVectors(), png, top_n=40, perplexity=5)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    x = np.random.RandomState(0).rand(80, 5)
    labels = ["a", "b"] * 40
    png2 = tmp_path / "matrix.png"
    coords = viz.plot_matrix(x, labels, png2, perplexity=10, title="t")
    assert coords.shape == (80, 2)
    assert png2.stat().st_size > 1000
    with pytest.raises(ValueError, match="labels"):
        viz.plot_matrix(x, labels[:3], png2)


def _write_word2vec_text(path, kv: FakeKeyedVectors) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{len(kv.index_to_key)} {kv.vectors.shape[1]}\n")
        fh.writelines(
            w + " " + " ".join(f"{x:.6f}" for x in v) + "\n"
            for w, v in zip(kv.index_to_key, kv.vectors)
        )


def _write_word2vec_binary(path, kv: FakeKeyedVectors) -> None:
    with open(path, "wb") as fh:
        fh.write(f"{len(kv.index_to_key)} {kv.vectors.shape[1]}\n".encode())
        fh.writelines(
            w.encode() + b" " + v.astype("<f4").tobytes() + b"\n"
            for w, v in zip(kv.index_to_key, kv.vectors)
        )


def test_cli_npy_with_labels(tmp_path):
    pytest.importorskip("matplotlib")
    from embedrs.cli import main

    x = np.random.RandomState(0).rand(70, 6).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "labels.txt").write_text("\n".join(["odd", "even"] * 35) + "\n")
    rc = main(
        [
            "tsne",
            str(tmp_path / "x.npy"),
            "--labels",
            str(tmp_path / "labels.txt"),
            "--png",
            str(tmp_path / "out.png"),
            "--json",
            str(tmp_path / "out.json"),
            "--perplexity",
            "10",
            "--max-iter",
            "300",
            "--threads",
            "1",
        ]
    )
    assert rc == 0
    recs = json.loads((tmp_path / "out.json").read_text())
    assert len(recs) == 70 and recs[0]["label"] == "odd"
    pts = np.array([r["point"] for r in recs])
    assert pts.min() == 0.0 and pts.max() == 1.0
    assert (tmp_path / "out.png").stat().st_size > 1000


@pytest.mark.parametrize("binary", [False, True])
def test_cli_word2vec_file(tmp_path, binary):
    from embedrs.cli import main

    kv = FakeKeyedVectors(n=50)
    path = tmp_path / ("vec.bin" if binary else "vec.txt")
    (_write_word2vec_binary if binary else _write_word2vec_text)(path, kv)
    out = tmp_path / "words.json"
    rc = main(["tsne", str(path), "--top-n", "40", "--json", str(out), "--max-iter", "250"])
    assert rc == 0
    recs = json.loads(out.read_text())
    assert [r["label"] for r in recs] == kv.index_to_key[:40]


def test_cli_errors(tmp_path, capsys):
    from embedrs.cli import main

    np.save(tmp_path / "x.npy", np.zeros((10, 3)))
    assert main(["tsne", str(tmp_path / "x.npy")]) == 2
    assert "--png" in capsys.readouterr().err
    assert main(["tsne", str(tmp_path / "missing.npy"), "--json", "o.json"]) == 2
