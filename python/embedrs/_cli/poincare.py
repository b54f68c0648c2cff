"""``embedrs poincare``: train Poincaré embeddings from a relations TSV and/or plot a 2-D model.

Examples::

    embedrs poincare relations.tsv --size 2 --epochs 200 --save model.npz --plot disk.png
    embedrs poincare --load model.npz --plot disk.png
    embedrs poincare wordnet_noun_closure.tsv.gz --size 10 --preset paper --evaluate --save n10.model
    embedrs poincare wordnet_noun_closure.tsv.gz --load n10.model --evaluate

With ``--preset NAME`` the preset's settings (``embedrs.models.poincare.PRESETS``)
replace the defaults of every option not given on the command line.
"""

from __future__ import annotations

import argparse
import logging
import time

logger = logging.getLogger(__name__)


#: gensim's defaults of the options a preset may set (``None`` on the command line: not given).
_DEFAULTS = {
    "epochs": 50,
    "alpha": 0.1,
    "negative": 10,
    "burn_in": 10,
    "burn_in_alpha": 0.01,
    "regularization_coeff": 1.0,
    "negative_sampling": "frequency",
    "geometry": "ball",
    "radius_warmup": 0,
    "workers": 0,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``embedrs poincare``."""
    parser.add_argument(
        "relations", nargs="?", help="TSV file of (child, parent) pairs to train on"
    )
    parser.add_argument(
        "--load",
        metavar="MODEL",
        help="load a model saved with --save instead of training (with a relations file and "
        "--evaluate: evaluate the saved model on those relations)",
    )
    parser.add_argument("--delimiter", default="\t", help="column separator of the relations file")
    parser.add_argument("--size", type=int, default=2, help="dimensions (default 2)")
    parser.add_argument(
        "--preset",
        choices=["paper"],
        default=None,
        help="named settings (paper: Nickel & Kiela 2017's reconstruction quality); "
        "options given explicitly override it",
    )
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 50)")
    parser.add_argument("--alpha", type=float, default=None, help="learning rate (default 0.1)")
    parser.add_argument(
        "--negative", type=int, default=None, help="negatives per relation (default 10)"
    )
    parser.add_argument("--burn-in", type=int, default=None, help="burn-in epochs (default 10)")
    parser.add_argument(
        "--burn-in-alpha", type=float, default=None, help="burn-in learning rate (default 0.01)"
    )
    parser.add_argument(
        "--regularization-coeff",
        type=float,
        default=None,
        help="weight of the |v|^2 penalty (default 1.0)",
    )
    parser.add_argument(
        "--negative-sampling",
        choices=["frequency", "uniform"],
        default=None,
        help="negatives after burn-in (default: frequency)",
    )
    parser.add_argument(
        "--geometry",
        choices=["ball", "hyperboloid"],
        default=None,
        help="where the SGD steps are taken (default: ball, as gensim; hyperboloid: "
        "exact steps in the isometric Lorentz model, vectors still stored in the ball)",
    )
    parser.add_argument(
        "--radius-warmup",
        type=int,
        default=None,
        metavar="EPOCHS",
        help="keep nodes near the origin during the first EPOCHS epochs (burn-in included): "
        "within distance 3 for a quarter of them, then a cap growing linearly to the full "
        "radius (default: 0, off)",
    )
    parser.add_argument("--batch-size", type=int, default=10, help="relations per batch")
    parser.add_argument("--workers", type=int, default=None, help="threads (default 0: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--float32", action="store_true", help="store vectors as float32")
    parser.add_argument("--save", metavar="MODEL", help="save the trained model (.npz)")
    parser.add_argument(
        "--save-vectors", metavar="FILE", help="write the vectors in word2vec text format"
    )
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="print reconstruction mean rank and MAP on the training relations, "
        "under gensim's protocol and the paper's",
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
        PRESETS,
        PoincareModel,
        PoincareRelations,
        ReconstructionEvaluation,
    )

    if args.relations is None and args.load is None:
        raise ValueError("give a relations file to train on, or --load MODEL")
    if args.relations is not None and args.load is not None and not args.evaluate:
        raise ValueError(
            "with --load MODEL a relations file is only read by --evaluate: add --evaluate "
            "to evaluate the saved model on it, or leave out --load to train on it"
        )
    check_int(args.labels, "--labels", low=0)
    delimiter = {"\\t": "\t", "tab": "\t"}.get(args.delimiter, args.delimiter)
    if len(delimiter) != 1:
        raise ValueError(f"--delimiter must be one character, got {args.delimiter!r}")
    if args.evaluate and args.relations is None:
        raise ValueError(
            "--evaluate needs the relations file (with --load: the relations to evaluate on)"
        )
    if args.load:
        check_input_file(args.load, "model file")
        if args.relations is not None:
            check_input_file(args.relations, "relations file")
        model = PoincareModel.load(args.load)
    else:
        check_input_file(args.relations, "relations file")
        settings: dict = dict(_DEFAULTS)
        if args.preset:
            settings.update(PRESETS[args.preset])
        for name in _DEFAULTS:
            given = getattr(args, name)
            if given is not None:
                settings[name] = given
        epochs = settings.pop("epochs")
        model = PoincareModel(
            PoincareRelations(args.relations, delimiter=delimiter),
            size=args.size,
            seed=args.seed,
            dtype=np.float32 if args.float32 else np.float64,
            **settings,
        )
        logger.info(
            "training %d dimensions for %d epochs on %d relations (%d nodes)",
            args.size,
            epochs,
            len(model.all_relations),
            len(model.kv),
        )
        start = time.monotonic()
        model.train(epochs=epochs, batch_size=args.batch_size, print_every=5000)
        print(f"trained in {time.monotonic() - start:.1f} s")
        if args.save:
            model.save(args.save)
            logger.info("saved model to %s", args.save)
    if args.save_vectors:
        model.kv.save_word2vec_format(args.save_vectors)
    if args.evaluate:
        start = time.monotonic()
        evaluation = ReconstructionEvaluation(args.relations, model.kv, workers=args.workers or 0)
        for name, exclude in (("gensim protocol", False), ("paper protocol", True)):
            evaluation.exclude_self = exclude
            res = evaluation.evaluate()
            print(f"reconstruction ({name}): mean_rank={res['mean_rank']:.3f} MAP={res['MAP']:.4f}")
        print(f"evaluated in {time.monotonic() - start:.1f} s")
    if args.plot:
        from embedrs.viz_poincare import plot_poincare_disk

        plot_poincare_disk(model, path=args.plot, n_labels=args.labels, title=args.title)
        print(f"wrote {args.plot}")
    return 0
