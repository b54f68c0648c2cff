"""Poincaré embeddings of hierarchies (Nickel & Kiela, 2017), with gensim's API.

The training loop (Riemannian SGD with Hogwild workers) runs in Rust; this
module holds the model state users see (``model.kv.vectors``, the
vocabulary and relations) and the evaluations, with the names and
signatures of :mod:`gensim.models.poincare`.

Examples
--------
>>> from embedrs.models.poincare import PoincareModel
>>> relations = [('kangaroo', 'marsupial'), ('kangaroo', 'mammal'), ('gib', 'cat'),
...              ('cat', 'mammal'), ('marsupial', 'mammal')]
>>> model = PoincareModel(relations, size=2, negative=2)
>>> model.train(epochs=50)
>>> model.kv.norm('mammal') < model.kv.norm('kangaroo')
True
"""

from __future__ import annotations

import bisect
import codecs
import csv
import importlib.util
import json
import logging
import os
import time
import zipfile
from collections import defaultdict
from collections.abc import Generator, Iterable, Iterator
from typing import Any, ClassVar

import numpy as np

from embedrs import _embedrs, _persist
from embedrs._compat import unsupported_class
from embedrs._validate import (
    check_choice,
    check_float,
    check_int,
    check_seed,
    check_topn,
    check_workers,
    param_error,
)
from embedrs.models.keyedvectors import _KEY_TYPES, KeyedVectors
from embedrs.utils import LifecycleEvents

logger = logging.getLogger(__name__)

__all__ = [
    "AUTOGRAD_PRESENT",
    "PRESETS",
    "REAL",
    "LexicalEntailmentEvaluation",
    "LinkPredictionEvaluation",
    "NegativesBuffer",
    "PoincareBatch",
    "PoincareKeyedVectors",
    "PoincareModel",
    "PoincareRelations",
    "ReconstructionEvaluation",
]

_FORMAT_TAG = "embedrs.PoincareModel/1"
#: The parameters an embedrs 0.1 ``.npz`` model file holds (later ones take their defaults).
_LEGACY_PARAMS = frozenset(
    (
        "size", "alpha", "negative", "workers", "epsilon", "regularization_coeff",
        "burn_in", "burn_in_alpha", "init_range", "dtype", "seed", "negative_sampling",
    )
)  # fmt: skip
_TINY = 1e-15


def _open_text(path: Any, encoding: str = "utf8"):
    path = str(path)
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, "r", encoding=encoding, newline="")


def _decoded_lines(path: Any, encoding: str) -> Generator[str, None, None]:
    """The lines of a text file (``.gz`` decompressed), decoded one at a time.

    Decoding line by line (rather than through a text wrapper, which decodes
    8 KiB blocks ahead) lets a decoding error name its exact line.
    """
    name = str(path)
    decoder = codecs.getincrementaldecoder(encoding)()  # LookupError for an unknown encoding
    limit = max(1 << 20, 4 * csv.field_size_limit())
    if name.endswith(".gz"):
        import gzip

        fh: Any = gzip.open(name, "rb")  # noqa: SIM115 - closed below
    else:
        fh = open(name, "rb")  # noqa: SIM115 - closed below
    with fh:
        lineno = 0
        while True:
            raw = fh.readline(limit)
            if not raw:
                break
            lineno += 1
            if len(raw) == limit and not raw.endswith(b"\n"):
                raise ValueError(
                    f"{name}: line {lineno} is longer than {limit} bytes (not a relations file?)"
                )
            try:
                text = decoder.decode(raw)
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{name}: line {lineno}: not valid {encoding} text "
                    f"({exc.reason} at byte {exc.start})"
                ) from None
            if text:
                yield text
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{name}: line {lineno}: not valid {encoding} text "
                f"({exc.reason}: truncated character at the end)"
            ) from None
        if tail:
            yield tail


class PoincareRelations:
    """Stream ``(u, v)`` relations from a delimited text file, one pair per line.

    Parameters
    ----------
    file_path : str or path-like
        File with one relation per line, ``u<delimiter>v`` meaning "u is a v"
        (a ``.gz`` file is decompressed on the fly).
    encoding : str, optional
        Character encoding of the file.
    delimiter : str, optional
        Column separator.
    """

    def __init__(self, file_path: Any, encoding: str = "utf8", delimiter: str = "\t") -> None:
        self.file_path = file_path
        self.encoding = encoding
        self.delimiter = delimiter

    def __iter__(self) -> Iterator[tuple]:
        """Yield each relation as a tuple of strings (rows are not validated here).

        Raises
        ------
        ValueError
            Naming the file and the line, for text that is not valid in
            ``encoding``, a field over :func:`csv.field_size_limit`, or a line
            longer than any relation can be (``/dev/zero``, a binary file).
        """
        name = str(self.file_path)
        lines = _decoded_lines(self.file_path, self.encoding)
        reader = csv.reader(lines, delimiter=self.delimiter)
        try:
            for row in reader:
                yield tuple(row)
        except csv.Error as exc:
            raise ValueError(f"{name}: line {reader.line_num}: {exc}") from None
        finally:
            lines.close()


def _vector_distance_batch(vector_1: np.ndarray, vectors_all: np.ndarray) -> np.ndarray:
    # The same expression as gensim (so that distances, and thus ranks, are
    # bit-identical for points inside the ball), with the conformal factors
    # floored so that points on or outside the sphere give finite values.
    euclidean_dists = np.linalg.norm(vector_1 - vectors_all, axis=1)
    norm = np.linalg.norm(vector_1)
    all_norms = np.linalg.norm(vectors_all, axis=1)
    gamma = 1 + 2 * (
        (euclidean_dists**2)
        / (np.maximum(1 - norm**2, _TINY) * np.maximum(1 - all_norms**2, _TINY))
    )
    return np.arccosh(np.maximum(gamma, 1.0))


