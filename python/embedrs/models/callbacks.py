"""Training callbacks with gensim's ``CallbackAny2Vec`` hooks."""

from __future__ import annotations

from typing import Any


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
