"""t-distributed Stochastic Neighbor Embedding with scikit-learn's interface.

The work (nearest neighbours, exact or approximate; perplexity calibration;
Barnes-Hut, FFT-interpolated or exact optimisation) runs in Rust on
``n_jobs`` threads with the GIL released;
this module checks the arguments the way scikit-learn does, computes the
initialisation and keeps the fitted attributes.
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from typing import Any

import numpy as np

from embedrs import _embedrs
from embedrs._validate import (
    InvalidParameterError,
    check_choice,
    check_float,
    check_int,
    check_seed,
    check_workers,
    param_error,
)

logger = logging.getLogger(__name__)

__all__ = ["TSNE", "InvalidParameterError"]

_OWNER = "TSNE"
_METRICS = ("euclidean", "l2", "cosine", "precomputed")
_EXPLORATION_MAX_ITER = 250
_METHODS = ("auto", "barnes_hut", "fft", "exact")
_NEIGHBORS = ("auto", "exact", "approx")
_PHASES = ("neighbours", "affinities", "optimisation")


def _report(msg: str, *args: Any) -> None:
    """One progress line: logged at INFO, or printed when nothing would show the log."""
    if logger.isEnabledFor(logging.INFO) and logger.hasHandlers():
        logger.info(msg, *args)
    else:
        print(msg % args, flush=True)


def _resolve_n_jobs(n_jobs: int | None) -> int:
    """Worker threads for ``n_jobs`` (joblib's convention; None means all cores).

    Counts above :func:`embedrs._validate.max_workers` are lowered to it with a warning.
    """
    if n_jobs is None:
        return 0
    if (
        isinstance(n_jobs, (bool, np.bool_))
        or not isinstance(n_jobs, (int, np.integer))
        or n_jobs == 0
    ):
        raise InvalidParameterError(
            f"The 'n_jobs' parameter of TSNE must be None or a non-zero int. Got {n_jobs!r} "
            "instead."
        )
    if n_jobs > 0:
        return check_workers(int(n_jobs), "n_jobs")
    cores = os.cpu_count() or 1
    return max(cores + 1 + int(n_jobs), 1)


def _invalid(name: str, message: str) -> Exception:
    """An :class:`InvalidParameterError` naming parameter ``name`` (``exc.param``)."""
    return param_error(InvalidParameterError, message, name)


def _check_random_state(seed: Any) -> np.random.RandomState:
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(check_seed(seed, "random_state", owner=_OWNER))


def _pca_init(x: np.ndarray, n_components: int) -> np.ndarray:
    """Leading principal components of ``x`` with deterministic signs."""
    xc = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    if xc.shape[1] <= xc.shape[0]:
        cov = xc.T @ xc
        vals, vecs = np.linalg.eigh(cov)
        order = np.argsort(vals)[::-1][:n_components]
        comps = vecs[:, order]
    else:
        _, _, vt = np.linalg.svd(xc, full_matrices=False)
        comps = vt[:n_components].T
    if comps.shape[1] < n_components:
        comps = np.hstack([comps, np.zeros((comps.shape[0], n_components - comps.shape[1]))])
    # Make the largest loading of each component positive (like svd_flip).
    signs = np.sign(comps[np.abs(comps).argmax(axis=0), np.arange(comps.shape[1])])
    signs[signs == 0] = 1.0
    return xc @ (comps * signs)


class TSNE:
    """T-distributed Stochastic Neighbor Embedding (Barnes-Hut, FFT or exact).

    Drop-in for :class:`sklearn.manifold.TSNE` with the same parameters,
    attributes and errors; the computation runs in Rust on ``n_jobs``
    threads. With ``n_jobs=1`` (in fact with any ``n_jobs``) and a fixed
    ``random_state`` the embedding is reproducible. Two additions scale it
    to millions of points: ``method='fft'`` (FIt-SNE's interpolated
    repulsion, chosen by the default ``method='auto'`` for 2-D maps of more
    than 10,000 points, as openTSNE does) and approximate neighbours
    (``neighbors='auto'`` uses them above 150,000 points).

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the embedded space (2 or 3 for ``method='barnes_hut'``).
    perplexity : float, default=30.0
        Effective number of neighbours; must be less than the number of samples.
    early_exaggeration : float, default=12.0
        Factor on the input affinities during the first 250 iterations.
    learning_rate : float or 'auto', default='auto'
        Step size; ``'auto'`` uses ``max(n_samples / early_exaggeration / 4, 50)``.
    max_iter : int, default=None
        Total iterations (at least 250); None means 1000.
    n_iter_without_progress : int, default=300
        Stop after this many iterations without improvement (checked every 50).
    min_grad_norm : float, default=1e-7
        Stop when the gradient norm falls below this.
    metric : {'euclidean', 'cosine', 'precomputed'}, default='euclidean'
        Dissimilarity between samples. Euclidean distances are squared
        before calibrating the affinities, as scikit-learn does;
        ``'precomputed'`` takes a square matrix of distances.
    metric_params : dict, default=None
        Accepted for compatibility; must be None or empty.
    init : {'pca', 'random'} or ndarray of shape (n_samples, n_components), default='pca'
        Initialisation of the embedding.
    verbose : int, default=0
        Report each phase and the KL divergence every 50 iterations. The lines
        go to the logger ``embedrs.manifold.tsne`` at INFO level; when that
        logger has no handler enabled for INFO (logging not configured), they
        are printed to standard output instead, as scikit-learn does.
    random_state : int, RandomState instance or None, default=None
        Seeds the random initialisation (and the PCA one's tie-breaking).
    method : {'auto', 'barnes_hut', 'fft', 'exact'}, default='auto'
        Barnes-Hut approximation in O(N log N); FFT-accelerated interpolation
        in O(N) (Linderman et al. 2019; 2-D only); or the exact O(N^2)
        gradient. ``'auto'`` is ``'fft'`` for a 2-D map of more than 10,000
        points and ``'barnes_hut'`` (scikit-learn's default) otherwise.
    angle : float, default=0.5
        Barnes-Hut trade-off between speed and accuracy (0 is exact).
    n_jobs : int, default=None
        Worker threads; None or -1 use all cores. Counts above four per core
        (and above 64) are lowered to that with a ``UserWarning``.
    n_iter : int, default=None
        Old name of ``max_iter`` (deprecated in scikit-learn 1.5).
    neighbors : {'auto', 'exact', 'approx'}, default='auto'
        Nearest-neighbour search for the affinities: exact brute force, or a
        random-projection forest refined by neighbour descent (recall about
        0.99 on MNIST). ``'auto'`` is exact up to 150,000 points. Ignored for
        ``metric='precomputed'``.

    Attributes
    ----------
    embedding_ : ndarray of shape (n_samples, n_components)
        The embedding (float32).
    kl_divergence_ : float
        KL divergence after optimisation.
    n_iter_ : int
        Index of the last iteration run.
    learning_rate_ : float
        The learning rate used.
    n_features_in_ : int
        Number of input features.
    timings_ : dict
        Seconds spent in ``neighbors``, ``affinities`` and ``optimization``.
    method_ : str
        The gradient method used (``'auto'`` resolved).
    neighbors_ : str
        The neighbour search used, ``'exact'`` or ``'approx'``.

    Examples
    --------
    >>> import numpy as np
    >>> from embedrs.manifold import TSNE
    >>> X = np.random.RandomState(0).rand(100, 5)
    >>> TSNE(perplexity=10, random_state=0).fit_transform(X).shape
    (100, 2)
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        perplexity: float = 30.0,
        early_exaggeration: float = 12.0,
        learning_rate: float | str = "auto",
        max_iter: int | None = None,
        n_iter_without_progress: int = 300,
        min_grad_norm: float = 1e-7,
        metric: str = "euclidean",
        metric_params: dict | None = None,
        init: str | np.ndarray = "pca",
        verbose: int = 0,
        random_state: Any = None,
        method: str = "auto",
        angle: float = 0.5,
        n_jobs: int | None = None,
        n_iter: int | None = None,
        neighbors: str = "auto",
    ) -> None:
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.metric = metric
        self.metric_params = metric_params
        self.init = init
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.angle = angle
        self.n_jobs = n_jobs
        self.n_iter = n_iter
        self.neighbors = neighbors

    # -- scikit-learn estimator protocol ---------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, as a dict.

        Parameters
        ----------
        deep : bool, default=True
            Ignored (no nested estimators); kept for scikit-learn compatibility.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> TSNE:
        """Sets parameters of this estimator.

        Parameters
        ----------
        **params
            Estimator parameters by name.

        Returns
        -------
        TSNE
            This estimator.
        """
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {self!r}. "
                    f"Valid parameters are: {sorted(valid)!r}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = []
        for name in self._param_names():
            value = getattr(self, name)
            default = defaults.get(name)
            same = (value is default) or (
                not isinstance(value, np.ndarray)
                and not isinstance(default, np.ndarray)
                and value == default
            )
            if not same:
                changed.append(f"{name}={value!r}")
        return f"TSNE({', '.join(changed)})"

    # -- validation ------------------------------------------------------

    def _check_params(self) -> tuple[int, float]:
        n_components = check_int(self.n_components, "n_components", low=1, owner=_OWNER)
        perplexity = check_float(
            self.perplexity, "perplexity", low=0.0, low_open=True, owner=_OWNER
        )
        check_float(self.early_exaggeration, "early_exaggeration", low=1.0, owner=_OWNER)
        check_int(self.n_iter_without_progress, "n_iter_without_progress", low=-1, owner=_OWNER)
        check_float(self.min_grad_norm, "min_grad_norm", low=0.0, owner=_OWNER)
        check_float(self.angle, "angle", low=0.0, high=1.0, owner=_OWNER)
        if isinstance(self.learning_rate, str) and self.learning_rate == "auto":
            pass
        else:
            try:
                check_float(
                    self.learning_rate, "learning_rate", low=0.0, low_open=True, owner=_OWNER
                )
            except InvalidParameterError:
                raise _invalid(
                    "learning_rate",
                    "The 'learning_rate' parameter of TSNE must be a str among {'auto'} or a "
                    f"float in the range (0.0, inf). Got {self.learning_rate!r} instead.",
                ) from None
        check_choice(self.method, "method", _METHODS, owner=_OWNER)
        check_choice(self.neighbors, "neighbors", _NEIGHBORS, owner=_OWNER)
        if not isinstance(self.metric, str) or self.metric not in _METRICS:
            raise _invalid(
                "metric",
                f"The 'metric' parameter of TSNE must be one of {_METRICS} in embedrs. "
                f"Got {self.metric!r} instead.",
            )
        if self.metric_params:
            raise _invalid(
                "metric_params", "metric_params is not supported by embedrs' TSNE; leave it None."
            )
        if not (
            self.random_state is None
            or self.random_state is np.random
            or isinstance(self.random_state, np.random.RandomState)
        ):
            check_seed(self.random_state, "random_state", owner=_OWNER)
        if isinstance(self.init, str):
            if self.init not in ("pca", "random"):
                raise _invalid(
                    "init",
                    "The 'init' parameter of TSNE must be a str among {'random', 'pca'} or an "
                    f"instance of 'numpy.ndarray'. Got {self.init!r} instead.",
                )
        elif not isinstance(self.init, np.ndarray):
            raise _invalid(
                "init",
                "The 'init' parameter of TSNE must be a str among {'random', 'pca'} or an "
                f"instance of 'numpy.ndarray'. Got {self.init!r} instead.",
            )
        if self.method in ("barnes_hut", "auto") and n_components > 3:
            raise _invalid(
                "n_components",
                "'n_components' should be inferior to 4 for the barnes_hut algorithm as it "
                "relies on quad-tree or oct-tree.",
            )
        if self.method == "fft" and n_components != 2:
            raise _invalid(
                "n_components",
                "'n_components' should be 2 for the fft method; use method='barnes_hut' "
                "for 3-D or method='exact' for other dimensions.",
            )
        if self.method in ("barnes_hut", "auto") and n_components < 2:
            raise _invalid(
                "n_components",
                "'n_components' should be 2 or 3 for the barnes_hut algorithm; "
                "use method='exact' for a 1-D embedding.",
            )
        if self.n_iter is not None:
            warnings.warn(
                "'n_iter' was renamed to 'max_iter' in scikit-learn 1.5; use 'max_iter'.",
                FutureWarning,
                stacklevel=3,
            )
            if self.max_iter is not None:
                raise _invalid(
                    "n_iter", "Both 'n_iter' and 'max_iter' are set; only set 'max_iter'."
                )
            max_iter = check_int(self.n_iter, "n_iter", low=_EXPLORATION_MAX_ITER, owner=_OWNER)
        elif self.max_iter is None:
            max_iter = 1000
        else:
            max_iter = check_int(self.max_iter, "max_iter", low=_EXPLORATION_MAX_ITER, owner=_OWNER)
        return max_iter, perplexity

    def _check_input(self, X: Any) -> np.ndarray:
        if hasattr(X, "toarray"):
            X = X.toarray()
        try:
            x = np.asarray(X)
        except Exception as exc:
            raise ValueError(f"Could not convert X to a numeric array: {exc}") from exc
        if x.ndim != 2:
            raise ValueError(
                f"Expected 2D array, got {x.ndim}D array instead. Reshape your data, e.g. "
                "with array.reshape(-1, 1) for a single feature or array.reshape(1, -1) for "
                "a single sample."
            )
        if x.dtype.kind == "c" or (
            x.dtype.kind == "O"
            and any(isinstance(v, (complex, np.complexfloating)) for v in x.flat)
        ):
            raise ValueError(
                "Complex data not supported: TSNE needs real numbers (pass X.real or np.abs(X))"
            )
        if x.dtype.kind in "mMV":
            raise ValueError(f"X must contain numbers, got an array of dtype {x.dtype}")
        if x.dtype.kind not in "biuf":
            try:
                x = x.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"X must contain numbers: {exc}") from exc
        if x.shape[0] < 2:
            raise ValueError(
                f"Found array with {x.shape[0]} sample(s) (shape={x.shape}) while a minimum "
                "of 2 is required by TSNE."
            )
        if x.shape[1] < 1:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={x.shape}) while a minimum of 1 is "
                "required by TSNE."
            )
        if x.dtype.kind == "f":
            if np.isnan(x).any():
                raise ValueError(
                    "Input X contains NaN. TSNE needs finite values; impute or drop them."
                )
            if not np.isfinite(x).all():
                raise ValueError(f"Input X contains infinity or a value too large for {x.dtype!r}.")
        x32 = np.require(x, np.float32, ["C", "A"])
        if not np.isfinite(x32).all():
            raise ValueError("Input X contains a value too large for float32.")
        if self.metric == "precomputed":
            if x.shape[0] != x.shape[1]:
                raise ValueError("X should be a square distance matrix")
            if (x32 < 0).any():
                raise ValueError(
                    "Negative values in data passed to TSNE.fit(). With metric='precomputed', "
                    "X should contain positive distances."
                )
        return x32

    def _initial(self, x: np.ndarray, n_components: int) -> np.ndarray:
        n = x.shape[0]
        if isinstance(self.init, np.ndarray):
            init = np.asarray(self.init, dtype=np.float64)
            if init.shape != (n, n_components):
                raise ValueError(
                    f"init.shape={init.shape} but should be (n_samples, n_components)="
                    f"{(n, n_components)}"
                )
            if not np.isfinite(init).all():
                raise ValueError("init contains NaN or infinity.")
            return np.require(init, np.float64, ["C", "A"])
        rng = _check_random_state(self.random_state)
        if self.init == "pca":
            if self.metric == "precomputed":
                raise ValueError(
                    'The parameter init="pca" cannot be used with metric="precomputed".'
                )
            emb = _pca_init(x, n_components)
            std = float(np.std(emb[:, 0]))
            if std > 0 and np.isfinite(std):
                return np.ascontiguousarray(emb / std * 1e-4)
            logger.warning("PCA initialisation is degenerate (constant input); using random init")
        return np.ascontiguousarray(1e-4 * rng.standard_normal(size=(n, n_components)))

    # -- fitting ---------------------------------------------------------

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fits X into an embedded space and returns that embedding.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, n_samples)
            Input vectors, or a square distance matrix if ``metric='precomputed'``.
        y : None
            Ignored.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            The embedding (float32).
        """
        max_iter, perplexity = self._check_params()
        n_jobs = _resolve_n_jobs(self.n_jobs)
        n_samples = np.shape(X)[0] if np.ndim(X) >= 1 else 0
        if perplexity >= n_samples:
            raise ValueError(
                f"perplexity ({self.perplexity}) must be less than n_samples ({n_samples})"
            )
        x = self._check_input(X)
        n = x.shape[0]
        n_components = int(self.n_components)
        if self.learning_rate == "auto":
            lr = max(n / float(self.early_exaggeration) / 4.0, 50.0)
        else:
            lr = float(self.learning_rate)
        init = self._initial(x, n_components)
        metric = "euclidean" if self.metric == "l2" else self.metric
        log = None
        if self.verbose:
            logged = [0]

            phase = [-1]

            def log(done: int, total: int, epoch: int, kl: float | None) -> None:
                # a short phase may end between two polls: log every phase begun
                while phase[0] < min(epoch, len(_PHASES) - 1):
                    phase[0] += 1
                    _report("[t-SNE] Computing %s...", _PHASES[phase[0]])
                # every 50 iterations, once the optimiser has computed a KL value
                if kl is not None and done >= logged[0] + 50:
                    logged[0] = done - done % 50
                    _report("[t-SNE] Iteration %d: KL divergence = %.7f", logged[0], kl)

            _report(
                "[t-SNE] %d samples, perplexity %.1f, %s, learning rate %.1f, %d iterations",
                n,
                perplexity,
                self.method,
                lr,
                max_iter,
            )
        emb, kl, n_iter, (t_nn, t_aff, t_opt), (method, neighbors) = _embedrs.tsne_fit(
            x,
            init,
            perplexity=perplexity,
            early_exaggeration=float(self.early_exaggeration),
            learning_rate=lr,
            max_iter=max_iter,
            exploration_iter=_EXPLORATION_MAX_ITER,
            n_iter_without_progress=max(int(self.n_iter_without_progress), 0),
            min_grad_norm=float(self.min_grad_norm),
            metric=metric,
            method=self.method,
            angle=float(self.angle),
            n_jobs=n_jobs,
            neighbors=self.neighbors,
            progress=log,
        )
        if self.verbose:
            _report(
                "[t-SNE] KL divergence after %d iterations: %.6f "
                "(%s neighbours %.2fs, affinities %.2fs, %s optimisation %.2fs)",
                n_iter + 1,
                kl,
                neighbors,
                t_nn,
                t_aff,
                method,
                t_opt,
            )
        self.embedding_ = emb.astype(np.float32)
        self.kl_divergence_ = float(kl)
        self.n_iter_ = int(n_iter)
        self.learning_rate_ = lr
        self.n_features_in_ = x.shape[1]
        self.timings_ = {"neighbors": t_nn, "affinities": t_aff, "optimization": t_opt}
        self.method_ = method
        self.neighbors_ = neighbors
        return self.embedding_

    def fit(self, X: Any, y: Any = None) -> TSNE:
        """Fits X into an embedded space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, n_samples)
            Input vectors, or a square distance matrix if ``metric='precomputed'``.
        y : None
            Ignored.

        Returns
        -------
        TSNE
            The fitted estimator.
        """
        self.fit_transform(X)
        return self
