"""Write the starting corpora of the Python fuzz targets (byte 0 = options,
see fuzz/python/oracles.py). Run from the repository root with gensim
installed and the embedrs extension built:
``PYTHONPATH=python python fuzz/seeds/make_python_seeds.py``.
"""

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

root = Path(__file__).resolve().parents[1] / "corpus"


def put(target, name, flags, body):
    d = root / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(bytes([flags]) + body)


sentences = [
    ["the", "king", "rules", "the", "land"],
    ["the", "queen", "rules", "too"],
    ["a", "man", "and", "a", "woman"],
    ["king", "queen", "man", "woman"],
] * 3
rng = np.random.default_rng(0)

with tempfile.TemporaryDirectory() as t:
    p = os.path.join(t, "m")
    # gensim 4 pickles, as the installed gensim writes them
    from gensim.models import KeyedVectors as GKV
    from gensim.models import Word2Vec as GW2V

    kv = GKV(vector_size=4)
    kv.add_vectors(["king", "queen", "ß", "x"], rng.standard_normal((4, 4)).astype(np.float32))
    kv.save(p)
    put("python_gensim_pickle", "gensim-kv", 0, Path(p).read_bytes())
    put("python_gensim_pickle", "gensim-kv-gz", 1, Path(p).read_bytes())
    for name, kw in (("w2v-ns", dict(sg=1, negative=2)), ("w2v-hs", dict(hs=1, negative=0))):
        m = GW2V(sentences, vector_size=4, min_count=1, epochs=1, workers=1, seed=1, **kw)
        m.save(p)
        put("python_gensim_pickle", f"gensim-{name}", 0, Path(p).read_bytes())
    m.save(p, pickle_protocol=2)
    put("python_gensim_pickle", "gensim-w2v-proto2", 0, Path(p).read_bytes())

    # embedrs native files
    from embedrs.models import KeyedVectors, Word2Vec
    from embedrs.models.poincare import PoincareModel

    ekv = KeyedVectors(vector_size=3)
    ekv.add_vectors(["a", "b", "é"], rng.standard_normal((3, 3)).astype(np.float32))
    ekv.save(p)
    put("python_container", "kv", 0, Path(p).read_bytes())
    put("python_container", "kv-resealed", 3, Path(p).read_bytes())
    put("python_container", "kv-mmap", 4, Path(p).read_bytes())
    w = Word2Vec(sentences, vector_size=3, min_count=1, epochs=1, workers=1, seed=1)
    w.save(p)
    put("python_container", "w2v", 3, Path(p).read_bytes())
    rel = [("kangaroo", "marsupial"), ("kangaroo", "mammal"), ("cat", "mammal"), ("dog", "mammal")]
    pm = PoincareModel(rel, size=2, negative=1, workers=1, seed=1)
    pm.train(epochs=1)
    pm.save(p)
    put("python_container", "poincare", 3, Path(p).read_bytes())
    pm.kv.save(p)
    put("python_container", "poincare-kv", 3, Path(p).read_bytes())
    # the .npz of embedrs 0.1, still read by PoincareModel.load
    buf = io.BytesIO()
    meta = {
        "format": "embedrs.PoincareModel/1",
        "keys": ["a", "b"],
        "size": 2,
        "alpha": 0.1,
        "burn_in_alpha": 0.01,
        "negative": 1,
        "workers": 1,
        "epsilon": 1e-5,
        "regularization_coeff": 1.0,
        "burn_in": 10,
        "burn_in_done": False,
        "dtype": "float64",
        "seed": 0,
        "init_range": [-0.001, 0.001],
        "negative_sampling": "frequency",
        "epochs_trained": 0,
        "epoch_losses": [],
    }
    np.savez(
        buf,
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        vectors=np.zeros((2, 2)),
        relations=np.array([[0, 1]], dtype=np.int64),
        counts=np.array([1, 1], dtype=np.int64),
    )
    put("python_container", "poincare-legacy-npz", 0, buf.getvalue())

tsv = "kangaroo.n.01\tmarsupial.n.01\nkangaroo.n.01\tmammal.n.01\ncat.n.01\tmammal.n.01\n"
put("python_relations", "tsv", 0, tsv.encode())
put("python_relations", "tsv-gz", 4, tsv.encode())
put("python_relations", "csv-quoted", 2, b'"a,b",c\nc,d\n"e""f",g\r\nd,a\n')
put(
    "python_relations",
    "latin1",
    8,
    "caf\xe9\tboisson\nth\xe9\tboisson\neau\tboisson\n".encode("latin-1"),
)
put("python_relations", "space", 1, b"x y\ny z\nz x\nw x\n")
