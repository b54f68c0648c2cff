"""Poincaré embeddings of the WordNet noun closure (issue 16): embedrs's "paper"
preset with snapshots, the Rust reconstruction evaluation, and gensim's time
per epoch for reference.

Usage::

    # train (snapshots of the vectors every --every epochs, log lines as JSON)
    python benches/bench_poincare_nouns.py train --size 10 --epochs 200 --every 20 --out runs/n10
    # evaluate a snapshot under both protocols (time and CPU time printed)
    python benches/bench_poincare_nouns.py evaluate --out runs/n10 --epoch 200
    # gensim's time per epoch, extrapolated from --relations relations of one epoch
    python benches/bench_poincare_nouns.py gensim --size 10 --negative 10 --relations 20000
    # embedrs's time for --epochs epochs of the preset after its set-up (no burn-in):
    # run it for two builds at once, one per core, to compare them (before/after)
    PYTHONPATH=<build A> python benches/bench_poincare_nouns.py epoch --epochs 1 --workers 1 &
    PYTHONPATH=<build B> python benches/bench_poincare_nouns.py epoch --epochs 1 --workers 1; wait

Wall time and process CPU time are printed together: on a shared machine the
CPU time (all threads) is the figure that does not depend on other users' load.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

DATA = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "wordnet_noun_closure.tsv.gz"
)


def relations(path: str) -> list:
    from embedrs.models.poincare import PoincareRelations

    return list(PoincareRelations(path))


def _overrides(args: argparse.Namespace) -> dict:
    """The preset's settings that the command line replaces."""
    names = ("alpha", "burn_in_alpha", "epsilon", "geometry", "radius_warmup")
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def train(args: argparse.Namespace) -> None:
    from embedrs.models.poincare import PoincareModel

    os.makedirs(args.out, exist_ok=True)
    rel = relations(args.data)
    wall, cpu = time.monotonic(), time.process_time()
    overrides = _overrides(args)
    model = PoincareModel.from_preset(
        rel, "paper", size=args.size, workers=args.workers, **overrides
    )
    with open(os.path.join(args.out, "keys.json"), "w") as f:
        json.dump(model.kv.index_to_key, f)
    done = 0
    while done < args.epochs:
        step = min(args.every, args.epochs - done)
        model.train(epochs=step, batch_size=10)
        done += step
        np.save(os.path.join(args.out, f"vec_{done:04d}.npy"), model.kv.vectors)
        line = {
            "epochs": done,
            "wall_s": round(time.monotonic() - wall, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "loss": model.epoch_losses[-1],
        }
        print(json.dumps(line), flush=True)


def evaluate(args: argparse.Namespace) -> None:
    from embedrs.models.poincare import PoincareKeyedVectors, ReconstructionEvaluation

    with open(os.path.join(args.out, "keys.json")) as f:
        keys = json.load(f)
    vectors = np.load(os.path.join(args.out, f"vec_{args.epoch:04d}.npy"))
    kv = PoincareKeyedVectors(vectors.shape[1], 0, dtype=vectors.dtype)
    kv.add_vectors(keys, vectors)
    ev = ReconstructionEvaluation(args.data, kv, workers=args.workers)
    for name, exclude in (("paper", True), ("gensim", False)):
        ev.exclude_self = exclude
        wall, cpu = time.monotonic(), time.process_time()
        res = ev.evaluate()
        print(
            json.dumps(
                {
                    "epoch": args.epoch,
                    "protocol": name,
                    "mean_rank": float(res["mean_rank"]),
                    "MAP": float(res["MAP"]),
                    "wall_s": round(time.monotonic() - wall, 1),
                    "cpu_s": round(time.process_time() - cpu, 1),
                }
            ),
            flush=True,
        )


def epoch(args: argparse.Namespace) -> None:
    from embedrs.models.poincare import PoincareModel

    rel = relations(args.data)
    model = PoincareModel.from_preset(
        rel, "paper", size=args.size, workers=args.workers, burn_in=0, **_overrides(args)
    )
    wall, cpu = time.monotonic(), time.process_time()
    model.train(epochs=args.epochs, batch_size=10)
    line = {
        "epochs": args.epochs,
        "workers": args.workers,
        "geometry": model.geometry,
        "wall_s": round(time.monotonic() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "loss": model.epoch_losses[-1],
    }
    print(json.dumps(line), flush=True)


def gensim_epoch(args: argparse.Namespace) -> None:
    from gensim.models.poincare import PoincareModel
    from threadpoolctl import threadpool_info

    print("BLAS:", [(i.get("internal_api"), i.get("architecture")) for i in threadpool_info()])
    rel = relations(args.data)
    wall = time.monotonic()
    model = PoincareModel(rel, size=args.size, negative=args.negative)
    print(f"gensim vocabulary: {time.monotonic() - wall:.1f} s")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(model.all_relations))[: args.relations]
    batch = [model.all_relations[i] for i in order]
    wall, cpu = time.monotonic(), time.process_time()
    for i in range(0, len(batch), 10):
        model._train_on_batch(batch[i : i + 10])
    w, c = time.monotonic() - wall, time.process_time() - cpu
    scale = len(model.all_relations) / len(batch)
    print(
        json.dumps(
            {
                "relations_timed": len(batch),
                "wall_s": round(w, 1),
                "cpu_s": round(c, 1),
                "epoch_wall_s_extrapolated": round(w * scale, 1),
                "epoch_cpu_s_extrapolated": round(c * scale, 1),
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["train", "evaluate", "gensim", "epoch"])
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--epoch", type=int, default=200)
    parser.add_argument("--out", default="runs/nouns")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--negative", type=int, default=10)
    parser.add_argument("--relations", type=int, default=20000)
    parser.add_argument("--alpha", type=float, help="train: the preset's learning rate, replaced")
    parser.add_argument(
        "--geometry",
        choices=["ball", "hyperboloid"],
        help="train, epoch: where the SGD steps are taken",
    )
    parser.add_argument(
        "--epsilon", type=float, help="train: the preset's margin to the ball's edge, replaced"
    )
    parser.add_argument(
        "--burn-in-alpha", type=float, help="train: the preset's burn-in learning rate, replaced"
    )
    parser.add_argument(
        "--radius-warmup",
        type=int,
        help="train, epoch: the preset's radius warm-up in epochs, replaced (0: none)",
    )
    args = parser.parse_args()
    {"train": train, "evaluate": evaluate, "gensim": gensim_epoch, "epoch": epoch}[args.command](
        args
    )


if __name__ == "__main__":
    main()
