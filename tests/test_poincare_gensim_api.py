"""Poincaré: gensim's API details (sampling hooks, feasibility rule, persistence
arguments, gensim-saved models, keyed-vector queries) and the Rust evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from embedrs.models.poincare import (
    PRESETS,
    LinkPredictionEvaluation,
    PoincareModel,
    ReconstructionEvaluation,
)


def closure(branching: int = 3, depth: int = 3) -> list:
    """(child, ancestor) pairs of the transitive closure of a complete tree."""
    parents: dict = {"r": None}
    frontier = ["r"]
    for _ in range(depth):
        frontier = [f"{p}{b}" for p in frontier for b in range(branching)]
        for c in frontier:
            parents[c] = c[:-1]
    pairs = []
    for node, parent in parents.items():
        a = parent
        while a is not None:
            pairs.append((node, a))
            a = parents[a]
    return pairs


def write_tsv(path, pairs) -> str:
    path.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    return str(path)


def random_ball(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(n, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d * rng.uniform(0.05, 0.97, size=(n, 1))


# -- evaluation ---------------------------------------------------------------------------


def numpy_ranks(kv, relations: dict, exclude_self: bool) -> tuple[float, float]:
    """The reconstruction metrics written out with NumPy, for comparison."""
    ranks, aps = [], []
    for q, pos in relations.items():
        d = kv.distances(kv.index_to_key[q])
        cand = np.ones(len(d), bool)
        cand[list(pos)] = False
        if exclude_self:
            cand[q] = False
        r = np.sort([1 + int((d[cand] < d[p]).sum()) for p in pos])
        ranks += list(r)
        aps.append(np.mean(np.arange(1, len(r) + 1) / (r + np.arange(len(r)))))
    return float(np.mean(ranks)), float(np.mean(aps))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rust_ranking_matches_a_direct_computation(tmp_path, dtype):
    pairs = closure(3, 3)
    model = PoincareModel(pairs, size=5, negative=2, dtype=dtype)
    model.kv.vectors = random_ball(len(model.kv), 5, 3).astype(dtype)
    path = write_tsv(tmp_path / "rel.tsv", pairs)
    for exclude in (False, True):
        ev = ReconstructionEvaluation(path, model.kv, exclude_self=exclude, workers=2)
        got = ev.evaluate()
        want = numpy_ranks(model.kv, ev.relations, exclude)
        assert got["mean_rank"] == pytest.approx(want[0], abs=1e-12)
        assert got["MAP"] == pytest.approx(want[1], abs=1e-12)
    # the two protocols differ by exactly one rank per relation (the node itself)
    g = ReconstructionEvaluation(path, model.kv).evaluate()
    p = ReconstructionEvaluation(path, model.kv, exclude_self=True).evaluate()
    assert g["mean_rank"] - p["mean_rank"] == pytest.approx(1.0)


def test_evaluations_match_gensim_exactly_and_in_parallel(tmp_path):
    gp = pytest.importorskip("gensim.models.poincare")
    pairs = closure(4, 3)
    ours = PoincareModel(pairs, size=3, negative=3, seed=4, workers=1)
    ours.train(epochs=3)
    theirs = gp.PoincareModel(pairs, size=3, negative=3)
    theirs.kv.vectors = ours.kv.vectors.copy()
    path = write_tsv(tmp_path / "rel.tsv", pairs)
    for max_n in (None, 1, 7):
        want = gp.ReconstructionEvaluation(path, theirs.kv).evaluate(max_n=max_n)
        for workers in (1, 2):
            got = ReconstructionEvaluation(path, ours.kv, workers=workers).evaluate(max_n=max_n)
            assert got == want
    train = write_tsv(tmp_path / "train.tsv", pairs[::3])
    test = write_tsv(tmp_path / "test.tsv", [p for i, p in enumerate(pairs) if i % 3])
    want = gp.LinkPredictionEvaluation(train, test, theirs.kv).evaluate()
    assert LinkPredictionEvaluation(train, test, ours.kv).evaluate() == want
    # the paper's protocol only removes the node itself from the candidates
    paper = LinkPredictionEvaluation(train, test, ours.kv, exclude_self=True).evaluate()
    assert paper["mean_rank"] == pytest.approx(want["mean_rank"] - 1)


def test_evaluation_accepts_gensim_keyed_vectors(tmp_path):
    gp = pytest.importorskip("gensim.models.poincare")
    pairs = closure(2, 3)
    theirs = gp.PoincareModel(pairs, size=2, negative=2)
    path = write_tsv(tmp_path / "rel.tsv", pairs)
    want = gp.ReconstructionEvaluation(path, theirs.kv).evaluate()
    assert ReconstructionEvaluation(path, theirs.kv).evaluate() == want


# -- negative sampling: gensim's rule and hooks ------------------------------------------


def test_feasibility_rule_is_gensims():
    # gensim's build_vocab docstring graph: 'kangaroo' relates to both other nodes,
    # gensim counts the node itself as a possible negative, so negative=1 trains
    model = PoincareModel([("kangaroo", "marsupial"), ("kangaroo", "mammal")], negative=1)
    model.train(epochs=5)
    assert np.isfinite(model.kv.vectors).all()
    model = PoincareModel([("kangaroo", "marsupial"), ("kangaroo", "mammal")], negative=2)
    with pytest.raises(ValueError, match="Cannot sample 2 negative nodes from a set of 1 "):
        model.train(epochs=1)
    with pytest.raises(ValueError, match="Cannot sample 2 negative nodes from a set of 1 "):
        model._sample_negatives(model.kv.get_index("kangaroo"))


def test_sampling_hooks_match_gensim():
    gp = pytest.importorskip("gensim.models.poincare")
    pairs = closure(3, 3)
    ours = PoincareModel(pairs, negative=4, seed=7)
    theirs = gp.PoincareModel(pairs, negative=4, seed=7)
    for _ in range(600):  # crosses several refills of the 2000-draw buffer
        assert list(ours._get_candidate_negatives()) == list(theirs._get_candidate_negatives())
    root = ours.kv.get_index("r")  # no relations: the rejection branch
    leaf = ours.kv.get_index("r000")  # 3 of 40 nodes related: the weighted branch
    for node in (root, leaf, root, leaf):
        assert ours._sample_negatives(node) == theirs._sample_negatives(node)


def test_sampled_negatives_are_distinct_and_unrelated():
    pairs = closure(3, 3)
    model = PoincareModel(pairs, negative=10, seed=3)
    for node, related in model.node_relations.items():
        negs = model._sample_negatives(node)
        assert len(negs) == len(set(negs)) == 10
        assert not set(negs) & related
    batch = model._sample_negatives_batch([0, 1])
    assert [len(b) for b in batch] == [10, 10]


def test_handle_duplicates_sums_into_the_last_occurrence():
    updates = np.array([[0.5, 0.5], [0.1, 0.2], [0.3, -0.2], [1.0, 1.0]])
    PoincareModel._handle_duplicates(updates, [0, 1, 0, 0])
    np.testing.assert_array_equal(updates, [[0, 0], [0.1, 0.2], [0, 0], [1.8, 1.3]])


# -- persistence --------------------------------------------------------------------------


def test_save_accepts_gensims_arguments(tmp_path):
    model = PoincareModel(closure(2, 2), size=3, negative=2)
    model.train(epochs=2)
    path = tmp_path / "m.model"
    model.save(path, sep_limit=1, separately=["kv"], pickle_protocol=2, ignore=())
    loaded = PoincareModel.load(path)
    np.testing.assert_array_equal(loaded.kv.vectors, model.kv.vectors)
    assert list(tmp_path.iterdir()) == [path]  # one file, whatever sep_limit says


def test_loads_a_model_saved_by_gensim(tmp_path):
    gp = pytest.importorskip("gensim.models.poincare")
    pairs = closure(2, 3)
    theirs = gp.PoincareModel(pairs, size=3, negative=2, alpha=0.2, burn_in=3, seed=5)
    theirs.train(epochs=2)
    for kwargs in ({}, {"sep_limit": 1}):
        path = str(tmp_path / f"g{len(kwargs)}.model")
        theirs.save(path, **kwargs)
        ours = PoincareModel.load(path)
        np.testing.assert_array_equal(ours.kv.vectors, theirs.kv.vectors)
        assert ours.kv.index_to_key == theirs.kv.index_to_key
        assert ours.all_relations == theirs.all_relations
        assert dict(ours.node_relations) == dict(theirs.node_relations)
        assert (ours.size, ours.negative, ours.train_alpha, ours.burn_in) == (3, 2, 0.2, 3)
        assert ours.seed == 5 and ours._burn_in_done
        before = ours.kv.vectors.copy()
        ours.train(epochs=2)
        assert not np.allclose(before, ours.kv.vectors)
    wrong = str(tmp_path / "kv.model")
    theirs.kv.save(wrong)
    with pytest.raises(ValueError, match="not a PoincareModel"):
        PoincareModel.load(wrong)


# -- keyed-vector queries ------------------------------------------------------------------


def test_rank_closer_than_most_similar_to_given_match_gensim():
    gp = pytest.importorskip("gensim.models.poincare")
    pairs = closure(3, 2)
    ours = PoincareModel(pairs, size=4, negative=2).kv
    theirs = gp.PoincareModel(pairs, size=4, negative=2).kv
    vectors = random_ball(len(ours), 4, 9)
    ours.vectors, theirs.vectors = vectors.copy(), vectors.copy()
    keys = ours.index_to_key
    for a in keys[:6]:
        for b in keys[::3]:
            assert ours.rank(a, b) == theirs.rank(a, b)
            assert ours.closer_than(a, b) == theirs.closer_than(a, b)
        assert ours.most_similar_to_given(a, keys[5:11]) == theirs.most_similar_to_given(
            a, keys[5:11]
        )
    assert ours.rank("r", "r") == 1  # nothing is closer than distance 0


# -- preset -------------------------------------------------------------------------------


def test_paper_preset_and_overrides():
    model = PoincareModel.from_preset(closure(2, 2), size=3, negative=2, seed=1)
    settings = PRESETS["paper"]
    assert model.negative == 2 and model.size == 3
    assert model.train_alpha == settings["alpha"] and model.negative_sampling == "uniform"
    assert model.regularization_coeff == settings["regularization_coeff"]
    assert model.preset_epochs == settings["epochs"]
    assert model.geometry == "hyperboloid"
    assert model.radius_warmup == settings["radius_warmup"] > 0
    plain = PoincareModel(closure(2, 2))
    assert plain.preset_epochs is None and plain.geometry == "ball"  # gensim's defaults stay
    assert plain.radius_warmup == 0
    with pytest.raises(ValueError, match="preset"):
        PoincareModel.from_preset(closure(2, 2), "fast")
