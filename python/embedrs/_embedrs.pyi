"""Type stubs for the private Rust extension module ``embedrs._embedrs``."""

import os
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

import numpy as _np
import numpy.typing as _npt

__version__: str

#: The one progress-callback contract of the extension: every long call that
#: reports progress calls ``callback(done, total, epoch, metric)`` from the
#: calling thread (``metric``: t-SNE's KL divergence, Poincaré's last epoch
#: loss, or None); an exception raised by the callback stops the call.
_ProgressCallback: TypeAlias = Callable[[int, int, int, float | None], object]

# ---- KeyedVectors: similarity search and word2vec formats (rust/python/kv.rs) ----

class InternalError(RuntimeError):
    """A failure inside the Rust core that is a bug, not bad input."""

def _selftest_panic(in_worker: bool = False) -> None: ...

class KvInt8Index:
    """Int8 copy of a model's unit rows (exact search with a quarter of the memory traffic)."""

    def __len__(self) -> int: ...
    @property
    def is_mapped(self) -> bool: ...
    @property
    def norms_offset(self) -> int | None: ...
    def save(
        self,
        path: str | os.PathLike[str],
        fingerprint: int,
        norms: _npt.NDArray[_np.float32],
    ) -> None: ...
    @staticmethod
    def open(
        path: str | os.PathLike[str], rows: int, dim: int, fingerprint: int
    ) -> KvInt8Index: ...

class KeyTable:
    """The keys of a loaded model, looked up in place in their stored UTF-8 blob."""

    def __init__(self, blob: _np.ndarray, n: int) -> None: ...
    def __len__(self) -> int: ...
    def __getitem__(self, row: int) -> str: ...
    def index(self, key: str) -> int: ...
    def key(self, row: int) -> str: ...
    def keys(self) -> list[str]: ...