class PoincareKeyedVectors(KeyedVectors):
    """Vectors of a Poincaré model with their keys, and hierarchy queries.

    A :class:`~embedrs.models.keyedvectors.KeyedVectors` whose distance is the
    Poincaré-ball distance (as in gensim, where it is a subclass too): only
    the distance family is overridden (:meth:`distance`, :meth:`distances`,
    :meth:`similarity`, :meth:`most_similar`, :meth:`norm`, the hierarchy
    queries). Key look-up, read-only vectors, ``rank``, ``closer_than``,
    ``most_similar_to_given``, adding vectors, the word2vec formats and
    ``save``/``load`` are the base class's, and use this distance where
    they measure one. Vectors are float64 by default in a trained model, as
    in gensim; the base class keeps any float dtype it is given (searches
    over non-float32 matrices run in NumPy).

    Parameters
    ----------
    vector_size : int
        Dimensionality of the vectors.
    vector_count : int
        Number of vector slots to pre-allocate (zeros), filled by
        :meth:`add_vector`.
    dtype : numpy dtype, optional
        Element type of ``vectors``.

    Attributes
    ----------
    vectors : numpy.ndarray
        ``(len(index_to_key), vector_size)`` matrix, one row per node.
    index_to_key : list
        Node keys in row order.
    key_to_index : dict
        Row of each key.
    """

    _stored_as = ("PoincareKeyedVectors", "PoincareModel")

    def __init__(self, vector_size: int, vector_count: int = 0, dtype: Any = np.float32) -> None:
        super().__init__(vector_size, vector_count, dtype=dtype)
        self.max_distance = 0

    def _as_vector(self, node_or_vector: Any) -> np.ndarray:
        if isinstance(node_or_vector, _KEY_TYPES):
            return self.get_vector(node_or_vector)
        return np.asarray(node_or_vector)

    # -- distances ----------------------------------------------------------------------
    @staticmethod
    def vector_distance(vector_1: np.ndarray, vector_2: np.ndarray) -> float:
        """Poincaré distance between two vectors."""
        return _vector_distance_batch(np.asarray(vector_1), np.asarray(vector_2)[np.newaxis, :])[0]

    @staticmethod
    def vector_distance_batch(vector_1: np.ndarray, vectors_all: np.ndarray) -> np.ndarray:
        """Poincaré distances between ``vector_1`` (dim,) and each row of ``vectors_all``."""
        return _vector_distance_batch(np.asarray(vector_1), np.asarray(vectors_all))

    def distance(self, w1: Any, w2: Any) -> float:
        """Poincaré distance between the vectors of nodes ``w1`` and ``w2``.

        Raises
        ------
        KeyError
            If either node is unknown.
        """
        return self.vector_distance(self.get_vector(w1), self.get_vector(w2))

    def similarity(self, w1: Any, w2: Any) -> float:
        """``1 / (1 + distance(w1, w2))``, in (0, 1]."""
        return 1 / (1 + self.distance(w1, w2))

    def distances(self, node_or_vector: Any, other_nodes: Iterable = ()) -> np.ndarray:
        """Distances from a node or vector to ``other_nodes`` (all nodes when empty).

        Parameters
        ----------
        node_or_vector : str, int or numpy.ndarray
            Node key (or row index) or a vector.
        other_nodes : iterable of keys, optional
            Nodes to measure; every node, itself included, when empty.

        Returns
        -------
        numpy.ndarray
            Distances in the order of ``other_nodes``.
        """
        input_vector = self._as_vector(node_or_vector)
        other_nodes = list(other_nodes) if other_nodes is not None else []
        if not other_nodes:
            other_vectors = self.vectors
        else:
            other_vectors = self.vectors[[self.get_index(n) for n in other_nodes]]
        return self.vector_distance_batch(input_vector, other_vectors)

    def most_similar(  # type: ignore[override]
        self, node_or_vector: Any, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list:
        """Nearest nodes by Poincaré distance, closest first.

        Parameters
        ----------
        node_or_vector : str, int or numpy.ndarray
            Query node (left out of the answer) or vector.
        topn : int or None, optional
            Number of results; all nodes when None.
        restrict_vocab : int, optional
            Only search the first ``restrict_vocab`` nodes.

        Returns
        -------
        list of (str, float)
            ``(node, distance)`` pairs in increasing distance.
        """
        topn = check_topn(topn, len(self.index_to_key))
        restrict_vocab = check_int(restrict_vocab, "restrict_vocab", low=0, allow_none=True)
        if topn == 0:
            return []
        if restrict_vocab:
            all_distances = self.distances(node_or_vector, self.index_to_key[:restrict_vocab])
        else:
            all_distances = self.distances(node_or_vector)
        node_index = None
        if isinstance(node_or_vector, _KEY_TYPES):
            node_index = self.get_index(node_or_vector)
        order = np.argsort(all_distances, kind="stable")
        result = [(self.index_to_key[i], float(all_distances[i])) for i in order if i != node_index]
        return result[:topn] if topn else result

    # -- hierarchy ----------------------------------------------------------------------
    def norm(self, node_or_vector: Any) -> float:
        """Euclidean norm of a node's vector: 0 at the top of the hierarchy, near 1 at leaves."""
        return float(np.linalg.norm(self._as_vector(node_or_vector)))

    def difference_in_hierarchy(self, node_or_vector_1: Any, node_or_vector_2: Any) -> float:
        """``norm(2) - norm(1)``: positive when the first is higher in the hierarchy."""
        return self.norm(node_or_vector_2) - self.norm(node_or_vector_1)

    def _closest(self, node: Any, lower: bool) -> Any:
        all_distances = self.distances(node)
        all_norms = np.linalg.norm(self.vectors, axis=1)
        node_norm = all_norms[self.get_index(node)]
        mask = node_norm >= all_norms if lower else node_norm <= all_norms
        if mask.all():
            return None
        return self.index_to_key[int(np.ma.argmin(np.ma.array(all_distances, mask=mask)))]

    def closest_child(self, node: Any) -> Any:
        """Closest node with a larger norm (lower in the hierarchy), or None."""
        return self._closest(node, lower=True)

    def closest_parent(self, node: Any) -> Any:
        """Closest node with a smaller norm (higher in the hierarchy), or None."""
        return self._closest(node, lower=False)

    def descendants(self, node: Any, max_depth: int = 5) -> list:
        """Chain of closest children from ``node``, ``max_depth`` long (None once it ends)."""
        out: list = []
        current = node
        while len(out) < max_depth:
            current = self.closest_child(current)
            out.append(current)
            if current is None:
                # the chain has ended (norms grow along it, so it cannot cycle):
                # pad at once instead of stepping max_depth times
                out.extend([None] * (max_depth - len(out)))
        return out

    def ancestors(self, node: Any) -> list:
        """Chain of closest parents from ``node`` up to the node nearest the origin."""
        out = []
        ancestor = self.closest_parent(node)
        while ancestor is not None:
            out.append(ancestor)
            ancestor = self.closest_parent(ancestor)
        return out


def _check_init_range(init_range: Any) -> tuple[float, float]:
    """``(low, high)``: two finite numbers with ``low <= high``."""
    if (
        isinstance(init_range, (str, bytes))
        or not hasattr(init_range, "__len__")
        or len(init_range) != 2
    ):
        raise param_error(
            TypeError,
            f"init_range must be a (low, high) pair of numbers, got {init_range!r}",
            "init_range",
        )
    lo = check_float(init_range[0], "init_range[0]")
    hi = check_float(init_range[1], "init_range[1]")
    if lo > hi:
        raise param_error(
            ValueError,
            f"init_range must be (low, high) with low <= high, got {init_range!r}",
            "init_range",
        )
    return lo, hi


def _check_dtype(dtype: Any) -> Any:
    """``numpy.float64`` or ``numpy.float32`` (as a scalar type)."""
    message = f"dtype must be numpy.float64 or numpy.float32, got {dtype!r}"
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise param_error(TypeError, message, "dtype") from None
    if dt in (np.dtype(np.float64), np.dtype(np.float32)):
        return dt.type
    raise param_error(ValueError, message, "dtype")


#: Where :class:`PoincareModel` takes its Riemannian SGD steps (``geometry=``).
GEOMETRIES = ("ball", "hyperboloid")

#: Named settings for :meth:`PoincareModel.from_preset`: constructor
#: arguments plus ``epochs`` (training epochs after burn-in).
#:
#: ``"paper"``: Nickel & Kiela (2017)'s recipe as their reference code runs it
#: (50 uniform negatives, burn-in at a tenth of the learning rate, no norm
#: penalty), with the learning rate in gensim's units (updates summed over a
#: batch, where the reference code averages them), and its steps taken in the
#: hyperboloid as the reference code's current default does (Nickel & Kiela,
#: 2018), plus a radius warm-up that holds the nodes near the origin while the
#: hierarchy settles its directions (``radius_warmup``). On the WordNet noun
#: closure at 10 dimensions the two together bring mean rank from 6.0 (the ball
#: alone) to 3.0, at a higher MAP. Measured in benches/RESULTS.md.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "alpha": 0.3,
        "negative": 50,
        "burn_in": 10,
        "burn_in_alpha": 0.03,
        "regularization_coeff": 0.0,
        "negative_sampling": "uniform",
        "geometry": "hyperboloid",
        "radius_warmup": 120,
        "radius_warmup_start": 3.0,
        "workers": 0,
        "epochs": 200,
    },
}


