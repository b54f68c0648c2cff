"""Plot a 2-D Poincaré embedding in the unit disk (matplotlib, optional).

Nodes are coloured by their depth in the hierarchy (longest chain of
``(child, parent)`` relations up to a root), the direct edges are drawn, and a
few labels are placed. matplotlib is imported only when a plot is made;
install it with ``pip install embedrs[viz]``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["hierarchy_depths", "plot_poincare_disk"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting Poincaré embeddings needs matplotlib: pip install embedrs[viz]"
        ) from exc
    return plt


def hierarchy_depths(relations: Iterable[tuple]) -> dict:
    """Depth of every node: 0 for roots, else 1 + the largest depth of its parents.

    Parameters
    ----------
    relations : iterable of (child, parent)
        The hierarchy, possibly transitively closed. Nodes on a cycle get the
        depth of the deepest parent reached before the cycle (never an error).

    Returns
    -------
    dict
        ``{node: depth}``.
    """
    parents: dict = defaultdict(set)
    children: dict = defaultdict(set)
    nodes: dict = {}
    for child, parent in relations:
        nodes.setdefault(child, None)
        nodes.setdefault(parent, None)
        if child != parent:
            parents[child].add(parent)
            children[parent].add(child)
    depth = {n: 0 for n in nodes}
    pending = {n: len(parents[n]) for n in nodes}
    queue = [n for n in nodes if pending[n] == 0]
    while queue:
        node = queue.pop()
        for c in children[node]:
            depth[c] = max(depth[c], depth[node] + 1)
            pending[c] -= 1
            if pending[c] == 0:
                queue.append(c)
    return depth


def _short(key: Any) -> str:
    s = str(key)
    return s.split(".")[0] if s.count(".") >= 2 else s


def plot_poincare_disk(
    model: Any,
    relations: Iterable[tuple] | None = None,
    path: str | None = None,
    labels: Sequence | None = None,
    n_labels: int = 25,
    title: str | None = None,
    figsize: tuple = (8, 8),
    dpi: int = 100,
    cmap: str = "viridis",
    edges: str = "tree",
) -> Any:
    """Draw a 2-D Poincaré embedding in the unit disk.

    Parameters
    ----------
    model : PoincareModel or PoincareKeyedVectors
        A model of ``size=2`` (its relations are used when ``relations`` is None),
        or keyed vectors with 2-D vectors.
    relations : iterable of (child, parent), optional
        Relations giving depths and edges (required with keyed vectors).
    path : str, optional
        Write the figure there (PNG, or any format matplotlib knows by extension).
    labels : sequence of keys, optional
        Nodes to label; by default the ``n_labels`` shallowest nodes.
    n_labels : int, optional
        Number of default labels.
    title : str, optional
        Figure title.
    figsize, dpi : optional
        Figure size (inches) and resolution.
    cmap : str, optional
        matplotlib colour map for depth.
    edges : {'tree', 'all', 'none'}, optional
        Which relations to draw: only those one level apart (the tree of a
        transitive closure), all, or none.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If the vectors are not 2-D or no relations are available.
    ImportError
        If matplotlib is not installed.
    """
    kv = getattr(model, "kv", model)
    vectors = np.asarray(kv.vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[1] != 2:
        raise ValueError(
            f"the disk plot needs 2-D vectors, got {vectors.shape[-1]}-D (train with size=2)"
        )
    if edges not in ("tree", "all", "none"):
        raise ValueError("edges must be 'tree', 'all' or 'none'")
    if relations is None:
        if not hasattr(model, "all_relations"):
            raise ValueError("pass `relations` (child, parent) pairs to plot keyed vectors")
        keys = kv.index_to_key
        relations = [(keys[a], keys[b]) for a, b in model.all_relations]
    relations = [tuple(r) for r in relations]
    depth = hierarchy_depths(relations)
    plt = _pyplot()
    from matplotlib.collections import LineCollection

    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="black", linewidth=1.0))
    index = kv.key_to_index
    if edges != "none":
        segs = [
            (vectors[index[c]], vectors[index[p]])
            for c, p in relations
            if c in index
            and p in index
            and c != p
            and (edges == "all" or depth.get(p, 0) == depth.get(c, 0) - 1)
        ]
        if segs:
            ax.add_collection(
                LineCollection(segs, colors="0.6", linewidths=0.3, alpha=0.5, zorder=1)
            )
    node_depth = np.array([depth.get(k, 0) for k in kv.index_to_key])
    sc = ax.scatter(
        vectors[:, 0], vectors[:, 1], c=node_depth, cmap=cmap, s=9, zorder=2, linewidths=0
    )
    cbar = fig.colorbar(sc, ax=ax, shrink=0.7)
    cbar.set_label("depth in the hierarchy")
    if labels is None:
        order = sorted(
            range(len(kv.index_to_key)), key=lambda i: (node_depth[i], np.linalg.norm(vectors[i]))
        )
        labels = [kv.index_to_key[i] for i in order[: 4 * max(int(n_labels), 0)]]
        explicit = False
    else:
        explicit = True
    placed: list = []
    for key in labels:
        if key not in index or (not explicit and len(placed) >= n_labels):
            continue
        x, y = vectors[index[key]]
        # default labels: skip one that would overlap a label already placed
        if not explicit and any((x - px) ** 2 + (y - py) ** 2 < 0.07**2 for px, py in placed):
            continue
        placed.append((x, y))
        ax.annotate(
            _short(key), (x, y), fontsize=7, zorder=3, xytext=(2, 2), textcoords="offset points"
        )
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        from embedrs._persist import save_figure

        save_figure(fig, path, dpi=dpi)
    return fig
