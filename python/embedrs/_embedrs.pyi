"""Type stubs for the private Rust extension module ``embedrs._embedrs``."""

__version__: str

# ---- KeyedVectors: similarity search and word2vec formats (rust/python/kv.rs) ----

import numpy as _np
import numpy.typing as _npt

class KvInt8Index:
    """Int8 copy of a model's unit rows (exact search with a quarter of the memory traffic)."""

    def __len__(self) -> int: ...

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
    def build_int8(
        self, vectors: _npt.NDArray[_np.float32], norms: _npt.NDArray[_np.float32]
    ) -> KvInt8Index: ...
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

def w2v_read(
    path: str,
    binary: bool,
    limit: int | None = None,
    no_header: bool = False,
    unicode_errors: str = "strict",
    allow_nonfinite: bool = False,
    threads: int = 0,
) -> tuple[list[str] | list[bytes], _npt.NDArray[_np.float32], int, bool]: ...
def w2v_write(
    path: str,
    keys: list[str],
    vectors: _npt.NDArray[_np.float32],
    order: list[int],
    binary: bool,
    write_header: bool = True,
    total_vec: int | None = None,
    append: bool = False,
    threads: int = 0,
) -> None: ...
def format_f32(values: list[float]) -> list[str]: ...