class PoincareModel(LifecycleEvents):
    """Train Poincaré embeddings of a set of ``(u, v)`` relations ("u is a v").

    Riemannian SGD in the Poincaré ball (Nickel & Kiela, 2017), in Rust,
    Hogwild-parallel over ``workers`` threads. Parameters, attributes and
    methods follow :class:`gensim.models.poincare.PoincareModel`.

    Parameters
    ----------
    train_data : iterable of (str, str) or PoincareRelations
        The relations; ``(a, b)`` does not imply ``(b, a)``.
    size : int, optional
        Number of dimensions.
    alpha : float, optional
        Learning rate after burn-in.
    negative : int, optional
        Negatives per relation (nodes ``w`` with no relation ``(u, w)``).
    workers : int, optional
        Training threads (0: one per core). ``workers=1`` with a fixed
        ``seed`` is bit-reproducible. Counts above four per core (and above
        64) are lowered to that with a ``UserWarning``.
    epsilon : float, optional
        Vectors are kept at norm ``<= 1 - epsilon``.
    regularization_coeff : float, optional
        Weight of the ``|v|^2`` penalty on the positive node (0 disables it).
    burn_in : int, optional
        Burn-in epochs (run once, at the first :meth:`train` call).
    burn_in_alpha : float, optional
        Learning rate during burn-in.
    init_range : (float, float), optional
        Uniform initialisation range of the coordinates.
    dtype : numpy.float64 or numpy.float32, optional
        Element type of the vectors (computation is in float64 either way).
    seed : int, optional
        Seed of the initialisation and of all training draws (0 to ``2**32 - 1``).
    negative_sampling : {'frequency', 'uniform'}, optional
        Distribution of negatives after burn-in (burn-in always draws them by
        node frequency). ``'frequency'`` (default) is gensim's choice and gives
        gensim's results at gensim's settings; ``'uniform'`` is the paper's,
        better with many epochs and negatives (see benches/RESULTS.md).
        Not a gensim parameter.
    geometry : {'ball', 'hyperboloid'}, optional
        Where the Riemannian SGD steps are taken. ``'ball'`` (default) is
        gensim's update in the Poincaré ball. ``'hyperboloid'`` takes exact
        exponential-map steps (at most unit length) in the isometric Lorentz
        model (Nickel & Kiela, 2018), converting the vectors from the ball at
        the start of each :meth:`train` call and back at its end; the loss and
        the stored vectors are the same. On the WordNet noun closure it gave a
        4-15% lower mean rank at the same MAP (benches/RESULTS.md), for 1.15x
        the time per epoch. The ``"paper"`` preset uses it. Not a gensim
        parameter.
    radius_warmup : int, optional
        A curriculum on the radius (0, the default, disables it). During the
        first ``radius_warmup`` epochs, burn-in included and counted across
        :meth:`train` calls, every node is kept within a hyperbolic distance
        of the origin that stays ``radius_warmup_start`` for the first quarter
        of them, then grows linearly to the full radius that ``epsilon``
        allows (12.2 for ``1e-5``). Held near
        the origin, where a move from one branch of the hierarchy to another
        is short, the nodes settle their directions before they spread
        outwards; on the WordNet noun closure this lowered mean rank from
        5.7 to about 3 at 10 dimensions (benches/RESULTS.md). The ``"paper"``
        preset uses it. Not a gensim parameter.
    radius_warmup_start : float, optional
        The cap on the distance from the origin in the first epoch of the
        warm-up (positive).
    """

    def __init__(
        self,
        train_data: Iterable,
        size: int = 50,
        alpha: float = 0.1,
        negative: int = 10,
        workers: int = 1,
        epsilon: float = 1e-5,
        regularization_coeff: float = 1.0,
        burn_in: int = 10,
        burn_in_alpha: float = 0.01,
        init_range: tuple = (-0.001, 0.001),
        dtype: Any = np.float64,
        seed: int = 0,
        negative_sampling: str = "frequency",
        geometry: str = "ball",
        radius_warmup: int = 0,
        radius_warmup_start: float = 3.0,
    ) -> None:
        size = check_int(size, "size", low=1)
        alpha = check_float(alpha, "alpha", low=0.0, low_open=True)
        burn_in_alpha = check_float(burn_in_alpha, "burn_in_alpha", low=0.0, low_open=True)
        negative = check_int(negative, "negative", low=0)
        workers = check_workers(workers, allow_zero=True)
        epsilon = check_float(epsilon, "epsilon", low=0.0, high=1.0, low_open=True, high_open=True)
        regularization_coeff = check_float(regularization_coeff, "regularization_coeff", low=0.0)
        burn_in = check_int(burn_in, "burn_in", low=0)
        seed = check_seed(seed)
        negative_sampling = check_choice(
            negative_sampling, "negative_sampling", ("frequency", "uniform")
        )
        geometry = check_choice(geometry, "geometry", GEOMETRIES)
        radius_warmup = check_int(radius_warmup, "radius_warmup", low=0)
        radius_warmup_start = check_float(
            radius_warmup_start, "radius_warmup_start", low=0.0, low_open=True
        )
        lo, hi = _check_init_range(init_range)
        dtype = _check_dtype(dtype)
        self.train_data = train_data
        self.kv = PoincareKeyedVectors(size, 0, dtype=dtype)
        self.all_relations: list = []
        self.node_relations: dict = defaultdict(set)
        self.size = size
        self.train_alpha = alpha
        self.burn_in_alpha = burn_in_alpha
        self.alpha = alpha
        self.negative = negative
        self.workers = workers
        self.epsilon = epsilon
        self.regularization_coeff = regularization_coeff
        self.burn_in = burn_in
        self._burn_in_done = False
        self.dtype = dtype
        self.seed = seed
        self.init_range = (lo, hi)
        self.negative_sampling = negative_sampling
        self.geometry = geometry
        self.radius_warmup = radius_warmup
        self.radius_warmup_start = radius_warmup_start
        self._np_random = np.random.RandomState(seed)
        self.epochs_trained = 0
        self.epoch_losses: list = []
        self.max_gradient_error = 0.0
        self._negatives_buffer = NegativesBuffer([])
        self._negatives_buffer_size = 2000
        self.preset_epochs: int | None = None
        self.build_vocab(train_data)

    @classmethod
    def from_preset(
        cls, train_data: Iterable, preset: str = "paper", **kwargs: Any
    ) -> PoincareModel:
        """A model with the settings of a named preset (see :data:`PRESETS`).

        Parameters
        ----------
        train_data : iterable of (str, str) or PoincareRelations
            The relations.
        preset : str, optional
            Name of the preset (``"paper"``: the reconstruction quality of
            Nickel & Kiela, 2017).
        **kwargs
            Constructor arguments that override the preset's (``size``,
            ``seed``, ``workers``...).

        Returns
        -------
        PoincareModel
            The model, with ``preset_epochs`` set to the preset's number of
            training epochs: train it with ``model.train(epochs=model.preset_epochs)``.

        Examples
        --------
        >>> from embedrs.models.poincare import PoincareModel
        >>> model = PoincareModel.from_preset([("a", "b"), ("c", "b")], size=2, negative=1)
        >>> model.negative_sampling, model.negative, model.preset_epochs
        ('uniform', 1, 200)
        """
        name = check_choice(preset, "preset", tuple(PRESETS))
        settings = dict(PRESETS[name])
        epochs = settings.pop("epochs")
        settings.update(kwargs)
        model = cls(train_data, **settings)
        model.preset_epochs = epochs
        return model

    # -- vocabulary ---------------------------------------------------------------------
    def build_vocab(self, relations: Iterable, update: bool = False) -> None:
        """Add the nodes and relations of ``relations`` to the model.

        Parameters
        ----------
        relations : iterable of (str, str) or PoincareRelations
            Relations to add.
        update : bool, optional
            Keep existing vectors and only initialise new nodes (otherwise
            every vector is re-initialised).

        Raises
        ------
        ValueError
            If a relation does not have exactly two items, or there are no relations.
        """
        old_len = len(self.kv.index_to_key)
        kv = self.kv
        counts = list(kv.expandos["count"][:old_len]) if "count" in kv.expandos else []
        self_loops = 0
        added = 0
        logger.info("loading relations from train data..")
        for relation in relations:
            if isinstance(relation, (str, bytes)) or len(relation) != 2:
                raise ValueError(f'Relation pair "{relation!r}" should have exactly two items')
            idx = []
            for item in relation:
                i = kv.key_to_index.get(item)
                if i is None:
                    i = kv.key_to_index[item] = len(kv.index_to_key)
                    kv.index_to_key.append(item)
                    counts.append(0)
                counts[i] += 1
                idx.append(i)
            if idx[0] == idx[1]:
                self_loops += 1
            self.node_relations[idx[0]].add(idx[1])
            self.all_relations.append((idx[0], idx[1]))
            added += 1
        if not self.all_relations:
            raise ValueError("the training data holds no relations; pass at least one (u, v) pair")
        if self_loops:
            logger.warning("%d self-loop relations (u, u) will be skipped in training", self_loops)
        n_unique = len(set(self.all_relations))
        if n_unique < len(self.all_relations):
            logger.info(
                "%d duplicate relations kept (they weigh more in training)",
                len(self.all_relations) - n_unique,
            )
        kv.expandos["count"] = np.asarray(counts, dtype=np.int64)
        logger.info("loaded %d relations from train data, %d nodes", added, len(kv))
        self._init_node_probabilities()
        shape_new = (len(kv.index_to_key) - (old_len if update else 0), self.size)
        new = self._np_random.uniform(self.init_range[0], self.init_range[1], shape_new)
        new = new.astype(self.dtype)
        if update:
            kv.vectors = np.ascontiguousarray(np.concatenate([kv.vectors, new]))
        else:
            kv.vectors = np.ascontiguousarray(new)
        kv.vector_size = self.size

    # -- training -----------------------------------------------------------------------
    @property
    def indices_set(self) -> set[int]:
        """gensim's set of every node index, ``{0, ..., len(kv) - 1}``."""
        return set(range(len(self.kv)))

    @property
    def indices_array(self) -> np.ndarray:
        """gensim's array of every node index, ``0 .. len(kv) - 1``."""
        return np.arange(len(self.kv), dtype=np.int64)

    def _check_negative(self) -> None:
        """gensim's feasibility rule, for every node that starts a relation.

        A node ``u`` needs ``negative`` nodes outside its relations:
        ``len(kv) - len(node_relations[u]) >= negative`` (``u`` itself counts,
        as in gensim, which may draw it).
        """
        n = len(self.kv)
        for u, rel in self.node_relations.items():
            remaining = n - len(rel)
            if remaining < self.negative:
                raise ValueError(
                    f"Cannot sample {self.negative} negative nodes from a set of {remaining} "
                    f"negative nodes for {self.kv.index_to_key[u]}"
                )

    # -- gensim's sampling hooks (Python; training itself samples in Rust) ----------------
    def _init_node_probabilities(self) -> None:
        """Node-frequency tables used by :meth:`_get_candidate_negatives` (gensim's names)."""
        counts = np.asarray(self.kv.expandos["count"], dtype=np.float64)
        if not counts.sum() > 0:  # a model saved without counts: every node weighs the same
            counts = np.ones(len(counts))
        self._node_counts_cumsum = np.cumsum(counts)
        self._node_probabilities = counts / counts.sum()

    def _get_candidate_negatives(self) -> np.ndarray:
        """``negative`` node indices drawn by node frequency (may repeat or be related).

        As gensim: drawn from a buffer of ``_negatives_buffer_size`` draws
        from the model's ``numpy`` random state, refilled when it runs low, so
        the same seed and calls give gensim's indices.
        """
        if self._negatives_buffer.num_items() < self.negative:
            top = self._node_counts_cumsum[-1]
            draws = self._np_random.randint(1, top + 1, self._negatives_buffer_size)
            self._negatives_buffer = NegativesBuffer(
                np.searchsorted(self._node_counts_cumsum, draws)
            )
        return self._negatives_buffer.get_items(self.negative)

    def _sample_negatives(self, node_index: int) -> list:
        """``negative`` distinct node indices with no relation from ``node_index``.

        gensim's algorithm: redraw candidates until they are distinct and
        unrelated when the node's relations are under 1% of the nodes, else
        a weighted draw without replacement from the unrelated nodes.

        Raises
        ------
        ValueError
            If fewer than ``negative`` nodes are unrelated to the node.
        """
        node_relations = self.node_relations[node_index]
        remaining = len(self.kv) - len(node_relations)
        if remaining < self.negative:
            raise ValueError(
                f"Cannot sample {self.negative} negative nodes from a set of {remaining} "
                f"negative nodes for {self.kv.index_to_key[node_index]}"
            )
        if len(node_relations) / len(self.kv) < 0.01:
            indices = self._get_candidate_negatives()
            unique = set(indices)
            while len(indices) != len(unique) or unique & node_relations:
                indices = self._get_candidate_negatives()
                unique = set(indices)
        else:
            valid = np.array(list(set(range(len(self.kv))) - node_relations))
            probs = self._node_probabilities[valid]
            probs /= probs.sum()
            indices = self._np_random.choice(valid, size=self.negative, p=probs, replace=False)
        return list(indices)

    def _sample_negatives_batch(self, nodes: Iterable[int]) -> list:
        """:meth:`_sample_negatives` for each node."""
        return [self._sample_negatives(node) for node in nodes]

    @staticmethod
    def _handle_duplicates(vector_updates: np.ndarray, node_indices: list) -> None:
        """Sum the update rows of each repeated node into its last row, zeroing the others.

        gensim's helper (``vectors[idx] -= updates`` applies only one update
        per repeated index); mutates ``vector_updates`` in place.
        """
        positions: dict = defaultdict(list)
        for pos, node in enumerate(node_indices):
            positions[node].append(pos)
        for rows in positions.values():
            if len(rows) > 1:
                vector_updates[rows[-1]] = vector_updates[rows].sum(axis=0)
                vector_updates[rows[:-1]] = 0

    def _run(
        self,
        epochs: int,
        alpha: float,
        frequency: bool,
        batch_size: int,
        print_every: int,
        check_gradients_every: int | None,
        label: str,
    ) -> None:
        relations = np.ascontiguousarray(np.asarray(self.all_relations, dtype=np.uint32))
        state = {"last": time.monotonic(), "done": 0}
        start = time.monotonic()
        interval = max(0.5, min(5.0, float(print_every) / 1000.0))

        def on_progress(done: int, total: int, epoch: int, metric: float | None) -> None:
            now = time.monotonic()
            if now - state["last"] >= interval and total:
                rate = (done - state["done"]) / max(now - state["last"], 1e-9)
                logger.info(
                    "%s epoch %d: %.1f%% of relations, %.0f relations/s",
                    label,
                    epoch + 1,
                    100.0 * done / total,
                    rate,
                )
                state["last"], state["done"] = now, done

        if not self.kv.vectors.flags.c_contiguous or not self.kv.vectors.flags.writeable:
            self.kv.vectors = np.ascontiguousarray(self.kv.vectors).copy()
        report = _embedrs.poincare_train(
            self.kv.vectors,
            relations,
            epochs=int(epochs),
            alpha=float(alpha),
            negative=self.negative,
            epsilon=self.epsilon,
            regularization_coeff=self.regularization_coeff,
            batch_size=int(batch_size),
            workers=check_workers(self.workers, allow_zero=True),
            seed=check_seed(self.seed),
            frequency_negatives=frequency,
            first_epoch=self.epochs_trained,
            check_gradients_every=int(check_gradients_every or 0),
            geometry=getattr(self, "geometry", "ball"),
            radius_warmup=int(getattr(self, "radius_warmup", 0)),
            radius_warmup_start=float(getattr(self, "radius_warmup_start", 3.0)),
            callback=on_progress,
        )
        self.kv.norms = None  # the rows moved: cached norms describe the old ones
        self.epochs_trained += int(epochs)
        losses = list(report["epoch_losses"])
        self.epoch_losses.extend(losses)
        if check_gradients_every:
            self.max_gradient_error = max(self.max_gradient_error, report["max_gradient_error"])
            logger.info(
                "max difference between computed and finite-difference gradients: %.3g",
                report["max_gradient_error"],
            )
        if losses:
            logger.info(
                "%s: %d epochs in %.2fs, mean loss first epoch %.4f, last epoch %.4f",
                label,
                epochs,
                time.monotonic() - start,
                losses[0],
                losses[-1],
            )

    def train(
        self,
        epochs: int,
        batch_size: int = 10,
        print_every: int = 1000,
        check_gradients_every: int | None = None,
    ) -> None:
        """Train for ``epochs`` epochs (after the burn-in, on the first call).

        Parameters
        ----------
        epochs : int
            Passes over the relations.
        batch_size : int, optional
            Relations per batch; the updates of a batch are summed per node
            and applied together.
        print_every : int, optional
            Controls the logging interval (about ``print_every / 1000`` s, 0.5 to 5 s).
        check_gradients_every : int, optional
            Compare analytic gradients with finite differences every this many
            batches and log the largest difference (``max_gradient_error``).

        Raises
        ------
        ValueError
            For a bad argument, or when ``negative`` exceeds the number of
            nodes unrelated to some node.
        """
        epochs = check_int(epochs, "epochs", low=0)
        batch_size = check_int(batch_size, "batch_size", low=1)
        print_every = check_int(print_every, "print_every", low=0)
        check_gradients_every = check_int(
            check_gradients_every, "check_gradients_every", low=0, allow_none=True
        )
        self._check_negative()
        logger.info(
            "training model of size %d with %d workers on %d relations for %d epochs and %d "
            "burn-in epochs, using lr=%.5f burn-in lr=%.5f negative=%d",
            self.size,
            self.workers,
            len(self.all_relations),
            epochs,
            0 if self._burn_in_done else self.burn_in,
            self.train_alpha,
            self.burn_in_alpha,
            self.negative,
        )
        if self.burn_in > 0 and not self._burn_in_done:
            self.alpha = self.burn_in_alpha
            self._run(
                self.burn_in,
                self.burn_in_alpha,
                True,
                batch_size,
                print_every,
                check_gradients_every,
                "burn-in",
            )
            self._burn_in_done = True
        self.alpha = self.train_alpha
        if epochs:
            self._run(
                epochs,
                self.train_alpha,
                self.negative_sampling == "frequency",
                batch_size,
                print_every,
                check_gradients_every,
                "training",
            )
        logger.info("training finished")

    # -- persistence --------------------------------------------------------------------
    #: Constructor parameters saved with the model (name in ``__init__`` -> attribute).
    _SAVED_PARAMS: ClassVar[dict[str, str]] = {
        "size": "size",
        "alpha": "train_alpha",
        "negative": "negative",
        "workers": "workers",
        "epsilon": "epsilon",
        "regularization_coeff": "regularization_coeff",
        "burn_in": "burn_in",
        "burn_in_alpha": "burn_in_alpha",
        "init_range": "init_range",
        "dtype": "dtype",
        "seed": "seed",
        "negative_sampling": "negative_sampling",
        "geometry": "geometry",
        "radius_warmup": "radius_warmup",
        "radius_warmup_start": "radius_warmup_start",
    }

    def save(
        self,
        fname: Any,
        separately: Any = None,
        sep_limit: int = 10 * 1024**2,
        ignore: Any = frozenset(),
        pickle_protocol: int = 4,
    ) -> None:
        """Save the model (vectors, vocabulary, relations, settings) in the embedrs native format.

        ``separately``, ``sep_limit``, ``ignore`` and ``pickle_protocol`` are
        gensim's ``SaveLoad.save`` arguments, accepted for compatibility and
        without effect: the format never pickles and always keeps the arrays
        in the one file (loading can still memory-map nothing else).

        One file, no pickle, written atomically through
        :func:`embedrs._persist.atomic_write` (a failed or killed save leaves
        the previous file intact). Node keys keep their type (str, int,
        float, bool, None, tuples of those); :meth:`load` reads it back.

        Raises
        ------
        TypeError
            If a node key has another type (nothing is written).
        """
        self.add_lifecycle_event("saving", fname_or_handle=str(fname))
        params = {k: getattr(self, attr) for k, attr in self._SAVED_PARAMS.items()}
        params["init_range"] = [float(x) for x in self.init_range]
        params["dtype"] = np.dtype(self.dtype).name
        kv_meta, arrays = self.kv._to_persist(prefix="kv.")
        arrays["relations"] = np.asarray(self.all_relations, dtype=np.int64).reshape(-1, 2)
        arrays["epoch_losses"] = np.asarray(self.epoch_losses, dtype=np.float64).reshape(-1)
        meta = {
            "class": "PoincareModel",
            "format": _FORMAT_TAG,
            "params": params,
            "kv": kv_meta,
            "state": {
                "burn_in_done": bool(self._burn_in_done),
                "epochs_trained": int(self.epochs_trained),
            },
            "lifecycle_events": self._events_for_file(),
        }
        _persist.write_container(fname, meta, arrays)

    @classmethod
    def _load_legacy_npz(cls, fname: str) -> tuple[dict, dict]:
        """The ``.npz`` files of embedrs 0.1, as ``(meta, arrays)`` of the native layout."""
        try:
            raw = _persist.read_npz_member(fname, "meta")
            legacy = json.loads(bytes(raw).decode("utf8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(
                f"{fname}: not an embedrs PoincareModel file ({str(exc)[:200]})"
            ) from None
        if not isinstance(legacy, dict) or legacy.get("format") != _FORMAT_TAG:
            raise ValueError(f"{fname}: not an embedrs PoincareModel file")
        keys = legacy.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"{fname}: corrupt model: keys must be a list of strings")
        arrays = {
            "kv.vectors": _persist.read_npz_member(fname, "vectors"),
            "kv.counts": _persist.read_npz_member(fname, "counts"),
            "relations": _persist.read_npz_member(fname, "relations"),
        }
        losses = legacy.get("epoch_losses", [])
        if not isinstance(losses, list) or not all(isinstance(x, (int, float)) for x in losses):
            raise ValueError(f"{fname}: corrupt model: epoch_losses must be numbers")
        arrays["epoch_losses"] = np.asarray(losses, dtype=np.float64)
        meta = {
            # (the legacy format predates ``geometry``: such models trained in the ball)
            "params": {k: legacy.get(k) for k in cls._SAVED_PARAMS if k in _LEGACY_PARAMS},
            "kv": {
                "vector_size": legacy.get("size"),
                "n_keys": len(keys),
                "keys": "json",
                "key_list": keys,
            },
            "state": {
                "burn_in_done": legacy.get("burn_in_done"),
                "epochs_trained": legacy.get("epochs_trained"),
            },
        }
        return meta, arrays

    @classmethod
    def load(cls, fname: Any) -> PoincareModel:
        """Load a model written by :meth:`save` (or by embedrs 0.1 as ``.npz``).

        Every stored value is validated: parameters by the constructor's own
        rules, relations against the vocabulary, shapes and types of the
        arrays; the file's checksums are verified.

        Raises
        ------
        ValueError
            Naming the file, if it is not an embedrs Poincaré model or is damaged.
        pickle.UnpicklingError
            If the file is a pickle that asks for anything the restricted loader
            refuses to build (as :meth:`Word2Vec.load <embedrs.models.Word2Vec.load>`).
        """
        fname = os.fspath(fname)
        _persist.check_regular_file(fname)
        if _persist.is_container(fname):
            meta, arrays = _persist.read_container(fname)
            if meta.get("class") != "PoincareModel":
                raise ValueError(
                    f"{fname}: holds a {str(meta.get('class'))[:40]!r}, not a PoincareModel"
                )
        elif zipfile.is_zipfile(fname):
            meta, arrays = cls._load_legacy_npz(fname)
        else:
            try:
                obj = _persist.load_gensim_pickle(fname)
            except ValueError as exc:  # (a refused pickle is an UnpicklingError: passes)
                detail = str(exc).removeprefix(f"{fname}: ")[:200]
                raise ValueError(
                    f"{fname}: not an embedrs PoincareModel file, nor a gensim one ({detail})"
                ) from None
            model = cls._from_gensim(obj, fname)
            model._events_from_file(obj.state.get("lifecycle_events", []), fname)
            return model
        params, state = meta.get("params"), meta.get("state")
        if not isinstance(params, dict) or not isinstance(state, dict):
            raise ValueError(f"{fname}: corrupt model: missing parameters")  # noqa: TRY004
        ctor = {k: params[k] for k in cls._SAVED_PARAMS if k in params}
        if isinstance(ctor.get("init_range"), list):
            ctor["init_range"] = tuple(ctor["init_range"])
        model = cls.__new__(cls)
        try:  # the constructor's own checks, on a two-node stand-in graph
            cls.__init__(model, [(0, 1)], **ctor)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{fname}: invalid saved parameter: {exc}") from None
        kv = PoincareKeyedVectors._from_persist(meta.get("kv"), arrays, "kv.", fname)
        if kv.vector_size != model.size or kv.vectors.dtype != np.dtype(model.dtype):
            raise ValueError(
                f"{fname}: corrupt model: vectors of shape {kv.vectors.shape} and type "
                f"{kv.vectors.dtype} for size={model.size}, dtype={np.dtype(model.dtype).name}"
            )
        n = len(kv)
        if len(kv.key_to_index) != n:  # relations name rows: each key must have one
            raise ValueError(f"{fname}: corrupt model: duplicate keys")
        rel = arrays.get("relations")
        if (
            not isinstance(rel, np.ndarray)
            or rel.dtype.kind not in "iu"
            or rel.ndim != 2
            or rel.shape[1] != 2
            or (rel.size and (int(rel.min()) < 0 or int(rel.max()) >= n))
        ):
            raise ValueError(
                f"{fname}: corrupt model: relations must be (m, 2) node indices below {n}"
            )
        losses = arrays.get("epoch_losses", np.zeros(0))
        if losses.ndim != 1 or losses.dtype.kind != "f":
            raise ValueError(f"{fname}: corrupt model: epoch_losses must be a 1-D float array")
        done, epochs = state.get("burn_in_done"), state.get("epochs_trained")
        if type(done) is not bool or type(epochs) is not int or epochs < 0:
            raise ValueError(f"{fname}: corrupt model: invalid training state")
        model._restore(kv, rel, done, epochs, [float(x) for x in losses])
        model._events_from_file(meta.get("lifecycle_events", []), fname)
        return model

    def _restore(
        self, kv: PoincareKeyedVectors, rel: np.ndarray, done: bool, epochs: int, losses: list
    ) -> None:
        """Install loaded vectors, relations and training state (``rel`` already validated)."""
        if "count" not in kv.expandos:
            kv.expandos["count"] = np.zeros(len(kv), dtype=np.int64)
        self.train_data = None
        self.kv = kv
        self._burn_in_done = done
        self.epochs_trained = epochs
        self.epoch_losses = losses
        self._np_random = np.random.RandomState(self.seed)
        self.max_gradient_error = 0.0
        self.all_relations = [(int(a), int(b)) for a, b in rel.tolist()]
        self.node_relations = defaultdict(set)
        for a, b in self.all_relations:
            self.node_relations[a].add(b)
        self._init_node_probabilities()

    @classmethod
    def _from_gensim(cls, obj: Any, fname: str) -> PoincareModel:
        """A model from an inert gensim ``PoincareModel`` pickle (gensim 3.x or 4).

        Only plain values are read from the pickle's state, each checked as
        the constructor checks it; the vectors come through
        :meth:`PoincareKeyedVectors._from_gensim`.
        """
        if not str(getattr(obj, "gensim_class", "")).endswith(".PoincareModel"):
            raise ValueError(
                f"{fname}: holds a {str(getattr(obj, 'gensim_class', ''))[:60]!r}, "
                "not a PoincareModel"
            )
        st = obj.state
        kv = PoincareKeyedVectors._from_gensim(obj, fname)
        n = len(kv)
        if not np.issubdtype(kv.vectors.dtype, np.floating):
            raise ValueError(f"{fname}: corrupt model: vectors are not floating point")
        ctor: dict = {}
        for name, attr in cls._SAVED_PARAMS.items():
            if attr in st and name not in ("workers", "negative_sampling"):
                ctor[name] = st[attr]
        ctor["size"] = kv.vector_size
        ctor["dtype"] = kv.vectors.dtype.type
        if isinstance(ctor.get("init_range"), list):
            ctor["init_range"] = tuple(ctor["init_range"])
        seed = ctor.get("seed", 0)
        if not isinstance(seed, int) or not 0 <= seed < 2**32:
            ctor.pop("seed", None)
        model = cls.__new__(cls)
        try:
            cls.__init__(model, [(0, 1)], **ctor)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{fname}: invalid saved parameter: {exc}") from None
        try:
            rel = np.asarray(list(st.get("all_relations", [])), dtype=np.int64).reshape(-1, 2)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(
                f"{fname}: corrupt model: relations must be node index pairs"
            ) from None
        if rel.size and (int(rel.min()) < 0 or int(rel.max()) >= n):
            raise ValueError(f"{fname}: corrupt model: relations name nodes outside 0..{n}")
        done = st.get("_burn_in_done", False)
        model._restore(kv, rel, bool(done) if isinstance(done, (bool, np.bool_)) else False, 0, [])
        if model.all_relations:
            model.alpha = model.train_alpha
        return model


