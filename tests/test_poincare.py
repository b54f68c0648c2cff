"""Poincaré embeddings: training behaviour, bad input, persistence, gensim parity."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from embedrs.models.poincare import (
    LexicalEntailmentEvaluation,
    LinkPredictionEvaluation,
    PoincareKeyedVectors,
    PoincareModel,
    PoincareRelations,
    ReconstructionEvaluation,
)

HERE = os.path.dirname(__file__)


def tree_relations(branching: int = 3, depth: int = 3) -> tuple[list, dict]:
    """Transitive closure of a complete tree, as (child, ancestor) pairs, with node depths."""
    depths = {"r": 0}
    parents = {"r": None}
    frontier = ["r"]
    for d in range(1, depth + 1):
        nxt = []
        for p in frontier:
            for b in range(branching):
                c = f"{p}{b}"
                depths[c] = d
                parents[c] = p
                nxt.append(c)
        frontier = nxt
    pairs = []
    for node in depths:
        a = parents[node]
        while a is not None:
            pairs.append((node, a))
            a = parents[a]
    return pairs, depths


@pytest.fixture()
def tsv(tmp_path):
    pairs, _ = tree_relations(3, 2)
    path = tmp_path / "rel.tsv"
    path.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    return str(path), pairs


def test_training_recovers_depth_order_by_norm():
    pairs, depths = tree_relations(3, 3)
    model = PoincareModel(
        pairs, size=2, negative=8, burn_in=10, alpha=0.5, regularization_coeff=0.0, seed=1
    )
    model.train(epochs=150)
    norms = {k: model.kv.norm(k) for k in depths}
    by_depth = [np.mean([n for k, n in norms.items() if depths[k] == d]) for d in range(4)]
    assert by_depth == sorted(by_depth), by_depth
    assert min(norms, key=norms.get) == "r"
    assert model.kv.closest_parent("r00") in ("r0", "r")
    assert np.isfinite(model.kv.vectors).all()
    assert (np.linalg.norm(model.kv.vectors, axis=1) < 1).all()
    assert model.epoch_losses[-1] < model.epoch_losses[0]


def test_hogwild_workers_train_as_well_as_one(tsv):
    path, _ = tsv
    maps = []
    for workers in (1, 2, 0):
        m = PoincareModel(
            PoincareRelations(path),
            size=3,
            negative=5,
            seed=2,
            alpha=0.3,
            workers=workers,
            negative_sampling="uniform",
        )
        m.train(epochs=100, batch_size=2)
        maps.append(ReconstructionEvaluation(path, m.kv, exclude_self=True).evaluate()["MAP"])
    assert min(maps) > 0.95, maps


def test_reconstruction_map_on_tree(tsv):
    path, _pairs = tsv
    model = PoincareModel(PoincareRelations(path), size=3, negative=5, seed=1, alpha=0.3)
    model.train(epochs=100)
    result = ReconstructionEvaluation(path, model.kv, exclude_self=True).evaluate()
    assert result["MAP"] == 1.0 and result["mean_rank"] == 1.0  # a perfect embedding
    # gensim's protocol ranks each node itself first: a perfect embedding of this tree
    # scores (3 * 1/2 + 9 * (1/2 + 2/3) / 2) / 12 = 0.5625 and mean rank 2
    gensim_style = ReconstructionEvaluation(path, model.kv).evaluate()
    assert gensim_style["MAP"] == pytest.approx(0.5625) and gensim_style["mean_rank"] == 2.0


def test_one_worker_is_reproducible_and_seed_matters():
    pairs, _ = tree_relations(2, 3)

    def run(seed, workers=1, dtype=np.float64):
        m = PoincareModel(pairs, size=3, negative=3, seed=seed, workers=workers, dtype=dtype)
        m.train(epochs=5)
        m.train(epochs=5)
        return m.kv.vectors.copy()

    a, b = run(7), run(7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, run(8))
    v32 = run(7, workers=2, dtype=np.float32)
    assert v32.dtype == np.float32 and np.isfinite(v32).all()
    assert (np.linalg.norm(v32, axis=1) < 1).all()


def test_hyperboloid_geometry_trains_the_same_embedding_kept_in_the_ball(tsv, tmp_path):
    path, _ = tsv

    def make(geometry: str) -> PoincareModel:
        return PoincareModel(
            PoincareRelations(path),
            size=3,
            negative=5,
            seed=4,
            alpha=0.3,
            regularization_coeff=0.0,
            epsilon=1e-4,
            geometry=geometry,
        )

    scores = {}
    for geometry in ("ball", "hyperboloid"):
        m = make(geometry)
        m.train(epochs=100)
        v = m.kv.vectors
        assert np.isfinite(v).all()
        assert (np.linalg.norm(v, axis=1) <= 1 - 1e-4 + 1e-12).all()
        assert m.epoch_losses[-1] < 0.5 * m.epoch_losses[0]
        scores[geometry] = ReconstructionEvaluation(path, m.kv, exclude_self=True).evaluate()
        # the root sits nearest the origin, as in the ball
        norms = {k: m.kv.norm(k) for k in m.kv.index_to_key}
        assert min(norms, key=norms.get) == "r"
    assert scores["hyperboloid"]["MAP"] > 0.95, scores
    # one worker and a seed: reproducible; the geometry is saved with the model
    again = make("hyperboloid")
    again.train(epochs=100)
    assert np.array_equal(again.kv.vectors, m.kv.vectors)
    m.save(str(tmp_path / "h.model"))
    loaded = PoincareModel.load(str(tmp_path / "h.model"))
    assert loaded.geometry == "hyperboloid"
    loaded.train(epochs=1)  # trains on from the saved vectors
    assert np.isfinite(loaded.kv.vectors).all()
    # the norm penalty on the positive node acts in the hyperboloid too: it pulls
    # the parents inwards
    mean_norm = {}
    for coeff in (0.0, 5.0):
        pen = PoincareModel(
            PoincareRelations(path),
            size=3,
            seed=4,
            alpha=0.3,
            geometry="hyperboloid",
            regularization_coeff=coeff,
        )
        pen.train(epochs=50)
        assert np.isfinite(pen.kv.vectors).all()
        mean_norm[coeff] = float(np.linalg.norm(pen.kv.vectors, axis=1).mean())
    assert mean_norm[5.0] < 0.9 * mean_norm[0.0], mean_norm
    with pytest.raises(ValueError, match="geometry"):
        PoincareModel(PoincareRelations(path), geometry="lorentz ball")


def test_radius_warmup_keeps_nodes_near_the_origin_until_it_ends(tsv, tmp_path):
    path, _ = tsv

    def radii(m: PoincareModel) -> np.ndarray:
        n = np.linalg.norm(m.kv.vectors, axis=1)
        return np.log((1 + n) / (1 - n))

    def make(geometry: str, warmup: int) -> PoincareModel:
        return PoincareModel(
            PoincareRelations(path),
            size=3,
            negative=5,
            seed=4,
            alpha=1.0,
            burn_in=2,
            burn_in_alpha=0.5,
            regularization_coeff=0.0,
            geometry=geometry,
            radius_warmup=warmup,
            radius_warmup_start=1.0,
        )

    # global epochs 0-3 (burn-in 2, then 2) are in the warm-up's first quarter: cap 1
    cap = 1.0
    for geometry in ("ball", "hyperboloid"):
        m = make(geometry, 40)
        m.train(epochs=2)
        assert radii(m).max() <= cap + 1e-6, geometry
        free = make(geometry, 0)
        free.train(epochs=2)
        assert radii(free).max() > cap + 0.5, geometry  # the cap is what held them
        # the schedule goes on across train() calls; after it, the full radius
        m.train(epochs=40)
        assert radii(m).max() > cap + 0.5, geometry
        assert np.isfinite(m.kv.vectors).all()
    m.save(str(tmp_path / "w.model"))
    loaded = PoincareModel.load(str(tmp_path / "w.model"))
    assert (loaded.radius_warmup, loaded.radius_warmup_start) == (40, 1.0)
    with pytest.raises(ValueError, match="radius_warmup"):
        PoincareModel(PoincareRelations(path), radius_warmup=-1)
    with pytest.raises(ValueError, match="radius_warmup_start"):
        PoincareModel(PoincareRelations(path), radius_warmup_start=0.0)
    with pytest.raises(ValueError, match="radius_warmup_start"):
        PoincareModel(PoincareRelations(path), radius_warmup_start=float("nan"))


def test_initialisation_matches_gensim():
    gensim_poincare = pytest.importorskip("gensim.models.poincare")
    pairs, _ = tree_relations(2, 2)
    ours = PoincareModel(pairs, size=4, seed=3, negative=2)
    theirs = gensim_poincare.PoincareModel(pairs, size=4, seed=3, negative=2)
    assert ours.kv.index_to_key == theirs.kv.index_to_key
    assert np.array_equal(ours.kv.vectors, theirs.kv.vectors)


def test_numerically_safe_with_extreme_settings():
    pairs, _ = tree_relations(2, 3)
    pairs += [("r", "r0"), ("r0", "r")]  # a cycle
    for dtype in (np.float64, np.float32):
        m = PoincareModel(
            pairs,
            size=2,
            negative=4,
            alpha=1e4,
            burn_in_alpha=1e3,
            init_range=(-0.9, 0.9),
            dtype=dtype,
            workers=2,
            seed=0,
        )
        m.train(epochs=20, batch_size=1)
        assert np.isfinite(m.kv.vectors).all()
        assert (np.linalg.norm(m.kv.vectors.astype(np.float64), axis=1) < 1).all()
        assert np.isfinite(m.epoch_losses).all()


def test_gradient_check_reports_small_error():
    pairs, _ = tree_relations(2, 3)
    m = PoincareModel(pairs, size=3, negative=3, init_range=(-0.3, 0.3))
    m.train(epochs=2, check_gradients_every=1)
    assert 0 < m.max_gradient_error < 1e-5


def test_self_loops_and_duplicates(caplog):
    pairs = [("a", "b"), ("a", "b"), ("c", "c"), ("c", "b"), ("d", "b"), ("e", "b")]
    with caplog.at_level(logging.WARNING, logger="embedrs"):
        m = PoincareModel(pairs, size=2, negative=2)
    assert "self-loop" in caplog.text
    assert m.kv.get_vecattr("b", "count") == 5
    m.train(epochs=10)
    assert np.isfinite(m.kv.vectors).all()


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="size"):
        PoincareModel([("a", "b")], size=0)
    with pytest.raises(ValueError, match="exactly two"):
        PoincareModel([("a", "b", "c")])
    with pytest.raises(ValueError, match="no relations"):
        PoincareModel([])
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(ValueError, match="no relations"):
        PoincareModel(PoincareRelations(str(empty)))
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\nc\td\te\n")
    with pytest.raises(ValueError, match="exactly two"):
        PoincareModel(PoincareRelations(str(bad)))
    # gensim's rule: a node needs `negative` nodes outside its relations, itself included
    m = PoincareModel([("a", "b"), ("c", "b"), ("d", "b")], negative=4)
    with pytest.raises(ValueError, match="Cannot sample 4 negative nodes from a set of 3"):
        m.train(epochs=1)
    for kwargs in (
        {"alpha": -1},
        {"epsilon": 0},
        {"dtype": np.int32},
        {"negative": -1},
        {"init_range": (1, 0)},
    ):
        with pytest.raises(ValueError):
            PoincareModel([("a", "b")], **kwargs)
    with pytest.raises(ValueError, match="epochs"):
        PoincareModel([("a", "b"), ("c", "b")], negative=1).train(epochs=-1)
    with pytest.raises(FileNotFoundError):
        list(PoincareRelations(str(tmp_path / "missing.tsv")))


def test_model_save_load_roundtrip(tmp_path):
    pairs, _ = tree_relations(2, 2)
    m = PoincareModel(pairs, size=3, negative=2, dtype=np.float32)
    m.train(epochs=3)
    path = tmp_path / "model.npz"
    m.save(str(path))
    m2 = PoincareModel.load(str(path))
    assert m2.kv.index_to_key == m.kv.index_to_key
    assert np.array_equal(m2.kv.vectors, m.kv.vectors) and m2.kv.vectors.dtype == np.float32
    assert m2.all_relations == m.all_relations and m2._burn_in_done
    m2.train(epochs=1)
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(ValueError):
        PoincareModel.load(str(tmp_path / "junk.npz"))


def test_word2vec_format_roundtrip_and_gensim_interop(tmp_path):
    pairs, _ = tree_relations(2, 2)
    m = PoincareModel(pairs, size=3, negative=2)
    m.train(epochs=3)
    txt = tmp_path / "v.txt"
    m.kv.save_word2vec_format(str(txt))
    kv = PoincareKeyedVectors.load_word2vec_format(str(txt), datatype=np.float64)
    assert isinstance(kv, PoincareKeyedVectors) and kv.vectors.dtype == np.float64
    # rows are stored by descending relation count, as gensim's (inherited) writer does
    assert sorted(kv.index_to_key) == sorted(m.kv.index_to_key)
    for key in m.kv.index_to_key:
        assert np.array_equal(kv[key], m.kv[key])
    binf = tmp_path / "v.bin"
    m.kv.save_word2vec_format(str(binf), binary=True)
    kvb = PoincareKeyedVectors.load_word2vec_format(str(binf), binary=True)
    assert kvb.index_to_key == kv.index_to_key
    assert np.allclose(kvb.vectors, kv.vectors, atol=1e-7)
    gensim_poincare = pytest.importorskip("gensim.models.poincare")
    g = gensim_poincare.PoincareKeyedVectors.load_word2vec_format(str(binf), binary=True)
    assert g.index_to_key == kvb.index_to_key
    g.save_word2vec_format(str(tmp_path / "g.txt"))
    back = PoincareKeyedVectors.load_word2vec_format(str(tmp_path / "g.txt"))
    assert np.allclose(back.vectors, kvb.vectors)
    (tmp_path / "broken.txt").write_text("2 3\na 0.1 0.2\n")
    with pytest.raises(ValueError, match="line 2"):
        PoincareKeyedVectors.load_word2vec_format(str(tmp_path / "broken.txt"))


# -- parity with gensim on the same vectors ----------------------------------------------


@pytest.fixture()
def same_vectors(tmp_path):
    gensim_poincare = pytest.importorskip("gensim.models.poincare")
    pairs, _ = tree_relations(3, 3)
    rng = np.random.default_rng(0)
    n_nodes = len({x for p in pairs for x in p})
    directions = rng.normal(size=(n_nodes, 4))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    vectors = directions * rng.uniform(0.05, 0.95, size=(n_nodes, 1))
    ours = PoincareModel(pairs, size=4, negative=2)
    theirs = gensim_poincare.PoincareModel(pairs, size=4, negative=2)
    assert ours.kv.index_to_key == theirs.kv.index_to_key
    ours.kv.vectors = vectors.copy()
    theirs.kv.vectors = vectors.copy()
    path = tmp_path / "rel.tsv"
    path.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    return ours.kv, theirs.kv, str(path), pairs, gensim_poincare


def test_reconstruction_and_link_prediction_match_gensim(same_vectors, tmp_path):
    ours, theirs, path, pairs, gp = same_vectors
    for max_n in (None, 5):
        a = ReconstructionEvaluation(path, ours).evaluate(max_n=max_n)
        b = gp.ReconstructionEvaluation(path, theirs).evaluate(max_n=max_n)
        assert a == b
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    train.write_text("".join(f"{a}\t{b}\n" for a, b in pairs[::2]))
    test.write_text("".join(f"{a}\t{b}\n" for a, b in pairs[1::2]))
    a = LinkPredictionEvaluation(str(train), str(test), ours).evaluate()
    b = gp.LinkPredictionEvaluation(str(train), str(test), theirs).evaluate()
    assert a == b


def test_lexical_entailment_matches_gensim(same_vectors, tmp_path, monkeypatch):
    ours, theirs, _, _, gp = same_vectors
    # HyperLex-style keys: rename the nodes "<word>.n.0<k>"
    keys = ours.index_to_key
    renamed = [f"w{i // 2}.n.0{i % 2 + 1}" for i in range(len(keys))]
    for kv in (ours, theirs):
        kv.index_to_key = list(renamed)
        kv.key_to_index = {k: i for i, k in enumerate(renamed)}
    rng = np.random.default_rng(1)
    words = sorted({k.split(".")[0] for k in renamed})
    lines = ["WORD1 WORD2 POS TYPE AVG_SCORE AVG_SCORE_0_10 STD SCORES.."]
    for _ in range(40):
        w1, w2 = rng.choice(words, 2, replace=False)
        lines.append(f"{w1} {w2} N hyp-1 {rng.uniform(0, 6):.2f} 5.0 1.0 1 2 3")
    lines.append("unknownword w1 N no 3.0 5.0 1.0 1 2 3")
    hyper = tmp_path / "hyperlex.txt"
    hyper.write_text("\n".join(lines) + "\n")
    try:
        import pygtrie  # noqa: F401
    except ImportError:  # gensim needs pygtrie only for this prefix index
        monkeypatch.setattr(
            gp.LexicalEntailmentEvaluation,
            "create_vocab_trie",
            staticmethod(LexicalEntailmentEvaluation.create_vocab_trie),
        )
    a = LexicalEntailmentEvaluation(str(hyper)).evaluate_spearman(ours)
    b = gp.LexicalEntailmentEvaluation(str(hyper)).evaluate_spearman(theirs)
    assert np.isfinite(a)
    assert a == pytest.approx(b, abs=1e-12)
    ev = LexicalEntailmentEvaluation(str(hyper))
    trie = ev.create_vocab_trie(ours)
    with pytest.raises(ValueError, match="No matching"):
        ev.score_function(ours, trie, "unknownword", "w1")


def test_keyed_vector_queries_match_gensim(same_vectors):
    ours, theirs, _, _, _ = same_vectors
    keys = ours.index_to_key
    for k in keys[1:10]:  # gensim does not leave out the query node at index 0
        assert ours.distances(k).tolist() == theirs.distances(k).tolist()
        assert ours.distance(k, keys[-1]) == theirs.distance(k, keys[-1])
        assert ours.similarity(k, keys[3]) == theirs.similarity(k, keys[3])
        assert ours.norm(k) == pytest.approx(theirs.norm(k))
        assert ours.difference_in_hierarchy(k, keys[5]) == pytest.approx(
            theirs.difference_in_hierarchy(k, keys[5])
        )
        assert ours.closest_child(k) == theirs.closest_child(k)
        assert ours.closest_parent(k) == theirs.closest_parent(k)
        # (gensim's descendants() fails once the chain ends; ours pads with None)
        assert ours.descendants(k, max_depth=1) == [theirs.closest_child(k)]
        assert ours.ancestors(k) == theirs.ancestors(k)
        assert [n for n, _ in ours.most_similar(k, topn=5)] == [
            n for n, _ in theirs.most_similar(k, topn=5)
        ]
    assert (
        ours.distances(keys[1], keys[4:9]).tolist() == theirs.distances(keys[1], keys[4:9]).tolist()
    )
    vec = ours.vectors[2]
    assert [n for n, _ in ours.most_similar(vec, topn=3)] == [
        n for n, _ in theirs.most_similar(vec, topn=3)
    ]
    with pytest.raises(KeyError):
        ours.distance("nope", keys[0])
    # points on or outside the sphere still give finite distances
    assert np.isfinite(ours.vector_distance_batch(np.array([1.0, 0, 0, 0]), ours.vectors)).all()


def test_binding_rejects_bad_arrays():
    from embedrs import _embedrs

    rel = np.array([[0, 1], [2, 1]], dtype=np.uint32)
    kw = {
        "epochs": 1,
        "alpha": 0.1,
        "negative": 1,
        "epsilon": 1e-5,
        "regularization_coeff": 1.0,
        "batch_size": 1,
        "workers": 1,
        "seed": 0,
        "frequency_negatives": True,
        "first_epoch": 0,
    }
    with pytest.raises(TypeError, match="float32 or float64"):
        _embedrs.poincare_train(np.zeros((3, 2), dtype=np.int64), rel, **kw)
    with pytest.raises(ValueError, match="C-contiguous"):
        _embedrs.poincare_train(np.zeros((2, 3)).T, rel, **kw)
    with pytest.raises(ValueError, match="outside"):
        _embedrs.poincare_train(np.zeros((2, 2)), rel, **kw)
    with pytest.raises(ValueError, match="NaN"):
        _embedrs.poincare_train(np.full((3, 2), np.nan), rel, **kw)
    v = np.full((3, 2), 5.0)  # outside the ball: projected, never NaN
    out = _embedrs.poincare_train(v, rel, **kw)
    assert np.isfinite(v).all() and (np.linalg.norm(v, axis=1) < 1).all()
    assert len(out["epoch_losses"]) == 1
