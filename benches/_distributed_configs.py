"""Options the two distributed benchmarks share: which runs of ``train_*`` to make.

Each combination of ``--actors``, ``--at-once`` and ``--sync-every`` is one
configuration, run in the same invocation as the single-process baseline.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


def add_arguments(ap: argparse.ArgumentParser, actors: list[int]) -> None:
    """Add ``--actors``, ``--at-once`` and ``--sync-every`` to ``ap``."""
    ap.add_argument("--actors", type=int, nargs="+", default=actors)
    ap.add_argument(
        "--at-once",
        nargs="+",
        default=["auto"],
        help="max_concurrent_per_node for each actor count: 'auto' (the library's "
        "default: the machine's CPUs) or a number (e.g. 4: every actor at once, as "
        "before turns); each value is its own configuration",
    )
    ap.add_argument(
        "--sync-every",
        nargs="+",
        default=["default"],
        help="words between syncs, all actors together: a number or 'default' (the "
        "library's default); each value is its own configuration",
    )


@dataclass(frozen=True)
class Config:
    """One distributed run: its name in the tables and its ``train_*`` arguments."""

    name: str
    actors: int
    max_concurrent_per_node: int | None
    sync_every_words: int | None


def configs(args: argparse.Namespace) -> list[Config]:
    """The configurations ``args`` asks for, in the order they run."""
    out = []
    for n in args.actors:
        for at_once in args.at_once:
            for every in args.sync_every:
                name = f"{n} actors"
                if at_once != "auto":
                    name += f" <={at_once}"
                if every != "default":
                    name += f" /{int(every) / 1e6:g}M"
                out.append(
                    Config(
                        name,
                        n,
                        None if at_once == "auto" else int(at_once),
                        None if every == "default" else int(every),
                    )
                )
    return out