# -- evaluations --------------------------------------------------------------------------
def _read_pairs(path: Any, embedding: Any, into: dict, items: set) -> None:
    with _open_text(path) as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="\t"), start=1):
            if len(row) != 2:
                raise ValueError(
                    f"{path}: line {lineno}: a relation needs exactly two items, got {row!r}"
                )
            i1 = embedding.get_index(row[0])
            i2 = embedding.get_index(row[1])
            into[i1].add(i2)
            items.update([i1, i2])


def _ranks_and_ap(all_distances: np.ndarray, positives: list, masked: list) -> tuple:
    positive_distances = all_distances[positives]
    negative_distances = np.ma.array(all_distances, mask=False)
    negative_distances.mask[masked] = True
    ranks = (negative_distances < positive_distances[:, np.newaxis]).sum(axis=1) + 1
    return list(ranks), _average_precision(ranks)


def _average_precision(ranks: np.ndarray) -> float:
    """gensim's average precision of one node from its positives' ranks among non-positives."""
    map_ranks = np.sort(ranks) + np.arange(len(ranks))
    return (np.arange(1, len(map_ranks) + 1) / np.sort(map_ranks)).mean()


def _offsets(lists: list) -> tuple[np.ndarray, np.ndarray]:
    """Compressed form of a list of node lists: ``(offsets, items)``."""
    lengths = np.fromiter((len(x) for x in lists), dtype=np.uint64, count=len(lists))
    offsets = np.zeros(len(lists) + 1, dtype=np.uint64)
    np.cumsum(lengths, out=offsets[1:])
    items = np.fromiter((i for x in lists for i in x), dtype=np.uint32, count=int(offsets[-1]))
    return offsets, items


