"""Training callbacks with gensim's ``CallbackAny2Vec`` hooks."""

from __future__ import annotations

import importlib.util
from typing import Any

from embedrs._compat import unsupported_class


class CallbackAny2Vec:
    """Base class for training callbacks.

    Subclass it and override any of ``on_train_begin``, ``on_epoch_begin``,
    ``on_epoch_end``, ``on_train_end``; each receives the model. The batch
    hooks exist for compatibility with gensim but are not called: embedrs
    trains batches inside Rust worker threads.
    """

    def on_epoch_begin(self, model: Any) -> None:
        """Called at the start of each epoch."""

    def on_epoch_end(self, model: Any) -> None:
        """Called at the end of each epoch."""

    def on_batch_begin(self, model: Any) -> None:
        """Not called by embedrs (kept for gensim compatibility)."""

    def on_batch_end(self, model: Any) -> None:
        """Not called by embedrs (kept for gensim compatibility)."""

    def on_train_begin(self, model: Any) -> None:
        """Called once before training starts."""

    def on_train_end(self, model: Any) -> None:
        """Called once after training ends (also after an interruption)."""


# gensim's topic-model callbacks (LDA metrics logged through visdom): importable
# so that gensim code naming them loads, but not implemented by embedrs.
_LDA_INSTEAD = "it belongs to gensim's topic models (LdaModel); use gensim.models.callbacks"
Callback = unsupported_class("Callback", "gensim.models.callbacks.Callback", _LDA_INSTEAD)
Metric = unsupported_class("Metric", "gensim.models.callbacks.Metric", _LDA_INSTEAD)
CoherenceMetric = unsupported_class(
    "CoherenceMetric", "gensim.models.callbacks.CoherenceMetric", _LDA_INSTEAD
)
PerplexityMetric = unsupported_class(
    "PerplexityMetric", "gensim.models.callbacks.PerplexityMetric", _LDA_INSTEAD
)
DiffMetric = unsupported_class("DiffMetric", "gensim.models.callbacks.DiffMetric", _LDA_INSTEAD)
ConvergenceMetric = unsupported_class(
    "ConvergenceMetric", "gensim.models.callbacks.ConvergenceMetric", _LDA_INSTEAD
)
#: Whether visdom (used by gensim's LDA callbacks) is importable; embedrs never uses it.
VISDOM_INSTALLED = importlib.util.find_spec("visdom") is not None
