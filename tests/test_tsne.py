"""embedrs.manifold.TSNE: scikit-learn interface, quality, reproducibility, bad input."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from embedrs import _embedrs
from embedrs.manifold import TSNE


def blobs(n_per: int = 60, n_clusters: int = 4, dim: int = 8, seed: int = 0):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-30, 30, size=(n_clusters, dim))
    x = np.vstack([c + rng.standard_normal((n_per, dim)) for c in centers])
    y = np.repeat(np.arange(n_clusters), n_per)
    return x.astype(np.float32), y


def knn_accuracy(emb: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    d = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    votes = labels[nn]
    pred = np.array([np.bincount(v).argmax() for v in votes])
    return float((pred == labels).mean())


def test_fit_transform_attributes_and_separation():
    x, y = blobs()
    tsne = TSNE(perplexity=20, random_state=0, n_jobs=2)
    emb = tsne.fit_transform(x)
    assert emb.shape == (240, 2)
    assert emb.dtype == np.float32
    assert tsne.embedding_ is emb
    assert np.isfinite(emb).all()
    assert tsne.n_iter_ == 999
    assert tsne.learning_rate_ == 50.0  # max(240 / 12 / 4, 50)
    assert tsne.n_features_in_ == 8
    assert 0 < tsne.kl_divergence_ < 2
    assert set(tsne.timings_) == {"neighbors", "affinities", "optimization"}
    assert knn_accuracy(emb, y) > 0.99


def test_fit_returns_self_and_3d():
    x, y = blobs(n_per=40)
    tsne = TSNE(n_components=3, perplexity=15, random_state=1)
    assert tsne.fit(x) is tsne
    assert tsne.embedding_.shape == (160, 3)
    assert knn_accuracy(tsne.embedding_, y) > 0.97


def test_learning_rate_auto_rule():
    x, _ = blobs(n_per=250)
    tsne = TSNE(perplexity=30, random_state=0, early_exaggeration=4.0, max_iter=250).fit(x)
    assert tsne.learning_rate_ == pytest.approx(1000 / 4.0 / 4)
    tsne = TSNE(learning_rate=123.0, max_iter=250, random_state=0).fit(x)
    assert tsne.learning_rate_ == 123.0


def test_reproducible_for_fixed_random_state():
    x, _ = blobs(n_per=50)
    a = TSNE(perplexity=10, random_state=3, n_jobs=1, init="random").fit_transform(x)
    b = TSNE(perplexity=10, random_state=3, n_jobs=1, init="random").fit_transform(x)
    c = TSNE(perplexity=10, random_state=3, n_jobs=2, init="random").fit_transform(x)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    d = TSNE(perplexity=10, random_state=4, n_jobs=1, init="random").fit_transform(x)
    assert not np.array_equal(a, d)


def test_exact_method_matches_barnes_hut_quality():
    x, y = blobs(n_per=30)
    bh = TSNE(perplexity=10, random_state=0, method="barnes_hut").fit(x)
    ex = TSNE(perplexity=10, random_state=0, method="exact").fit(x)
    assert knn_accuracy(ex.embedding_, y) > 0.97
    assert ex.kl_divergence_ == pytest.approx(bh.kl_divergence_, rel=0.15)
    one = TSNE(n_components=1, perplexity=10, random_state=0, method="exact").fit_transform(x)
    assert one.shape == (120, 1) and np.isfinite(one).all()


def test_precomputed_squared_distances_equal_euclidean():
    x, y = blobs(n_per=30)
    x64 = x.astype(np.float64)
    d2 = ((x64[:, None, :] - x64[None, :, :]) ** 2).sum(-1)
    init = np.random.RandomState(0).standard_normal((120, 2)) * 1e-4
    a = TSNE(perplexity=10, init=init).fit(x)
    b = TSNE(perplexity=10, init=init, metric="precomputed").fit(d2)
    # Same affinities up to float32 rounding; the runs then differ only by chaos.
    assert b.kl_divergence_ == pytest.approx(a.kl_divergence_, rel=0.1)
    assert knn_accuracy(b.embedding_, y) > 0.97


def test_cosine_metric_ignores_row_scale():
    x, y = blobs(n_per=30, dim=10)
    scale = np.random.RandomState(1).uniform(0.5, 3.0, size=(120, 1)).astype(np.float32)
    init = np.random.RandomState(0).standard_normal((120, 2)) * 1e-4
    a = TSNE(perplexity=10, metric="cosine", init=init).fit(x)
    b = TSNE(perplexity=10, metric="cosine", init=init).fit(x * scale)
    # Same affinities up to rounding; small clustered inputs make the final KL chaotic.
    assert b.kl_divergence_ == pytest.approx(a.kl_divergence_, rel=0.1)
    assert knn_accuracy(a.embedding_, y) > 0.95 and knn_accuracy(b.embedding_, y) > 0.95


@pytest.mark.slow  # about 30 s: two full t-SNE runs on 1797 digits (CI fast subset skips it)
def test_close_to_scikit_learn_on_digits():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.manifold import TSNE as SkTSNE
    from sklearn.manifold import trustworthiness

    x, y = load_digits(return_X_y=True)
    x, y = x[:600], y[:600]
    ours = TSNE(random_state=0, n_jobs=2).fit(x)
    ref = SkTSNE(random_state=0, n_jobs=2).fit(x)
    assert sklearn.__version__
    assert ours.kl_divergence_ < ref.kl_divergence_ * 1.05
    t_ours = trustworthiness(x, ours.embedding_, n_neighbors=10)
    t_ref = trustworthiness(x, ref.embedding_, n_neighbors=10)
    assert t_ours > t_ref - 0.01
    assert knn_accuracy(ours.embedding_, y) > 0.95


def test_params_protocol_and_clone():
    tsne = TSNE(perplexity=7.0, n_jobs=2)
    params = tsne.get_params()
    assert params["perplexity"] == 7.0 and params["n_jobs"] == 2
    assert params["learning_rate"] == "auto" and params["init"] == "pca"
    assert tsne.set_params(angle=0.3) is tsne and tsne.angle == 0.3
    with pytest.raises(ValueError, match="Invalid parameter"):
        tsne.set_params(nope=1)
    assert "perplexity=7.0" in repr(tsne)
    base = pytest.importorskip("sklearn.base")
    clone = base.clone(tsne)
    assert clone.get_params() == tsne.get_params()


def test_n_iter_alias_warns():
    x, _ = blobs(n_per=20)
    with pytest.warns(FutureWarning, match="max_iter"):
        tsne = TSNE(perplexity=5, n_iter=300, random_state=0).fit(x)
    assert tsne.n_iter_ == 299


def test_verbose_logs_kl(caplog):
    x, _ = blobs(n_per=100)
    with caplog.at_level(logging.INFO, logger="embedrs.manifold.tsne"):
        TSNE(perplexity=10, verbose=1, random_state=0).fit(x)
    assert "KL divergence after 1000 iterations" in caplog.text


def test_exception_in_progress_callback_stops_the_run():
    x, _ = blobs(n_per=400)
    init = np.random.RandomState(0).standard_normal((1600, 2)) * 1e-4

    def log(done: int, total: int, epoch: int, kl: float | None) -> None:
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        _embedrs.tsne_fit(
            x,
            init,
            perplexity=30.0,
            early_exaggeration=12.0,
            learning_rate=200.0,
            max_iter=100000,
            exploration_iter=250,
            n_iter_without_progress=100000,
            min_grad_norm=0.0,
            metric="euclidean",
            method="barnes_hut",
            angle=0.5,
            n_jobs=1,
            progress=log,
        )


def test_duplicate_points_give_finite_embedding():
    x = np.ones((50, 4))
    emb = TSNE(perplexity=5, random_state=0).fit_transform(x)
    assert np.isfinite(emb).all()
    x2, _ = blobs(n_per=20)
    x2 = np.vstack([x2, x2[:10]])  # some exact duplicates
    tsne = TSNE(perplexity=5, random_state=0).fit(x2)
    assert np.isfinite(tsne.embedding_).all() and np.isfinite(tsne.kl_divergence_)


@pytest.mark.parametrize(
    "kwargs, X, match",
    [
        ({}, np.random.rand(20, 3), r"perplexity \(30.0\) must be less than n_samples \(20\)"),
        ({"perplexity": 0.5}, np.random.rand(1, 3), "minimum of 2"),
        ({"perplexity": 5}, np.array([[1.0, np.nan]] * 20), "NaN"),
        ({"perplexity": 5}, np.array([[1.0, np.inf]] * 20), "infinity"),
        ({"perplexity": 5, "n_components": 4}, np.random.rand(20, 5), "inferior to 4"),
        (
            {"perplexity": 5, "metric": "precomputed", "init": "random"},
            np.random.rand(20, 3),
            "square distance matrix",
        ),
        (
            {"perplexity": 5, "metric": "precomputed", "init": "random"},
            -np.ones((20, 20)),
            "Negative values",
        ),
        ({"perplexity": 5, "metric": "precomputed"}, np.ones((20, 20)), 'init="pca"'),
        ({"perplexity": 5, "max_iter": 100}, np.random.rand(20, 3), "max_iter"),
        ({"perplexity": 5, "learning_rate": -1.0}, np.random.rand(20, 3), "learning_rate"),
        ({"perplexity": 5, "learning_rate": "fast"}, np.random.rand(20, 3), "learning_rate"),
        ({"perplexity": 5, "init": "foo"}, np.random.rand(20, 3), "init"),
        ({"perplexity": 5, "init": np.zeros((3, 2))}, np.random.rand(20, 3), "init.shape"),
        ({"perplexity": 5, "method": "fast"}, np.random.rand(20, 3), "method"),
        ({"perplexity": 5, "neighbors": "annoy"}, np.random.rand(20, 3), "neighbors"),
        ({"perplexity": 5, "method": "fft", "n_components": 3}, np.random.rand(20, 3), "fft"),
        ({"perplexity": 5, "metric": "minkowski"}, np.random.rand(20, 3), "metric"),
        ({"perplexity": 5, "angle": 1.5}, np.random.rand(20, 3), "angle"),
        ({"perplexity": 5, "early_exaggeration": 0.5}, np.random.rand(20, 3), "exaggeration"),
        ({"perplexity": -1}, np.random.rand(20, 3), "perplexity"),
        ({"perplexity": 5}, np.zeros(30), "2D array"),
    ],
)
def test_bad_input_raises_value_error(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        TSNE(**kwargs).fit(X)


def test_binding_requires_c_contiguous_float32():
    x = np.asfortranarray(np.random.rand(30, 3).astype(np.float32))
    init = np.zeros((30, 2))
    with pytest.raises(ValueError, match="C-contiguous"):
        _embedrs.tsne_fit(
            x,
            init,
            perplexity=5.0,
            early_exaggeration=12.0,
            learning_rate=200.0,
            max_iter=250,
            exploration_iter=250,
            n_iter_without_progress=300,
            min_grad_norm=1e-7,
            metric="euclidean",
            method="barnes_hut",
            angle=0.5,
            n_jobs=1,
        )