def _mean_rank_and_map(
    embedding: Any, queries: list, positives: list, masked: list, workers: int
) -> tuple:
    """Mean rank and MAP of ``queries``: in Rust when the embedding allows
    (:func:`_rank_queries`), else query by query in NumPy."""
    done = _rank_queries(embedding, queries, positives, masked, workers)
    if done is not None:
        per_query, aps = done
        return np.mean(np.concatenate(per_query)), np.mean(aps)
    ranks: list = []
    aps = []
    for item, pos, mask in zip(queries, positives, masked):
        distances = embedding.distances(embedding.index_to_key[item])
        r, ap = _ranks_and_ap(distances, pos, mask)
        ranks += r
        aps.append(ap)
    return np.mean(ranks), np.mean(aps)


def _rank_queries(
    embedding: Any, queries: list, positives: list, masked: list, workers: int
) -> tuple[list, list] | None:
    """Ranks and average precisions of ``queries`` in Rust, or None to use the NumPy path.

    ``positives[i]`` and ``masked[i]`` (distinct node indices; ``masked``
    holds the positives too) belong to ``queries[i]``. Ranks are gensim's:
    the row and query norms are computed here by NumPy exactly as gensim's
    ``vector_distance_batch`` computes them, and Rust repeats the rest of its
    arithmetic (see ``rust/poincare/eval.rs``).
    """
    vectors = getattr(embedding, "vectors", None)
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or not queries:
        return None
    if vectors.dtype != np.float64:
        # gensim would compute in the vectors' own precision; we rank in float64
        vectors = vectors.astype(np.float64)
    vectors = np.ascontiguousarray(vectors)
    norms = np.ascontiguousarray(np.linalg.norm(vectors, axis=1), dtype=np.float64)
    query_norms = np.array([np.linalg.norm(vectors[q]) for q in queries], dtype=np.float64)
    pos_off, pos_items = _offsets(positives)
    mask_off, mask_items = _offsets(masked)
    state = {"last": time.monotonic()}

    def on_progress(done: int, total: int, _epoch: int, _metric: float | None) -> None:
        now = time.monotonic()
        if now - state["last"] >= 5.0 and total:
            logger.info("evaluation: %d of %d nodes ranked", done, total)
            state["last"] = now

    ranks = _embedrs.poincare_rank(
        vectors,
        np.asarray(queries, dtype=np.uint32),
        pos_off,
        pos_items,
        mask_off,
        mask_items,
        norms,
        query_norms,
        workers=check_workers(workers, allow_zero=True),
        callback=on_progress,
    ).astype(np.int64)
    per_query = np.split(ranks, pos_off[1:-1].astype(np.int64))
    return per_query, [_average_precision(r) for r in per_query]


