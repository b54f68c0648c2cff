"""``embedrs poincare``: train Poincaré embeddings from a relations TSV and/or plot a 2-D model.

Examples::

    embedrs poincare relations.tsv --size 2 --epochs 200 --save model.npz --plot disk.png
    embedrs poincare --load model.npz --plot disk.png
"""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``embedrs poincare``."""
    parser.add_argument(
        "relations", nargs="?", help="TSV file of (child, parent) pairs to train on"
    )
    parser.add_argument("--load", metavar="MODEL", help="load a model saved with --save instead")
    parser.add_argument("--delimiter", default="\t", help="column separator of the relations file")
    parser.add_argument("--size", type=int, default=2, help="dimensions (default 2)")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs (default 50)")
    parser.add_argument("--alpha", type=float, default=0.1, help="learning rate")
    parser.add_argument("--negative", type=int, default=10, help="negatives per relation")
    parser.add_argument("--burn-in", type=int, default=10, help="burn-in epochs")
    parser.add_argument("--burn-in-alpha", type=float, default=0.01, help="burn-in learning rate")
    parser.add_argument(
        "--regularization-coeff", type=float, default=1.0, help="weight of the |v|^2 penalty"
    )
    parser.add_argument(
        "--negative-sampling",
        choices=["frequency", "uniform"],
        default="frequency",
        help="negatives after burn-in (default: frequency)",
    )
    parser.add_argument("--batch-size", type=int, default=10, help="relations per batch")
    parser.add_argument("--workers", type=int, default=0, help="threads (0: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--float32", action="store_true", help="store vectors as float32")
    parser.add_argument("--save", metavar="MODEL", help="save the trained model (.npz)")
    parser.add_argument(
        "--save-vectors", metavar="FILE", help="write the vectors in word2vec text format"
    )
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="print reconstruction mean rank and MAP on the training relations",
    )
    parser.add_argument("--plot", metavar="PNG", help="draw a 2-D model in the unit disk")
    parser.add_argument(
        "--labels", type=int, default=25, help="number of labelled nodes in the plot"
    )
    parser.add_argument("--title", default=None, help="plot title")


def run(args: argparse.Namespace) -> int:
    """Run ``embedrs poincare``; returns the exit status."""
    import numpy as np

    from embedrs._validate import check_input_file, check_int
    from embedrs.models.poincare import (
        PoincareModel,
        PoincareRelations,
        ReconstructionEvaluation,
    )

    if (args.relations is None) == (args.load is None):
        raise ValueError("give either a relations file to train on or --load MODEL, not both")
    check_int(args.labels, "--labels", low=0)
    delimiter = {"\\t": "\t", "tab": "\t"}.get(args.delimiter, args.delimiter)
    if len(delimiter) != 1:
        raise ValueError(f"--delimiter must be one character, got {args.delimiter!r}")
    if args.evaluate and args.relations is None:
        raise ValueError("--evaluate needs the relations file")
    if args.load:
        check_input_file(args.load, "model file")
        model = PoincareModel.load(args.load)
    else:
        check_input_file(args.relations, "relations file")
        model = PoincareModel(
            PoincareRelations(args.relations, delimiter=delimiter),
            size=args.size,
            alpha=args.alpha,
            negative=args.negative,
            workers=args.workers,
            regularization_coeff=args.regularization_coeff,
            burn_in=args.burn_in,
            burn_in_alpha=args.burn_in_alpha,
            seed=args.seed,
            negative_sampling=args.negative_sampling,
            dtype=np.float32 if args.float32 else np.float64,
        )
        model.train(epochs=args.epochs, batch_size=args.batch_size)
        if args.save:
            model.save(args.save)
            logger.info("saved model to %s", args.save)
    if args.save_vectors:
        model.kv.save_word2vec_format(args.save_vectors)
    if args.evaluate:
        for name, exclude in (("gensim protocol", False), ("paper protocol", True)):
            res = ReconstructionEvaluation(
                args.relations, model.kv, exclude_self=exclude
            ).evaluate()
            print(f"reconstruction ({name}): mean_rank={res['mean_rank']:.3f} MAP={res['MAP']:.4f}")
    if args.plot:
        from embedrs.viz_poincare import plot_poincare_disk

        plot_poincare_disk(model, path=args.plot, n_labels=args.labels, title=args.title)
        print(f"wrote {args.plot}")
    return 0
