"""t-SNE at scale (issue 16): the FFT gradient, approximate neighbours, the
automatic choice of both, progress through every phase, and bad input."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
from embedrs.manifold import TSNE
from embedrs.manifold.tsne import InvalidParameterError


def clusters(sizes: tuple[int, ...], dim: int = 10, seed: int = 0):
    """Gaussian clusters of the given sizes with different spreads."""
    rng = np.random.RandomState(seed)
    parts, labels = [], []
    for c, n in enumerate(sizes):
        centre = rng.uniform(-40, 40, size=dim)
        parts.append(centre + (0.5 + c) * rng.standard_normal((n, dim)))
        labels.append(np.full(n, c))
    return np.vstack(parts).astype(np.float32), np.concatenate(labels)


def majority_5nn(emb: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=6).fit(emb).kneighbors(emb, return_distance=False)[:, 1:]
    votes = labels[idx]
    pred = np.array([np.bincount(v).argmax() for v in votes])
    return float((pred == labels).mean())


def test_fft_separates_two_clusters_like_barnes_hut():
    x, y = clusters((300, 150))
    kw = {"perplexity": 20, "random_state": 0, "n_jobs": 2, "max_iter": 400}
    fft = TSNE(method="fft", **kw).fit(x)
    bh = TSNE(method="barnes_hut", **kw).fit(x)
    assert fft.method_ == "fft" and bh.method_ == "barnes_hut"
    assert np.isfinite(fft.embedding_).all()
    assert majority_5nn(fft.embedding_, y) > 0.99
    # Same objective, same optimiser: the KL divergences agree closely.
    assert abs(fft.kl_divergence_ - bh.kl_divergence_) < 0.05 * bh.kl_divergence_
    # The clusters are apart: every point is closer to its own centroid.
    cents = np.stack([fft.embedding_[y == c].mean(0) for c in (0, 1)])
    own = np.linalg.norm(fft.embedding_ - cents[y], axis=1)
    other = np.linalg.norm(fft.embedding_ - cents[1 - y], axis=1)
    assert (own < other).all()


def test_approximate_neighbours_give_the_same_map_quality():
    x, y = clusters((500, 300, 200), dim=20)
    exact = TSNE(perplexity=15, random_state=0, neighbors="exact", max_iter=300).fit(x)
    approx = TSNE(perplexity=15, random_state=0, neighbors="approx", max_iter=300).fit(x)
    assert exact.neighbors_ == "exact" and approx.neighbors_ == "approx"
    assert majority_5nn(approx.embedding_, y) > 0.99
    # Nearly the same neighbours give nearly the same objective.
    assert abs(approx.kl_divergence_ - exact.kl_divergence_) < 0.05 * exact.kl_divergence_


def test_auto_choices_follow_the_size():
    x, _ = clusters((60, 60))
    t = TSNE(perplexity=10, random_state=0, max_iter=250).fit(x)
    assert (t.method_, t.neighbors_) == ("barnes_hut", "exact")
    t3 = TSNE(n_components=3, perplexity=10, random_state=0, max_iter=250).fit(x)
    assert t3.method_ == "barnes_hut"
    assert TSNE().get_params()["method"] == "auto"


def test_verbose_logs_every_phase(caplog):
    x, _ = clusters((200, 100))
    with caplog.at_level(logging.INFO, logger="embedrs.manifold.tsne"):
        TSNE(
            method="fft",
            neighbors="approx",
            perplexity=10,
            verbose=1,
            random_state=0,
            max_iter=1000,
        ).fit(x)
    text = caplog.text
    assert "Computing neighbours" in text and "Computing optimisation" in text
    # lines come from a 100 ms poll: which multiples of 50 it sees depends on timing
    assert re.search(r"Iteration \d+: KL divergence", text)
    assert "approx neighbours" in text and "fft optimisation" in text


def test_verbose_prints_when_logging_is_not_configured(capsys, monkeypatch):
    # a new user's session: no handler would show INFO lines, so they are printed
    from embedrs.manifold import tsne as tsne_module

    monkeypatch.setattr(tsne_module.logger, "propagate", False)
    assert not tsne_module.logger.hasHandlers()
    x, _ = clusters((200, 100))
    TSNE(
        method="fft", neighbors="approx", perplexity=10, verbose=1, random_state=0, max_iter=1000
    ).fit(x)
    out = capsys.readouterr().out
    assert "[t-SNE] Computing neighbours..." in out
    assert re.search(r"\[t-SNE\] Iteration \d+: KL divergence", out)
    assert "KL divergence after 1000 iterations" in out


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "fast"}, "'method'"),
        ({"neighbors": "annoy"}, "'neighbors'"),
        ({"method": "fft", "n_components": 3}, "should be 2 for the fft method"),
        ({"method": "fft", "n_components": 1}, "should be 2 for the fft method"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    x, _ = clusters((20, 20))
    with pytest.raises(InvalidParameterError, match=match):
        TSNE(perplexity=5, **kwargs).fit(x)


def test_approx_neighbours_reject_nan():
    x, _ = clusters((40, 40))
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TSNE(perplexity=5, neighbors="approx").fit(x)