class ReconstructionEvaluation:
    """Mean rank and MAP of an embedding at reconstructing the relations it was trained on.

    Ranking runs in Rust, in parallel, one distance row per node at a time
    (memory linear in the number of nodes), with gensim's arithmetic, so the
    numbers are gensim's on the same vectors.

    Parameters
    ----------
    file_path : str
        TSV file of relation pairs (``.gz`` is decompressed).
    embedding : PoincareKeyedVectors
        Embedding to evaluate (embedrs's or gensim's).
    exclude_self : bool, optional
        Leave each node out of its own ranking. gensim (the default, False)
        counts the node itself, at distance 0, as a non-neighbour ranked
        first, which caps MAP well below 1 (at 0.5 for a node with one
        relation); the paper's protocol (Nickel & Kiela, 2017, and their
        reference code) leaves it out. Not a gensim parameter.
    workers : int, optional
        Threads for the ranking (0: one per core). Not a gensim parameter.
    """

    def __init__(
        self, file_path: Any, embedding: Any, exclude_self: bool = False, workers: int = 0
    ) -> None:
        items: set = set()
        relations: dict = defaultdict(set)
        _read_pairs(file_path, embedding, relations, items)
        self.items = items
        self.relations = relations
        self.embedding = embedding
        self.exclude_self = bool(exclude_self)
        self.workers = check_workers(workers, allow_zero=True)

    @staticmethod
    def get_positive_relation_ranks_and_avg_prec(
        all_distances: np.ndarray, positive_relations: list
    ):
        """Ranks of the positive relations (among non-positives) and the average precision."""
        return _ranks_and_ap(all_distances, positive_relations, positive_relations)

    def evaluate(self, max_n: int | None = None) -> dict:
        """``{'mean_rank': ..., 'MAP': ...}``."""
        mean_rank, map_ = self.evaluate_mean_rank_and_map(max_n)
        return {"mean_rank": mean_rank, "MAP": map_}

    def _queries(self, max_n: int | None) -> list:
        # gensim's walk: items in set order, stopping after the first item past max_n
        out = []
        for i, item in enumerate(self.items, start=1):
            if item not in self.relations:
                continue
            out.append(item)
            if max_n is not None and i > max_n:
                break
        return out

    def evaluate_mean_rank_and_map(self, max_n: int | None = None) -> tuple:
        """Mean rank and MAP over nodes with relations (the first ``max_n`` if given)."""
        queries = self._queries(max_n)
        positives = [list(self.relations[q]) for q in queries]
        if self.exclude_self:
            masked = [
                p + [q] if q not in self.relations[q] else p for q, p in zip(queries, positives)
            ]
        else:
            masked = positives
        return _mean_rank_and_map(self.embedding, queries, positives, masked, self.workers)


