"""Pictures and exports of embeddings: the last step of the usual workflow.

* :func:`tsne_keyed_vectors` / :func:`plot_keyed_vectors`: t-SNE of the most
  frequent words of a KeyedVectors (anything with ``index_to_key`` and
  ``vectors``, e.g. gensim's or embedrs') to 2-D, then a labelled scatter PNG.
* :func:`plot_matrix`: t-SNE of a matrix with one label per row to a scatter
  PNG coloured by label.
* :func:`scatter_png`: the plotting step alone, for coordinates you have.
* :func:`normalize_coords` / :func:`to_json_records`: coordinates scaled to
  ``[0, 1]`` as ``{"label": ..., "point": [x, y]}`` (or ``"path"``) records
  for a web viewer.

Plotting needs matplotlib (``pip install embedrs[viz]``); it is imported only
when a PNG is drawn and never touches the global pyplot state.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

__all__ = [
    "normalize_coords",
    "plot_keyed_vectors",
    "plot_matrix",
    "scatter_png",
    "to_json_records",
    "tsne_keyed_vectors",
]

PathLike = Union[str, "os.PathLike[str]"]


def _matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting needs matplotlib: install it with `pip install embedrs[viz]` "
            "(or `pip install matplotlib`)"
        ) from exc
    return Figure, FigureCanvasAgg


def _tsne(x: np.ndarray, **tsne_params: Any) -> np.ndarray:
    from embedrs.manifold import TSNE

    params = {"n_components": 2, "random_state": 0}
    params.update(tsne_params)
    n = x.shape[0]
    if "perplexity" not in tsne_params:
        # Small inputs: keep scikit-learn's default when possible, else shrink it.
        params["perplexity"] = min(30.0, max((n - 1) / 3.0, 1.0))
    return TSNE(**params).fit_transform(x)


def _keyed_matrix(kv: Any, top_n: int | None) -> tuple[list[str], np.ndarray]:
    keys = list(kv.index_to_key)
    if top_n is not None:
        if top_n < 2:
            raise ValueError(f"top_n must be at least 2, got {top_n}")
        keys = keys[:top_n]
    vectors = getattr(kv, "vectors", None)
    if vectors is not None:
        x = np.asarray(vectors)[: len(keys)]
    else:
        x = np.vstack([np.asarray(kv[k]) for k in keys])
    if len(keys) < 2:
        raise ValueError("need at least 2 vectors for t-SNE")
    return [str(k) for k in keys], np.asarray(x, dtype=np.float32)


def tsne_keyed_vectors(
    kv: Any, top_n: int | None = 500, **tsne_params: Any
) -> tuple[list[str], np.ndarray]:
    """t-SNE of the ``top_n`` first (most frequent) keys of a KeyedVectors.

    Parameters
    ----------
    kv : KeyedVectors-like
        Object with ``index_to_key`` (keys, most frequent first) and
        ``vectors`` (or ``kv[key]``).
    top_n : int or None, default=500
        Number of keys to embed; None for all.
    **tsne_params
        Parameters of :class:`embedrs.manifold.TSNE` (default
        ``random_state=0`` and a perplexity suited to the size).

    Returns
    -------
    keys : list of str
        The keys embedded, in order.
    coords : ndarray of shape (n, n_components)
        Their t-SNE coordinates.
    """
    keys, x = _keyed_matrix(kv, top_n)
    return keys, _tsne(x, **tsne_params)


def scatter_png(
    coords: np.ndarray,
    path: PathLike,
    *,
    labels: Sequence[Any] | None = None,
    annotations: Sequence[str] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (10.0, 10.0),
    dpi: int = 100,
    point_size: float | None = None,
) -> str:
    """Draws 2-D points to a PNG, coloured by ``labels`` and/or annotated.

    Parameters
    ----------
    coords : ndarray of shape (n, 2)
        Point coordinates.
    path : str or PathLike
        Output PNG file.
    labels : sequence, optional
        One class label per point; points are coloured by class with a legend
        (up to 20 classes in the legend).
    annotations : sequence of str, optional
        Text drawn next to each point (e.g. words).
    title : str, optional
        Figure title.
    figsize : (float, float), default=(10, 10)
        Figure size in inches.
    dpi : int, default=100
        Resolution.
    point_size : float, optional
        Marker size; chosen from the number of points when None.

    Returns
    -------
    str
        The path written.
    """
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] < 2:
        raise ValueError(f"coords must have shape (n, 2), got {coords.shape}")
    n = coords.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} points")
    if annotations is not None and len(annotations) != n:
        raise ValueError(f"got {len(annotations)} annotations for {n} points")
    Figure, FigureCanvasAgg = _matplotlib()
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    size = point_size if point_size is not None else float(np.clip(4000.0 / max(n, 1), 0.5, 30.0))
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=size, c="tab:blue", linewidths=0)
    else:
        label_arr = np.asarray([str(v) for v in labels])
        classes = sorted(set(label_arr.tolist()), key=lambda s: (len(s), s))
        cmap_name = "tab10" if len(classes) <= 10 else "tab20"
        import matplotlib

        cmap = matplotlib.colormaps[cmap_name]
        for c_i, cls in enumerate(classes):
            mask = label_arr == cls
            ax.scatter(
                coords[mask, 0],
                coords[mask, 1],
                s=size,
                color=cmap(c_i % cmap.N),
                label=cls,
                linewidths=0,
            )
        if len(classes) <= 20:
            ax.legend(markerscale=max(1.0, 30.0 / size) ** 0.5, loc="best", fontsize="small")
    if annotations is not None:
        for (x, y), text in zip(coords[:, :2], annotations):
            ax.annotate(
                str(text), (x, y), fontsize=8, alpha=0.8, xytext=(2, 2), textcoords="offset points"
            )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    fig.tight_layout()
    from embedrs._persist import save_figure

    return save_figure(fig, path, dpi=dpi)


def plot_keyed_vectors(
    kv: Any,
    path: PathLike,
    top_n: int | None = 300,
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (14.0, 14.0),
    **tsne_params: Any,
) -> tuple[list[str], np.ndarray]:
    """t-SNE of a KeyedVectors' ``top_n`` most frequent words to a labelled PNG.

    Parameters
    ----------
    kv : KeyedVectors-like
        Object with ``index_to_key`` and ``vectors`` (or ``kv[key]``).
    path : str or PathLike
        Output PNG file.
    top_n : int or None, default=300
        Number of words (the first in ``index_to_key``).
    title : str, optional
        Figure title.
    figsize : (float, float), default=(14, 14)
        Figure size in inches.
    **tsne_params
        Parameters of :class:`embedrs.manifold.TSNE`.

    Returns
    -------
    words : list of str
    coords : ndarray of shape (n, 2)
    """
    _matplotlib()  # fail early, before the t-SNE run
    words, coords = tsne_keyed_vectors(kv, top_n, **tsne_params)
    scatter_png(coords, path, annotations=words, title=title, figsize=figsize)
    return words, coords


def plot_matrix(
    X: Any,
    labels: Sequence[Any] | None,
    path: PathLike,
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (10.0, 10.0),
    **tsne_params: Any,
) -> np.ndarray:
    """t-SNE of a matrix (one row per sample) to a scatter PNG coloured by label.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input vectors.
    labels : sequence or None
        One label per row (colours and legend), or None for one colour.
    path : str or PathLike
        Output PNG file.
    title : str, optional
        Figure title.
    figsize : (float, float), default=(10, 10)
        Figure size in inches.
    **tsne_params
        Parameters of :class:`embedrs.manifold.TSNE`.

    Returns
    -------
    ndarray of shape (n_samples, 2)
        The t-SNE coordinates.
    """
    _matplotlib()
    x = np.asarray(X)
    if labels is not None and len(labels) != x.shape[0]:
        raise ValueError(f"got {len(labels)} labels for {x.shape[0]} rows")
    coords = _tsne(x, **tsne_params)
    scatter_png(coords, path, labels=labels, title=title, figsize=figsize)
    return coords


def normalize_coords(coords: Any) -> np.ndarray:
    """Scales each column of ``coords`` to ``[0, 1]`` (constant columns map to 0.5).

    Parameters
    ----------
    coords : array-like of shape (n, d)

    Returns
    -------
    ndarray of shape (n, d)
    """
    c = np.asarray(coords, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"coords must be 2-D, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("coords contain NaN or infinity")
    lo = c.min(axis=0) if len(c) else np.zeros(c.shape[1])
    span = (c.max(axis=0) - lo) if len(c) else np.ones(c.shape[1])
    out = np.full_like(c, 0.5)
    ok = span > 0
    out[:, ok] = (c[:, ok] - lo[ok]) / span[ok]
    return out


def to_json_records(
    coords: Any,
    labels: Sequence[Any] | None = None,
    *,
    key: str = "label",
    path: PathLike | None = None,
    normalize: bool = True,
) -> list[dict[str, Any]]:
    """Coordinates as ``{"label": ..., "point": [x, y]}`` records for a web viewer.

    Parameters
    ----------
    coords : array-like of shape (n, d)
        Coordinates (normalised to ``[0, 1]`` per axis unless ``normalize=False``).
    labels : sequence, optional
        One label (or image path) per point; the row index when None.
    key : {'label', 'path'}, default='label'
        Name of the label field (``'path'`` for image viewers).
    path : str or PathLike, optional
        When given, the records are also written there as a JSON list.
    normalize : bool, default=True
        Scale coordinates to ``[0, 1]``.

    Returns
    -------
    list of dict
    """
    if key not in ("label", "path"):
        raise ValueError(f"key must be 'label' or 'path', got {key!r}")
    c = normalize_coords(coords) if normalize else np.asarray(coords, dtype=np.float64)
    if labels is not None and len(labels) != len(c):
        raise ValueError(f"got {len(labels)} labels for {len(c)} points")
    records = []
    for i, point in enumerate(c):
        lab = labels[i] if labels is not None else i
        if isinstance(lab, np.generic):
            lab = lab.item()
        records.append({key: lab, "point": [float(v) for v in point]})
    if path is not None:
        from embedrs._persist import atomic_open

        with atomic_open(path, "w", encoding="utf-8", compress=None) as fh:
            json.dump(records, fh, ensure_ascii=False)
    return records
