"""Disk plot and ``embedrs poincare`` command."""

from __future__ import annotations

import numpy as np
import pytest
from embedrs.cli import main
from embedrs.models.poincare import PRESETS, PoincareModel
from embedrs.viz_poincare import hierarchy_depths, plot_poincare_disk

PAIRS = [
    ("b", "a"),
    ("c", "a"),
    ("d", "b"),
    ("d", "a"),
    ("e", "b"),
    ("e", "a"),
    ("f", "c"),
    ("f", "a"),
]


def test_hierarchy_depths_of_closure_and_cycle():
    assert hierarchy_depths(PAIRS) == {"a": 0, "b": 1, "c": 1, "d": 2, "e": 2, "f": 2}
    depths = hierarchy_depths([("x", "y"), ("y", "x"), ("z", "x"), ("w", "w")])
    assert set(depths) == {"x", "y", "z", "w"} and depths["w"] == 0


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    model = PoincareModel(PAIRS, size=2, negative=2, seed=0)
    model.train(epochs=20)
    out = tmp_path / "disk.png"
    fig = plot_poincare_disk(model, path=str(out), title="toy", dpi=50)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes
    with pytest.raises(ValueError, match="2-D"):
        plot_poincare_disk(PoincareModel(PAIRS, size=3, negative=2))
    with pytest.raises(ValueError, match="relations"):
        plot_poincare_disk(model.kv)
    from matplotlib.collections import LineCollection

    def drawn(fig):
        """(number of edges drawn, texts of the labels) of a disk plot."""
        ax = fig.axes[0]
        lines = [c for c in ax.collections if isinstance(c, LineCollection)]
        n_edges = sum(len(c.get_segments()) for c in lines)
        return n_edges, sorted(t.get_text() for t in ax.texts)

    # 'all' draws every relation; 'tree' only those one level apart (d-a, e-a, f-a are
    # two levels apart); 'none' draws no edge. Explicit labels not in the model are skipped.
    assert drawn(
        plot_poincare_disk(model.kv, relations=PAIRS, edges="all", labels=["a", "zz"])
    ) == (len(PAIRS), ["a"])
    assert drawn(
        plot_poincare_disk(model.kv, relations=PAIRS, edges="tree", labels=["b", "f"])
    ) == (len(PAIRS) - 3, ["b", "f"])
    assert drawn(plot_poincare_disk(model.kv, relations=PAIRS, edges="none", labels=[]))[0] == 0
    with pytest.raises(ValueError, match="edges must be"):
        plot_poincare_disk(model.kv, relations=PAIRS, edges="some")


def test_cli_train_save_plot_and_load(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rel = tmp_path / "rel.tsv"
    rel.write_text("".join(f"{a}\t{b}\n" for a, b in PAIRS))
    model, png, vec = tmp_path / "m.npz", tmp_path / "d.png", tmp_path / "v.txt"
    rc = main(
        [
            "-q",
            "poincare",
            str(rel),
            "--epochs",
            "5",
            "--negative",
            "2",
            "--workers",
            "1",
            "--save",
            str(model),
            "--save-vectors",
            str(vec),
            "--plot",
            str(png),
            "--evaluate",
        ]
    )
    assert rc == 0
    assert "MAP=" in capsys.readouterr().out
    assert png.exists() and model.exists() and vec.read_text().startswith("6 2\n")
    png.unlink()
    assert main(["-q", "poincare", "--load", str(model), "--plot", str(png)]) == 0
    assert png.exists()
    loaded = PoincareModel.load(str(model))
    assert np.isfinite(loaded.kv.vectors).all()


def test_cli_bad_input(tmp_path, capsys):
    assert main(["-q", "poincare"]) == 2
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\tc\n")
    assert main(["-q", "poincare", str(bad)]) == 2
    assert "exactly two" in capsys.readouterr().err
    assert main(["-q", "poincare", str(tmp_path / "missing.tsv")]) == 2


def test_cli_preset_reads_gzip_and_prints_both_protocols(tmp_path, capsys):
    import gzip

    rel = tmp_path / "rel.tsv.gz"
    pairs = [("a", "r"), ("b", "r"), ("c", "r"), ("a1", "a"), ("a1", "r"), ("b1", "b"), ("b1", "r")]
    with gzip.open(rel, "wt") as f:
        f.write("".join(f"{x}\t{y}\n" for x, y in pairs))
    argv = ["-q", "poincare", str(rel), "--size", "2", "--preset", "paper"]
    assert main([*argv, "--epochs", "30", "--negative", "3", "--evaluate"]) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[0]: line for line in out.splitlines()}
    assert "reconstruction (gensim protocol)" in lines
    assert "reconstruction (paper protocol)" in lines
    gensim_rank = float(lines["reconstruction (gensim protocol)"].split("mean_rank=")[1].split()[0])
    paper_rank = float(lines["reconstruction (paper protocol)"].split("mean_rank=")[1].split()[0])
    assert gensim_rank == pytest.approx(paper_rank + 1)
    # the preset's 50 negatives do not fit 7 nodes: the error says so
    assert main(argv) == 2
    assert "Cannot sample 50 negative nodes" in capsys.readouterr().err
    # the geometry option reaches the model and is saved with it
    saved = tmp_path / "h.npz"
    hyper = [*argv, "--epochs", "5", "--negative", "3", "--geometry", "hyperboloid"]
    assert main([*hyper, "--save", str(saved)]) == 0
    assert PoincareModel.load(str(saved)).geometry == "hyperboloid"
    assert PoincareModel.load(str(saved)).radius_warmup == PRESETS["paper"]["radius_warmup"]
    assert main([*hyper, "--radius-warmup", "7", "--save", str(saved)]) == 0
    assert PoincareModel.load(str(saved)).radius_warmup == 7
    capsys.readouterr()


def test_cli_evaluates_a_saved_model_on_a_relations_file(tmp_path, capsys):
    rel = tmp_path / "rel.tsv"
    pairs = [("a", "r"), ("b", "r"), ("c", "r"), ("a1", "a"), ("a1", "r"), ("b1", "b"), ("b1", "r")]
    rel.write_text("".join(f"{x}\t{y}\n" for x, y in pairs))
    saved = tmp_path / "m.model"
    common = ["-q", "poincare", str(rel)]
    train = [*common, "--size", "3", "--epochs", "20", "--negative", "2", "--seed", "3"]
    assert main([*train, "--evaluate", "--save", str(saved)]) == 0
    trained = [x for x in capsys.readouterr().out.splitlines() if x.startswith("reconstruction")]
    assert len(trained) == 2
    # the saved model's evaluation, reproduced from its file, without training
    assert main([*common, "--load", str(saved), "--evaluate"]) == 0
    out = capsys.readouterr().out
    assert "trained in" not in out
    assert [x for x in out.splitlines() if x.startswith("reconstruction")] == trained
    # a relations file with --load but without --evaluate would be ignored: refused
    assert main([*common, "--load", str(saved)]) == 2
    assert "only read by --evaluate" in capsys.readouterr().err
    assert main(["-q", "poincare", "--evaluate", "--load", str(saved)]) == 2
    assert "needs the relations file" in capsys.readouterr().err
    assert main(["-q", "poincare"]) == 2
    assert "give a relations file" in capsys.readouterr().err