class LinkPredictionEvaluation:
    """Mean rank and MAP of held-out relations, ranking out the known (training) ones.

    Ranking runs in Rust as in :class:`ReconstructionEvaluation`.

    Parameters
    ----------
    train_path : str
        TSV of the relations used for training.
    test_path : str
        TSV of the relations to predict.
    embedding : PoincareKeyedVectors
        Embedding to evaluate.
    exclude_self : bool, optional
        Leave each node out of its own ranking (the paper's protocol); gensim
        (False) ranks it as a candidate. Not a gensim parameter.
    workers : int, optional
        Threads for the ranking (0: one per core). Not a gensim parameter.
    """

    def __init__(
        self,
        train_path: Any,
        test_path: Any,
        embedding: Any,
        exclude_self: bool = False,
        workers: int = 0,
    ) -> None:
        items: set = set()
        relations: dict = {"known": defaultdict(set), "unknown": defaultdict(set)}
        for kind, path in (("known", train_path), ("unknown", test_path)):
            _read_pairs(path, embedding, relations[kind], items)
        self.items = items
        self.relations = relations
        self.embedding = embedding
        self.exclude_self = bool(exclude_self)
        self.workers = check_workers(workers, allow_zero=True)

    @staticmethod
    def get_unknown_relation_ranks_and_avg_prec(
        all_distances: np.ndarray, unknown_relations: list, known_relations: list
    ):
        """Ranks of the unknown relations (known ones left out) and the average precision."""
        return _ranks_and_ap(
            all_distances, unknown_relations, list(unknown_relations) + list(known_relations)
        )

    def evaluate(self, max_n: int | None = None) -> dict:
        """``{'mean_rank': ..., 'MAP': ...}``."""
        mean_rank, map_ = self.evaluate_mean_rank_and_map(max_n)
        return {"mean_rank": mean_rank, "MAP": map_}

    def evaluate_mean_rank_and_map(self, max_n: int | None = None) -> tuple:
        """Mean rank and MAP over nodes with held-out relations."""
        queries = []
        for i, item in enumerate(self.items, start=1):
            if item not in self.relations["unknown"]:
                continue
            queries.append(item)
            if max_n is not None and i > max_n:
                break
        positives = [list(self.relations["unknown"][q]) for q in queries]
        masked = []
        for q in queries:
            m = self.relations["unknown"][q] | self.relations["known"].get(q, set())
            if self.exclude_self:
                m = m | {q}
            masked.append(list(m))
        return _mean_rank_and_map(self.embedding, queries, positives, masked, self.workers)