class AnnHnsw:
    """An HNSW index over the rows of a float32 matrix (keys are row numbers)."""

    @staticmethod
    def build(
        vectors: _npt.NDArray[_np.float32],
        metric: str,
        m: int,
        ef_construction: int,
        ef_search: int,
        threads: int = 0,
    ) -> AnnHnsw: ...
    @staticmethod
    def from_bytes(data: _npt.NDArray[_np.uint8], metric: str, threads: int = 0) -> AnnHnsw: ...
    @staticmethod
    def view_file(path: str, start: int, length: int, metric: str, threads: int = 0) -> AnnHnsw: ...
    def __len__(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def m(self) -> int: ...
    @property
    def is_view(self) -> bool: ...
    ef_search: int
    def search(self, query: _npt.NDArray[_np.float32], k: int) -> list[tuple[int, float]]: ...
    def search_batch(
        self, queries: _npt.NDArray[_np.float32], k: int
    ) -> tuple[_npt.NDArray[_np.int64], _npt.NDArray[_np.float32]]: ...
    def to_bytes(self) -> bytes: ...

class KvSearcher:
    """A per-model thread pool for similarity queries (0 threads = all cores)."""

    def __init__(self, threads: int = 0) -> None: ...
    @property
    def threads(self) -> int: ...
    def row_norms(self, vectors: _npt.NDArray[_np.float32]) -> _npt.NDArray[_np.float32]: ...
    def top_k(
        self,
        vectors: _npt.NDArray[_np.float32],
        norms: _npt.NDArray[_np.float32],
        query: _npt.NDArray[_np.float32],
        start: int,
        end: int,
        k: int,
    ) -> list[tuple[int, float]]: ...
    def top_k_live(
        self,
        vectors: _npt.NDArray[_np.float32],
        query: _npt.NDArray[_np.float32],
        start: int,
        end: int,
        k: int,
    ) -> list[tuple[int, float]]: ...
    def build_int8(
        self, vectors: _npt.NDArray[_np.float32], norms: _npt.NDArray[_np.float32]
    ) -> KvInt8Index: ...
    def fingerprint(self, vectors: _npt.NDArray[_np.float32]) -> int: ...
    def top_k_int8(
        self,
        index: KvInt8Index,
        vectors: _npt.NDArray[_np.float32],
        norms: _npt.NDArray[_np.float32],
        query: _npt.NDArray[_np.float32],
        start: int,
        end: int,
        k: int,
    ) -> list[tuple[int, float]]: ...
    def all_scores(
        self,
        vectors: _npt.NDArray[_np.float32],
        norms: _npt.NDArray[_np.float32],
        query: _npt.NDArray[_np.float32],
        start: int,
        end: int,
    ) -> _npt.NDArray[_np.float32]: ...
    def top_k_batch(
        self,
        vectors: _npt.NDArray[_np.float32],
        norms: _npt.NDArray[_np.float32],
        queries: _npt.NDArray[_np.float32],
        start: int,
        end: int,
        k: int,
    ) -> tuple[_npt.NDArray[_np.int64], _npt.NDArray[_np.float32]]: ...
    def top_k_batch_int8(
        self,
        index: KvInt8Index,
        vectors: _npt.NDArray[_np.float32],
        norms: _npt.NDArray[_np.float32],
        queries: _npt.NDArray[_np.float32],
        start: int,
        end: int,
        k: int,
    ) -> tuple[_npt.NDArray[_np.int64], _npt.NDArray[_np.float32]]: ...

def w2v_read(
    path: str,
    binary: bool,
    limit: int | None = None,
    no_header: bool = False,
    unicode_errors: str = "strict",
    allow_nonfinite: bool = False,
    threads: int = 0,
    dtype: str = "float32",
) -> tuple[
    list[str] | list[bytes], _npt.NDArray[_np.float32] | _npt.NDArray[_np.float64], int, bool
]: ...
def w2v_write(
    path: str,
    keys: list[str],
    vectors: _npt.NDArray[_np.float32] | _npt.NDArray[_np.float64],
    order: list[int],
    binary: bool,
    write_header: bool = True,
    total_vec: int | None = None,
    append: bool = False,
    threads: int = 0,
) -> None: ...
def format_f32(values: list[float]) -> list[str]: ...
def json_f32(values: _npt.NDArray[_np.float32]) -> bytes: ...

# -- poincare ------------------------------------------------------------------------------

def poincare_train(
    vectors: _npt.NDArray[_np.floating[Any]],
    relations: _npt.NDArray[_np.uint32],
    *,
    epochs: int,
    alpha: float,
    negative: int,
    epsilon: float,
    regularization_coeff: float,
    batch_size: int,
    workers: int,
    seed: int,
    frequency_negatives: bool,
    first_epoch: int,
    check_gradients_every: int = 0,
    geometry: str = "ball",
    radius_warmup: int = 0,
    radius_warmup_start: float = 3.0,
    callback: _ProgressCallback | None = None,
) -> dict[str, Any]:
    """Train ``vectors`` (C-contiguous float32/float64, n_nodes x size) in place;
    ``geometry`` ("ball" or "hyperboloid") is where the SGD steps are taken;
    with ``radius_warmup`` > 0, rows stay within a distance of the origin that
    is ``radius_warmup_start`` for the first quarter of that many global epochs
    (``first_epoch`` counts them), then grows linearly to the full radius."""

def poincare_rank(
    vectors: _npt.NDArray[_np.floating[Any]],
    queries: _npt.NDArray[_np.uint32],
    pos_offsets: _npt.NDArray[_np.uint64],
    pos_items: _npt.NDArray[_np.uint32],
    mask_offsets: _npt.NDArray[_np.uint64],
    mask_items: _npt.NDArray[_np.uint32],
    norms: _npt.NDArray[_np.float64],
    query_norms: _npt.NDArray[_np.float64],
    *,
    workers: int = 0,
    callback: _ProgressCallback | None = None,
) -> _npt.NDArray[_np.uint64]:
    """Rank of each query's positives among its unmasked nodes (``1 + #closer``)."""

# --- t-SNE (rust/python/tsne.rs) ---------------------------------------------

def tsne_fit(
    x: _npt.NDArray[_np.float32],
    init: _npt.NDArray[_np.float64],
    *,
    perplexity: float,
    early_exaggeration: float,
    learning_rate: float,
    max_iter: int,
    exploration_iter: int,
    n_iter_without_progress: int,
    min_grad_norm: float,
    metric: str,
    method: str,
    angle: float,
    n_jobs: int,
    neighbors: str = "auto",
    progress: _ProgressCallback | None = None,
) -> tuple[_npt.NDArray[_np.float64], float, int, tuple[float, float, float], tuple[str, str]]:
    """Runs t-SNE on C-contiguous float32 ``x`` (features, or a square distance
    matrix with ``metric='precomputed'``) from ``init``; returns the embedding,
    the KL divergence, the last iteration index, the seconds spent in
    (neighbours, affinities, optimisation) and the (method, neighbour search)
    used."""

# --- word2vec (rust/python/w2v.rs) -------------------------------------------

class CorpusFile:
    """A corpus file (one sentence per line), memory-mapped or decompressed (.gz) once."""

    def __init__(self, path: str) -> None: ...
    def __len__(self) -> int: ...
    def count_words(
        self, workers: int, max_sentence_length: int = 10000, max_vocab_size: int | None = None
    ) -> tuple[list[tuple[str, int]], int, int]: ...
    def splits_like_python(self) -> bool: ...
    def is_one_line(self) -> bool: ...
    def count_lines(self) -> int: ...

# --- vocabulary (rust/python/vocab.rs) ----------------------------------------

class VocabCounter:
    """Word counts in first-seen order, pruned as gensim prunes them under ``max_vocab_size``."""

    def __init__(
        self,
        max_vocab_size: int | None = None,
        trim_rule: Callable[[str, int, int], Any] | None = None,
    ) -> None: ...
    def update(
        self,
        sentences: Iterable[Any],
        progress_per: int = 0,
        progress: Callable[[int, int, int], Any] | None = None,
    ) -> None: ...
    def items(self) -> list[tuple[str, int]]: ...
    @property
    def total_words(self) -> int: ...
    @property
    def sentences(self) -> int: ...
    def __len__(self) -> int: ...

def finalize_vocab(
    raw: list[tuple[str, int]],
    min_count: int,
    max_final_vocab: int | None = None,
    sorted_vocab: bool = True,
    trim_rule: Callable[[str, int, int], Any] | None = None,
) -> tuple[list[str], list[int], int]: ...
def init_vectors(words: list[str], vector_size: int, seed: int) -> _npt.NDArray[_np.float32]: ...
def check_w2v_config(
    *,
    sample: float,
    ns_exponent: float,
    sg: bool,
    hs: bool,
    negative: int,
    cbow_mean: bool,
    window: int,
    shrink_windows: bool,
) -> None:
    """Raise ``ValueError`` (with ``param``) unless the core accepts these parameters."""

class Word2VecCore:
    """The word2vec trainer of a model for its current vocabulary (``w2v::Trainer``)."""

    def __init__(
        self,
        words: list[str],
        counts: list[int],
        *,
        sample: float,
        ns_exponent: float,
        sg: bool,
        hs: bool,
        negative: int,
        cbow_mean: bool,
        window: int,
        shrink_windows: bool,
        compute_loss: bool,
        seed: int,
        workers: int,
    ) -> None: ...
    def train_epoch_iterable(
        self,
        syn0: _npt.NDArray[_np.float32],
        syn1neg: _npt.NDArray[_np.float32] | None,
        syn1: _npt.NDArray[_np.float32] | None,
        lockf: _npt.NDArray[_np.float32] | None,
        sentences: object,
        key_to_index: dict[str, int],
        *,
        epoch: int,
        alpha: float,
        min_alpha: float,
        words_before: int,
        total_words: int,
        batch_words: int,
        progress: _ProgressCallback | None = None,
        report_every: float = 1.0,
    ) -> tuple[int, int, float, int]: ...
    def train_epoch_file(
        self,
        syn0: _npt.NDArray[_np.float32],
        syn1neg: _npt.NDArray[_np.float32] | None,
        syn1: _npt.NDArray[_np.float32] | None,
        lockf: _npt.NDArray[_np.float32] | None,
        corpus: CorpusFile,
        *,
        epoch: int,
        alpha: float,
        min_alpha: float,
        words_before: int,
        total_words: int,
        batch_words: int,
        max_sentence_length: int = 10000,
        in_order: bool = False,
        progress: _ProgressCallback | None = None,
        report_every: float = 1.0,
    ) -> tuple[int, int, float, int | None]: ...
    def train_epoch_pairs(
        self,
        syn0: _npt.NDArray[_np.float32],
        syn1neg: _npt.NDArray[_np.float32] | None,
        lockf: _npt.NDArray[_np.float32] | None,
        pairs: _npt.NDArray[_np.uint32],
        *,
        epoch: int,
        alpha: float,
        min_alpha: float,
        words_before: int,
        total_words: int,
        progress: _ProgressCallback | None = None,
        report_every: float = 1.0,
    ) -> float: ...
    def score(
        self,
        syn0: _npt.NDArray[_np.float32],
        syn1: _npt.NDArray[_np.float32],
        ids: _npt.NDArray[_np.uint32],
        lengths: _npt.NDArray[_np.uint64],
    ) -> _npt.NDArray[_np.float32]: ...

def huffman_tree(
    counts: list[int],
) -> tuple[_npt.NDArray[_np.uint8], _npt.NDArray[_np.uint32], _npt.NDArray[_np.uint32]]: ...

# --- Row deltas of distributed training (rust/python/delta.rs) ----------------

def delta_take(
    weights: _npt.NDArray[_np.float32],
    base: _npt.NDArray[_np.float32],
    half: bool,
    adopt: bool = True,
    out: tuple[_npt.NDArray[_np.int32], _npt.NDArray[Any]] | None = None,
) -> tuple[_npt.NDArray[_np.int32], _npt.NDArray[Any], int]: ...
def delta_add_rows(
    matrix: _npt.NDArray[_np.float32],
    rows: _npt.NDArray[_np.int32],
    values: _npt.NDArray[Any],
    sign: float,
    mirror: _npt.NDArray[_np.float32] | None = None,
) -> None: ...
def delta_combine(
    parts: list[tuple[_npt.NDArray[_np.int32], _npt.NDArray[Any]]],
    n_rows: int,
    dim: int,
    mode: str,
    scale: int = 1,
    half: bool = False,
    threads: int = 1,
    out: _npt.NDArray[Any] | None = None,
) -> tuple[_npt.NDArray[_np.int32], _npt.NDArray[Any], bool]: ...

# --- Doc2Vec (rust/python/d2v.rs) ---------------------------------------------

class Doc2VecCore:
    """The Doc2Vec trainer of a model for its current vocabulary (``d2v::Doc2VecTrainer``)."""

    def __init__(
        self,
        words: list[str],
        counts: list[int],
        *,
        sample: float,
        ns_exponent: float,
        dm: bool,
        dm_mean: bool,
        dm_concat: bool,
        dm_tag_count: int,
        dbow_words: bool,
        hs: bool,
        negative: int,
        window: int,
        shrink_windows: bool,
        compute_loss: bool,
        seed: int,
        workers: int,
        concat_negative_reuse: int = 4,
    ) -> None: ...
    def layer1_size(self, vector_size: int) -> int: ...
    def train_epoch_iterable(
        self,
        syn0: _npt.NDArray[_np.float32],
        dv: _npt.NDArray[_np.float32],
        syn1neg: _npt.NDArray[_np.float32] | None,
        syn1: _npt.NDArray[_np.float32] | None,
        lockf: _npt.NDArray[_np.float32] | None,
        doc_lockf: _npt.NDArray[_np.float32] | None,
        documents: object,
        key_to_index: dict[Any, int],
        tag_to_index: dict[Any, int],
        *,
        epoch: int,
        alpha: float,
        min_alpha: float,
        words_before: int,
        total_words: int,
        batch_words: int,
        progress: _ProgressCallback | None = None,
        report_every: float = 1.0,
    ) -> tuple[int, int, float, int]: ...
    def train_epoch_file(
        self,
        syn0: _npt.NDArray[_np.float32],
        dv: _npt.NDArray[_np.float32],
        syn1neg: _npt.NDArray[_np.float32] | None,
        syn1: _npt.NDArray[_np.float32] | None,
        lockf: _npt.NDArray[_np.float32] | None,
        doc_lockf: _npt.NDArray[_np.float32] | None,
        corpus: CorpusFile,
        *,
        epoch: int,
        alpha: float,
        min_alpha: float,
        words_before: int,
        total_words: int,
        batch_words: int,
        in_order: bool = False,
        progress: _ProgressCallback | None = None,
        report_every: float = 1.0,
    ) -> tuple[int, int, float, int | None]: ...
    def infer_vector(
        self,
        syn0: _npt.NDArray[_np.float32],
        syn1neg: _npt.NDArray[_np.float32] | None,
        syn1: _npt.NDArray[_np.float32] | None,
        doc_words: list[str],
        key_to_index: dict[Any, int] | KeyTable,
        *,
        alpha: float,
        min_alpha: float,
        epochs: int,
        seed: int,
    ) -> _npt.NDArray[_np.float32]: ...
    def infer_vectors(
        self,
        syn0: _npt.NDArray[_np.float32],
        syn1neg: _npt.NDArray[_np.float32] | None,
        syn1: _npt.NDArray[_np.float32] | None,
        docs: list[list[str]],
        key_to_index: dict[Any, int] | KeyTable,
        *,
        alpha: float,
        min_alpha: float,
        epochs: int,
        seed: int,
    ) -> _npt.NDArray[_np.float32]: ...

# --- Phrases (rust/python/phrases.rs) --------------------------------------------

class PhraseTable:
    """Unigram and bigram counts of a ``Phrases`` model, counted in Rust (``phrases``)."""

    def __init__(
        self,
        delimiter: str,
        connector_words: list[str],
        max_vocab_size: int,
        workers: int = 0,
    ) -> None: ...
    def set_settings(
        self, delimiter: str, connector_words: list[str], max_vocab_size: int
    ) -> None: ...
    def count_sentences(
        self,
        sentences: Any,
        batch_words: int = ...,
        progress: Any | None = None,
    ) -> None: ...
    def count_file(self, path: Any, max_sentence_length: int = 10000) -> None: ...
    def merge(self, other: PhraseTable) -> None: ...
    def load_items(self, items: list[tuple[str, int]], min_reduce: int) -> None: ...
    def get(self, key: str) -> int: ...
    def __len__(self) -> int: ...
    def keys(self) -> list[str]: ...
    def items(self) -> list[tuple[str, int]]: ...
    @property
    def min_reduce(self) -> int: ...
    @property
    def total_words(self) -> int: ...
    @property
    def sentences(self) -> int: ...
    def analyze(
        self,
        sentence: Any,
        scoring: str,
        min_count: float,
        threshold: float,
        corpus_word_count: int,
        with_scores: bool = False,
    ) -> list[Any]: ...
    def export(
        self, scoring: str, min_count: float, threshold: float, corpus_word_count: int
    ) -> list[tuple[str, float]]: ...

class FrozenPhraseTable:
    """The phrases of a ``FrozenPhrases`` model, applied in Rust (``phrases``)."""

    def __init__(
        self,
        phrasegrams: list[tuple[str, float]],
        threshold: float,
        delimiter: str,
        connector_words: list[str],
    ) -> None: ...
    def analyze(self, sentence: Any, with_scores: bool = False) -> list[Any]: ...
