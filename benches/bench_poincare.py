"""Poincaré embeddings: embedrs vs gensim on the WordNet mammal closure.

Side by side, same data, same settings, same epochs: wall time (model
construction + training) and reconstruction quality (mean rank, MAP). Runs of
the two libraries alternate; with ``--repeats`` > 1 the medians are reported.

Quality is reported under two protocols, both computed with
``embedrs.models.poincare.ReconstructionEvaluation`` (which gives gensim's
numbers exactly on the same vectors):

* ``gensim``: gensim's own evaluation, which ranks each node itself (distance
  0) among the non-neighbours, so MAP can never reach 1 (about 0.7 at best on
  this data);
* ``paper``: the node itself left out, as in Nickel & Kiela (2017) and their
  reference code; this is the protocol of the paper's MAP 0.927 at 5 dims.

Then a quality run (``--quality``): settings of our choosing, timed against
gensim's 50-epoch run at 5 dimensions, and a 2-D model drawn in the disk.

Examples::

    python benches/bench_poincare.py                         # dims 2 5 10 20, 50 epochs
    python benches/bench_poincare.py --quick                 # dim 5 only, 10 epochs
    python benches/bench_poincare.py --dims 5 --quality --plot benches/poincare_mammals_2d.png
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from embedrs.models.poincare import PoincareModel, PoincareRelations, ReconstructionEvaluation

DATA = os.environ.get(
    "EMBEDRS_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
)


def evaluate(kv, path: str) -> dict:
    g = ReconstructionEvaluation(path, kv).evaluate()
    p = ReconstructionEvaluation(path, kv, exclude_self=True).evaluate()
    return {
        "rank_g": float(g["mean_rank"]),
        "map_g": float(g["MAP"]),
        "rank_p": float(p["mean_rank"]),
        "map_p": float(p["MAP"]),
    }


def run_embedrs(relations, path, size, epochs, seed, workers, **kw) -> dict:
    t = time.perf_counter()
    model = PoincareModel(relations, size=size, seed=seed, workers=workers, **kw)
    model.train(epochs=epochs, batch_size=10)
    elapsed = time.perf_counter() - t
    return {"time": elapsed, **evaluate(model.kv, path), "model": model}


def run_gensim(relations, path, size, epochs, seed) -> dict:
    from gensim.models.poincare import PoincareModel as GensimPoincare

    t = time.perf_counter()
    model = GensimPoincare(relations, size=size, seed=seed)
    model.train(epochs=epochs, batch_size=10)
    elapsed = time.perf_counter() - t
    return {"time": elapsed, **evaluate(model.kv, path)}


def median(rows: list, key: str) -> float:
    return statistics.median(r[key] for r in rows)


def fmt(rows: list) -> str:
    return (
        f"{median(rows, 'time'):8.2f}s  rank {median(rows, 'rank_g'):6.2f} / "
        f"{median(rows, 'rank_p'):6.2f}  MAP {median(rows, 'map_g'):.3f} / "
        f"{median(rows, 'map_p'):.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default=os.path.join(DATA, "wordnet_mammal_closure.tsv"))
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 5, 10, 20])
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=0, help="embedrs threads (0: all cores)")
    ap.add_argument("--skip-gensim", action="store_true")
    ap.add_argument("--quick", action="store_true", help="dim 5, 10 epochs, no quality run")
    ap.add_argument("--quality", action="store_true", help="also run the quality target")
    ap.add_argument("--quality-epochs", type=int, default=100)
    ap.add_argument(
        "--gensim-50-time",
        type=float,
        default=None,
        help="gensim's 50-epoch time at dim 5 if it was not measured in this run",
    )
    ap.add_argument("--plot", default=None, help="write the 2-D quality model's disk plot here")
    args = ap.parse_args()
    if args.quick:
        args.dims, args.epochs = [5], 10
    path = args.data
    relations = list(PoincareRelations(path))
    print(
        f"data: {path}: {len(relations)} relations; cores: {os.cpu_count()}; "
        f"python {platform.python_version()}"
    )
    print("columns: wall time, mean rank gensim/paper protocol, MAP gensim/paper protocol")
    gensim_times = {}
    for dim in args.dims:
        ours, theirs = [], []
        for rep in range(args.repeats):
            if not args.skip_gensim:
                theirs.append(run_gensim(relations, path, dim, args.epochs, rep))
            r = run_embedrs(relations, path, dim, args.epochs, rep, args.workers)
            r.pop("model")
            ours.append(r)
        print(f"dim {dim:3d}, {args.epochs} epochs (+10 burn-in):")
        print(f"  embedrs: {fmt(ours)}")
        if theirs:
            print(f"  gensim : {fmt(theirs)}")
            speed = median(theirs, "time") / median(ours, "time")
            print(
                f"  speed-up {speed:.1f}x; MAP ratio (gensim protocol) "
                f"{median(ours, 'map_g') / median(theirs, 'map_g'):.3f}"
            )
            gensim_times[dim] = median(theirs, "time")
    if args.quality:
        settings = {
            "alpha": 0.3,
            "negative": 50,
            "burn_in": 20,
            "burn_in_alpha": 0.03,
            "regularization_coeff": 0.0,
            "negative_sampling": "uniform",
        }
        print(f"quality run: dim 5, {args.quality_epochs} epochs, {settings}")
        r = run_embedrs(relations, path, 5, args.quality_epochs, 0, args.workers, **settings)
        print(f"  embedrs: {fmt([r])}")
        ref = gensim_times.get(5, args.gensim_50_time)
        if ref is not None and args.epochs == 50:
            print(
                f"  gensim 50 epochs took {ref:.2f}s: quality run is {ref / r['time']:.1f}x faster"
            )
        if args.plot:
            from embedrs.viz_poincare import plot_poincare_disk

            r2 = run_embedrs(relations, path, 2, args.quality_epochs, 0, args.workers, **settings)
            print(f"  2-D model for the plot: {fmt([r2])}")
            plot_poincare_disk(
                r2["model"],
                path=args.plot,
                n_labels=30,
                figsize=(7, 7),
                dpi=90,
                title=f"WordNet mammals, 2-D Poincaré embedding (MAP {r2['map_p']:.2f})",
            )
            print(f"  wrote {args.plot}")
    assert all(np.isfinite(v) for v in gensim_times.values())


if __name__ == "__main__":
    main()