class _PrefixIndex:
    """Sorted keys with prefix look-up: the part of ``pygtrie.Trie`` the evaluation uses."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = sorted(keys)

    def items(self, prefix: str) -> list:
        start = bisect.bisect_left(self._keys, prefix)
        out = []
        for key in self._keys[start:]:
            if not key.startswith(prefix):
                break
            out.append((key, True))
        if not out:
            raise KeyError(prefix)
        return out


def _spearman(a: list, b: list) -> float:
    try:
        from scipy.stats import spearmanr
    except ImportError:  # plain NumPy fallback: Pearson correlation of average ranks

        def ranks(x):
            x = np.asarray(x, dtype=float)
            order = np.argsort(x, kind="mergesort")
            r = np.empty(len(x))
            sx = x[order]
            i = 0
            while i < len(x):
                j = i
                while j + 1 < len(x) and sx[j + 1] == sx[i]:
                    j += 1
                r[order[i : j + 1]] = (i + j) / 2 + 1
                i = j + 1
            return r

        return float(np.corrcoef(ranks(a), ranks(b))[0, 1])
    return spearmanr(a, b).correlation


class LexicalEntailmentEvaluation:
    """Spearman correlation with HyperLex graded lexical-entailment scores.

    Parameters
    ----------
    filepath : str
        HyperLex file: space-separated, with a header naming ``WORD1``,
        ``WORD2`` and ``AVG_SCORE`` columns.
    """

    def __init__(self, filepath: Any) -> None:
        expected: dict = {}
        with _open_text(filepath) as f:
            reader = csv.DictReader(f, delimiter=" ")
            for lineno, row in enumerate(reader, start=2):
                try:
                    expected[(row["WORD1"], row["WORD2"])] = float(row["AVG_SCORE"])
                except (KeyError, TypeError, ValueError):
                    raise ValueError(
                        f"{filepath}: line {lineno}: expected columns WORD1, WORD2 and a numeric AVG_SCORE"
                    ) from None
        self.scores = expected
        self.alpha = 1000

    def score_function(self, embedding: Any, trie: Any, term_1: str, term_2: str) -> float:
        """How much ``term_1`` is a kind of ``term_2`` (higher: more).

        Raises
        ------
        ValueError
            If no vocabulary key starts with ``term_1.`` or ``term_2.``.
        """
        try:
            terms_1 = self.find_matching_terms(trie, term_1)
            terms_2 = self.find_matching_terms(trie, term_2)
        except KeyError:
            raise ValueError(f"No matching terms found for either {term_1} or {term_2}") from None
        min_distance = np.inf
        best = None
        for t1 in terms_1:
            for t2 in terms_2:
                d = embedding.distance(t1, t2)
                if d < min_distance:
                    best, min_distance = (t1, t2), d
        if best is None:
            raise ValueError(f"no finite distance between {term_1} and {term_2}")
        norm_1 = np.linalg.norm(embedding.get_vector(best[0]))
        norm_2 = np.linalg.norm(embedding.get_vector(best[1]))
        return -1 * (1 + self.alpha * (norm_2 - norm_1)) * min_distance

    @staticmethod
    def find_matching_terms(trie: Any, word: str) -> list:
        """Vocabulary keys starting with ``word + '.'`` (KeyError when none)."""
        return ["".join(key) for key, _ in trie.items(f"{word}.")]

    @staticmethod
    def create_vocab_trie(embedding: Any) -> _PrefixIndex:
        """Prefix index over the keys of ``embedding`` (no pygtrie needed)."""
        return _PrefixIndex(embedding.key_to_index)

    def evaluate_spearman(self, embedding: Any) -> float:
        """Spearman correlation between HyperLex scores and :meth:`score_function`."""
        predicted, expected = [], []
        skipped = 0
        trie = self.create_vocab_trie(embedding)
        for (w1, w2), score in self.scores.items():
            try:
                p = self.score_function(embedding, trie, w1, w2)
            except ValueError:
                skipped += 1
                continue
            predicted.append(p)
            expected.append(score)
        logger.info("skipped pairs: %d out of %d", skipped, len(self.scores))
        return _spearman(expected, predicted)


# ----------------------------------------------------------------------
# gensim module-level names
# ----------------------------------------------------------------------

REAL = np.float32
#: Whether autograd is importable (gensim checks its gradients with it; embedrs's
#: gradients are checked by finite differences in its own tests and never use it).
AUTOGRAD_PRESENT = importlib.util.find_spec("autograd") is not None


class NegativesBuffer:
    """A buffer of pre-drawn negative samples handed out in order (gensim's helper).

    Parameters
    ----------
    items : list or numpy.ndarray
        The samples.
    """

    def __init__(self, items: Any) -> None:
        self._items = items
        self._current_index = 0

    def num_items(self) -> int:
        """Number of samples not yet handed out."""
        return len(self._items) - self._current_index

    def get_items(self, num_items: int) -> Any:
        """The next ``num_items`` samples (fewer at the end of the buffer)."""
        start = self._current_index
        self._current_index += num_items
        return self._items[start : self._current_index]


PoincareBatch = unsupported_class(
    "PoincareBatch",
    "gensim.models.poincare.PoincareBatch",
    "embedrs computes Poincaré batches, losses and gradients in Rust: use PoincareModel.train(...)",
)
