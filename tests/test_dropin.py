"""gensim drop-in: module-level names, gensim's test helpers, KeyedVectors extras
and gensim 4's messages for gensim 3 attributes (issue 14, the Python parts)."""

from __future__ import annotations

import bz2
import gzip
import importlib
import inspect
import logging
import os
import pickle
import warnings

import embedrs
import numpy as np
import pytest
from embedrs.models.keyedvectors import KeyedVectors, prep_vectors, pseudorandom_weak_vector
from embedrs.models.word2vec import Word2Vec
from embedrs.test import utils as test_utils
from embedrs.utils import save_as_line_sentence, simple_preprocess, tokenize

MODULES = [
    "word2vec",
    "keyedvectors",
    "poincare",
    "callbacks",
    "word2vec_corpusfile",
    "phrases",
    "doc2vec",
    "translation_matrix",
]


def _gensim_module(name: str):
    pytest.importorskip("gensim")
    return importlib.import_module(f"gensim.models.{name}")


def _public_gensim_names(mod) -> list[str]:
    """gensim's public names of ``mod``: its own and gensim's, its constants, REAL;
    not what it imports from elsewhere (numpy, collections, logging, ...)."""
    names = []
    for name in dir(mod):
        if name.startswith("_"):
            continue
        obj = getattr(mod, name)
        if inspect.ismodule(obj):
            continue
        origin = getattr(obj, "__module__", None) or ""
        if origin.startswith("gensim") or type(obj) in (int, bool, float, str) or name == "REAL":
            names.append(name)
    return names


@pytest.mark.parametrize("module", MODULES)
def test_every_gensim_public_name_exists(module):
    gmod = _gensim_module(module)
    ours = importlib.import_module(f"embedrs.models.{module}")
    names = _public_gensim_names(gmod)
    assert names, "the enumeration found nothing: the rule is broken"
    missing = [n for n in names if not hasattr(ours, n)]
    assert not missing, f"embedrs.models.{module} lacks gensim's {missing}"


@pytest.mark.parametrize("module", MODULES)
def test_constants_have_gensims_types(module):
    gmod = _gensim_module(module)
    ours = importlib.import_module(f"embedrs.models.{module}")
    for name in _public_gensim_names(gmod):
        g = getattr(gmod, name)
        if type(g) in (int, bool):
            assert type(getattr(ours, name)) is type(g), name
    if hasattr(gmod, "REAL"):
        assert ours.REAL is gmod.REAL


def test_version_constants_say_compiled():
    from embedrs.models import word2vec, word2vec_corpusfile

    assert word2vec.FAST_VERSION >= 0
    assert word2vec.CORPUSFILE_VERSION == word2vec_corpusfile.CORPUSFILE_VERSION >= 0
    assert word2vec.MAX_WORDS_IN_BATCH == 10000


def test_import_embedrs_exposes_models_and_utils():
    assert embedrs.models.Word2Vec is Word2Vec
    assert embedrs.models.keyedvectors.KeyedVectors is KeyedVectors
    assert embedrs.utils.simple_preprocess is simple_preprocess


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("word2vec", "train_batch_sg"),
        ("word2vec", "train_batch_cbow"),
        ("word2vec", "score_sentence_sg"),
        ("word2vec", "score_sentence_cbow"),
        ("word2vec_corpusfile", "train_epoch_sg"),
        ("word2vec_corpusfile", "train_epoch_cbow"),
        ("word2vec", "Word2VecVocab"),
        ("word2vec", "Word2VecTrainables"),
        ("word2vec_corpusfile", "CythonVocab"),
        ("keyedvectors", "Dictionary"),
        ("keyedvectors", "FastTextKeyedVectors"),
        ("callbacks", "PerplexityMetric"),
        ("callbacks", "Callback"),
        ("poincare", "PoincareBatch"),
        ("doc2vec", "train_document_dbow"),
        ("doc2vec", "train_document_dm"),
        ("doc2vec", "train_document_dm_concat"),
        ("doc2vec", "d2v_train_epoch_dbow"),
        ("doc2vec", "d2v_train_epoch_dm"),
        ("doc2vec", "d2v_train_epoch_dm_concat"),
        ("doc2vec", "Doc2VecVocab"),
        ("doc2vec", "Doc2VecTrainables"),
    ],
)
def test_unimplemented_names_fail_saying_what_to_use(module, name):
    obj = getattr(importlib.import_module(f"embedrs.models.{module}"), name)
    with pytest.raises(NotImplementedError, match="not implemented by embedrs; .*use"):
        obj(1, 2)


def test_doctag_is_gensims_record():
    from embedrs.models.doc2vec import Doctag

    g = _gensim_module("doc2vec").Doctag(doc_count=3, index=7, word_count=40)
    t = Doctag(doc_count=3, index=7, word_count=40)
    assert (t.doc_count, t.index, t.word_count, t.count) == (
        g.doc_count,
        g.index,
        g.word_count,
        g.count,
    )
    t.count = 5
    assert t.doc_count == 5 and t != Doctag(3, 7, 40) and Doctag(5, 7, 40) == t


def test_aliases_are_keyedvectors():
    from embedrs.models import keyedvectors as kv

    for name in ("Word2VecKeyedVectors", "Doc2VecKeyedVectors", "EuclideanKeyedVectors"):
        assert getattr(kv, name) is KeyedVectors
    assert kv.Vocab is kv.CompatVocab


def test_compat_vocab_and_heapitem_order_by_count():
    from embedrs.models.keyedvectors import Vocab
    from embedrs.models.word2vec import Heapitem

    a, b = Vocab(count=3, index=0), Vocab(index=1)
    assert b.count == 0 and b < a and not a < b
    assert str(a) == "CompatVocab<count:3, index:0>"
    h1, h2 = Heapitem(5, 0, None, None), Heapitem(2, 1, None, None)
    assert sorted([h1, h2]) == [h2, h1]
    assert h1.count == 5 and h1.index == 0


@pytest.mark.parametrize("seed", ["word", "another", ("tuple", 3)])
def test_pseudorandom_weak_vector_matches_gensim(seed):
    g = _gensim_module("keyedvectors")
    ours = pseudorandom_weak_vector(13, seed_string=seed)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, g.pseudorandom_weak_vector(13, seed_string=seed))
    assert np.all(np.abs(ours) <= 0.5 / 13)


def test_pseudorandom_weak_vector_unseeded_varies():
    a, b = pseudorandom_weak_vector(50), pseudorandom_weak_vector(50)
    assert a.shape == (50,) and not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("shape", "prior"), [((5, 3), None), ((5, 3), np.ones((2, 2), np.float32)), ((4, 6), None)]
)
def test_prep_vectors_matches_gensim(shape, prior):
    g = _gensim_module("keyedvectors")
    ours = prep_vectors(shape, prior, seed=7)
    np.testing.assert_array_equal(ours, g.prep_vectors(shape, prior, seed=7))
    same = np.zeros(shape, np.float32)
    assert prep_vectors(shape, same) is same


# ----------------------------------------------------------------------
# word2vec_corpusfile.CythonLineSentence
# ----------------------------------------------------------------------


@pytest.mark.parametrize(("offset", "max_len"), [(0, 10000), (5, 3), (1000, 7)])
def test_cython_line_sentence_matches_gensim(offset, max_len):
    g = _gensim_module("word2vec_corpusfile")
    from embedrs.models.word2vec_corpusfile import CythonLineSentence

    path = test_utils.datapath("lee_background.cor")
    ours = CythonLineSentence(path, offset, max_len)
    theirs = g.CythonLineSentence(path.encode(), offset, max_len)
    assert list(ours) == list(theirs)
    ours.max_words_in_batch = theirs.max_words_in_batch = 40
    ours.reset()
    theirs.reset()
    while True:
        a, b = ours.next_batch(), theirs.next_batch()
        assert a == b
        if not a:
            break


def test_cython_line_sentence_pickles(tmp_path):
    from embedrs.models.word2vec_corpusfile import CythonLineSentence

    path = tmp_path / "c.txt"
    path.write_text("a b c\n\nd e\n", encoding="utf8")
    s = CythonLineSentence(str(path), max_sentence_length=2)
    assert list(s) == [[b"a", b"b"], [b"c"], [b"d", b"e"]]
    assert list(pickle.loads(pickle.dumps(s))) == list(s)


# ----------------------------------------------------------------------
# embedrs.test.utils and embedrs.utils
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "lee_background.cor",
        "lee.cor",
        "questions-words.txt",
        "wordsim353.tsv",
        "simlex999.txt",
        "similarities0-1.txt",
        "poincare_hypernyms.tsv",
        "poincare_hypernyms_large.tsv",
    ],
)
def test_datapath_files_are_gensims(name):
    path = test_utils.datapath(name)
    assert os.path.isfile(path)
    gutils = pytest.importorskip("gensim.test.utils")
    with open(path, "rb") as a, open(gutils.datapath(name), "rb") as b:
        assert a.read() == b.read()


def test_shipped_test_data_stays_small():
    folder = os.path.dirname(test_utils.datapath("x"))
    total = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    assert total < 3 * 1024 * 1024


def test_common_texts_and_lee_corpus_list_match_gensim():
    gutils = pytest.importorskip("gensim.test.utils")
    assert test_utils.common_texts == gutils.common_texts
    assert test_utils.lee_corpus_list == gutils.lee_corpus_list
    assert len(test_utils.lee_corpus_list) == 300


def test_missing_helper_names_say_where_to_look():
    with pytest.raises(AttributeError, match="gensim.corpora.Dictionary"):
        test_utils.common_dictionary  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        test_utils.nope  # noqa: B018


def test_get_tmpfile_and_temporary_file():
    a, b = test_utils.get_tmpfile("m.bin"), test_utils.get_tmpfile("m.bin")
    assert a != b and os.path.basename(a) == "m.bin" and os.path.isdir(os.path.dirname(a))
    assert not os.path.exists(a)
    with test_utils.temporary_file("t.txt") as path:
        with open(path, "w") as f:
            f.write("x")
        assert os.path.exists(path)
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_save_as_line_sentence_round_trips(tmp_path, suffix):
    from embedrs.corpora import LineSentence

    corpus = [["héllo", "world"], ["a"], [], ["x", "y", "z"]]
    path = str(tmp_path / f"c.txt{suffix}")
    save_as_line_sentence(corpus, path)
    opener = {"": open, ".gz": gzip.open, ".bz2": bz2.open}[suffix]
    with opener(path, "rt", encoding="utf8") as f:
        assert f.read() == "héllo world\na\n\nx y z\n"
    assert [s for s in LineSentence(path) if s] == [s for s in corpus if s]


TEXTS = [
    "Nic nemůže letět rychlostí vyšší, než 300 tisíc kilometrů za sekundu!",
    "Hello_World x2y A _under __init__ über ÉCOLE",
    b"bytes input caf\xc3\xa9",
    "short a ab abcdefghijklmnop abcdefghijklmno",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("kwargs", [{}, {"deacc": True}, {"lower": True}, {"to_lower": True}])
def test_tokenize_matches_gensim(text, kwargs):
    gutils = pytest.importorskip("gensim.utils")
    assert list(tokenize(text, **kwargs)) == list(gutils.tokenize(text, **kwargs))


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("kwargs", [{}, {"deacc": True}, {"min_len": 1, "max_len": 3}])
def test_simple_preprocess_matches_gensim(text, kwargs):
    gutils = pytest.importorskip("gensim.utils")
    assert simple_preprocess(text, **kwargs) == gutils.simple_preprocess(text, **kwargs)


def test_deprecated_decorator_warns_with_reason():
    from embedrs.utils import deprecated

    @deprecated("use g instead")
    def f(x):
        return x + 1

    with pytest.warns(DeprecationWarning, match=r"Call to deprecated `f` \(use g instead\)"):
        assert f(1) == 2


# ----------------------------------------------------------------------
# KeyedVectors: vectors_for_all, distance, indexer=, wmdistance
# ----------------------------------------------------------------------


def _kv(n=30, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    kv = KeyedVectors(dim)
    keys = [f"w{i}" for i in range(n)]
    kv.add_vectors(keys, rng.normal(size=(n, dim)).astype(np.float32))
    for i, k in enumerate(keys):
        kv.set_vecattr(k, "count", 100 + i)
    return kv


@pytest.mark.parametrize("copy_vecattrs", [False, True])
def test_vectors_for_all_matches_gensim(copy_vecattrs):
    g = _gensim_module("keyedvectors")
    ours = _kv()
    theirs = g.KeyedVectors(ours.vector_size)
    theirs.add_vectors(ours.index_to_key, ours.vectors.copy())
    for k in ours.index_to_key:
        theirs.set_vecattr(k, "count", ours.get_vecattr(k, "count"))
    keys = ["w5", "nope", "w1", "w5", "w29", "w0"]
    a = ours.vectors_for_all(keys, copy_vecattrs=copy_vecattrs)
    b = theirs.vectors_for_all(keys, copy_vecattrs=copy_vecattrs)
    assert a.index_to_key == b.index_to_key == ["w5", "w1", "w29", "w0"]
    assert a.key_to_index == b.key_to_index
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert a.vectors.dtype == b.vectors.dtype
    np.testing.assert_array_equal(a.expandos["count"], b.expandos["count"])
    assert a.most_similar("w5", topn=2)[0][0] == b.most_similar("w5", topn=2)[0][0]


def test_vectors_for_all_copies_vectors():
    kv = _kv()
    out = kv.vectors_for_all(["w3"])
    out.vectors[0] = 0
    assert np.any(kv["w3"] != 0)
    assert len(kv.vectors_for_all([])) == 0


def test_distance_to_itself_is_exactly_zero():
    # vectors whose float32 normalisation does not round-trip to exactly 1
    kv = _kv(n=200, dim=37, seed=3)
    for key in kv.index_to_key:
        assert kv.distance(key, key) == 0
        assert kv.similarity(key, key) == 1
    assert kv.distance("w0", 0) == 0  # the key and its row
    kv.add_vector("zero", np.zeros(37, np.float32))
    assert kv.distance("zero", "zero") == 1  # gensim: a zero vector has no direction
    assert 0 < kv.distance("w0", "w1") < 2


class _BruteIndexer:
    """An exact index with gensim's indexer protocol, recording its calls."""

    def __init__(self, kv):
        self.kv = kv
        self.calls = []

    def most_similar(self, vector, num_neighbors):
        self.calls.append((np.array(vector), num_neighbors))
        sims = self.kv.get_normed_vectors() @ vector
        best = np.argsort(-sims)[:num_neighbors]
        return [(self.kv.index_to_key[i], float(sims[i])) for i in best]


@pytest.mark.parametrize("positive", ["w4", ["w4", "w7"]])
def test_most_similar_with_indexer_uses_the_protocol(positive):
    kv = _kv()
    idx = _BruteIndexer(kv)
    got = kv.most_similar(positive, topn=5, indexer=idx)
    assert len(idx.calls) == 1
    vec, n = idx.calls[0]
    assert n == 5 and abs(np.linalg.norm(vec) - 1) < 1e-5  # a unit query, as gensim's
    assert len(got) == 5
    exact = kv.most_similar(positive, topn=10)
    # the index's answer comes back as it is (gensim does not drop the inputs)
    inputs = [positive] if isinstance(positive, str) else positive
    assert [k for k, _ in got if k not in inputs] == [k for k, _ in exact][
        : len([k for k, _ in got if k not in inputs])
    ]


def test_most_similar_with_indexer_same_as_gensim():
    g = _gensim_module("keyedvectors")
    ours = _kv()
    theirs = g.KeyedVectors(ours.vector_size)
    theirs.add_vectors(ours.index_to_key, ours.vectors.copy())
    a = ours.most_similar(["w2", "w9"], negative=["w3"], topn=4, indexer=_BruteIndexer(ours))
    b = theirs.most_similar(["w2", "w9"], negative=["w3"], topn=4, indexer=_BruteIndexer(theirs))
    assert [k for k, _ in a] == [k for k, _ in b]
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=1e-5)


def test_wmdistance_without_pot_names_the_package(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ot", None)  # import ot -> ImportError
    with pytest.raises(ImportError, match="POT"):
        _kv().wmdistance(["w1"], ["w2"])


def test_wmdistance_matches_gensim():
    pytest.importorskip("ot")
    g = _gensim_module("keyedvectors")
    ours = _kv()
    theirs = g.KeyedVectors(ours.vector_size)
    theirs.add_vectors(ours.index_to_key, ours.vectors.copy())
    cases = [
        (["w1", "w2", "w2", "w3"], ["w4", "w5"]),
        (["w1", "oov"], ["w1", "w6", "w7", "w1"]),
        (["w1"], ["w1", "w1"]),
        (["oov"], ["w1"]),
    ]
    for d1, d2 in cases:
        for norm in (True, False):
            assert ours.wmdistance(d1, d2, norm=norm) == pytest.approx(
                theirs.wmdistance(d1, d2, norm=norm), rel=1e-6
            )


def test_wmdistance_edge_cases_need_no_solver(monkeypatch):
    import sys
    import types

    fake = types.ModuleType("ot")
    fake.emd2 = lambda a, b, m: pytest.fail("the solver must not be called")
    monkeypatch.setitem(sys.modules, "ot", fake)
    kv = _kv()
    assert kv.wmdistance(["oov"], ["w1"]) == float("inf")
    assert kv.wmdistance(["w1", "w1"], ["w1"]) == 0.0


# ----------------------------------------------------------------------
# gensim 3 attributes and load on an instance
# ----------------------------------------------------------------------

MIGRATING = "Migrating-from-Gensim-3.x-to-4"


@pytest.fixture(scope="module")
def model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Word2Vec(test_utils.common_texts, min_count=1, vector_size=8, workers=1, seed=1)


@pytest.mark.parametrize(
    ("attr", "says"),
    [
        ("vocab", "key_to_index"),
        ("index2word", "index_to_key"),
        ("index2entity", "index_to_key"),
        ("vectors_norm", "get_normed_vectors"),
    ],
)
def test_kv_gensim3_attributes_raise_gensim4_messages(model, attr, says):
    with pytest.raises(AttributeError, match=says) as err:
        getattr(model.wv, attr)
    assert MIGRATING in str(err.value)
    gk = _gensim_module("keyedvectors").KeyedVectors(3)
    with pytest.raises(AttributeError) as gerr:
        getattr(gk, attr)
    assert str(err.value) == str(gerr.value)


def test_kv_gensim3_setters_as_gensim():
    kv = _kv(n=3)
    kv.index2word = ["a", "b", "c"]
    assert kv.index_to_key == ["a", "b", "c"]
    kv.vectors_norm = None  # ignored
    with pytest.raises(AttributeError, match="vocab attribute was removed"):
        kv.vocab = {}


@pytest.mark.parametrize(
    ("attr", "says"),
    [
        ("vocab", "model.wv.key_to_index"),
        ("syn0", "model.wv.vectors"),
        ("most_similar", r"model.wv.most_similar\("),
        ("similarity", r"model.wv.similarity\("),
        ("iter", "model.epochs"),
        ("size", "model.vector_size"),
    ],
)
def test_model_gensim3_attributes_say_what_to_use(model, attr, says):
    with pytest.raises(
        AttributeError, match=f"'Word2Vec' object has no attribute '{attr}'; .*{says}"
    ):
        getattr(model, attr)


def test_model_unknown_attribute_is_a_plain_attribute_error(model):
    with pytest.raises(AttributeError, match="^'Word2Vec' object has no attribute 'nonsense'$"):
        model.nonsense  # noqa: B018
    assert not hasattr(model, "vocab")
    assert getattr(model, "nonsense", 5) == 5


def test_load_on_an_instance_raises_as_gensim(model, tmp_path):
    path = str(tmp_path / "m.model")
    model.save(path)
    with pytest.raises(AttributeError, match="This method should be called on a class object"):
        model.load(path)
    loaded = Word2Vec.load(path)
    assert loaded.wv.index_to_key == model.wv.index_to_key
    with pytest.raises(AttributeError, match="class object"):
        loaded.load(path)
    gw = _gensim_module("word2vec")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = gw.Word2Vec(test_utils.common_texts, min_count=1, vector_size=8, workers=1)
    with pytest.raises(AttributeError) as gerr:
        gm.load(path)
    assert str(gerr.value) == "This method should be called on a class object."


# ----------------------------------------------------------------------
# gensim's public methods on the model classes
# ----------------------------------------------------------------------

_CLASSES = [
    ("word2vec", "Word2Vec"),
    ("doc2vec", "Doc2Vec"),
    ("keyedvectors", "KeyedVectors"),
    ("poincare", "PoincareModel"),
    ("poincare", "PoincareKeyedVectors"),
    ("phrases", "Phrases"),
    ("phrases", "FrozenPhrases"),
    ("translation_matrix", "TranslationMatrix"),
    ("translation_matrix", "BackMappingTranslationMatrix"),
]


@pytest.mark.parametrize(("module", "cls"), _CLASSES)
def test_every_gensim_public_method_exists(module, cls):
    theirs = getattr(_gensim_module(module), cls)
    ours = getattr(importlib.import_module(f"embedrs.models.{module}"), cls)
    missing = sorted(n for n in dir(theirs) if not n.startswith("_") and not hasattr(ours, n))
    assert missing == [], f"{cls} lacks gensim's {missing}"


def test_every_gensim_instance_attribute_exists():
    """The attributes gensim sets on its objects, read off built objects of both libraries."""
    gm = _gensim_module("word2vec")
    gd = _gensim_module("doc2vec")
    gp = _gensim_module("poincare")
    gph = _gensim_module("phrases")
    from embedrs.models import doc2vec, phrases, poincare

    texts = test_utils.common_texts
    docs = [doc2vec.TaggedDocument(t, [i]) for i, t in enumerate(texts)]
    gdocs = [gd.TaggedDocument(t, [i]) for i, t in enumerate(texts)]
    rel = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]
    w2v = dict(min_count=1, vector_size=8, workers=1, seed=1)
    built = [
        (gm.Word2Vec(texts, **w2v), Word2Vec(texts, **w2v)),
        (gm.Word2Vec(texts, hs=1, negative=0, **w2v), Word2Vec(texts, hs=1, negative=0, **w2v)),
        (gd.Doc2Vec(gdocs, **w2v), doc2vec.Doc2Vec(docs, **w2v)),
        (
            gp.PoincareModel(rel, size=2, negative=1),
            poincare.PoincareModel(rel, size=2, negative=1),
        ),
        (gph.Phrases(texts, min_count=1), phrases.Phrases(texts, min_count=1)),
        (gph.Phrases(texts, min_count=1).freeze(), phrases.Phrases(texts, min_count=1).freeze()),
    ]
    built += [(g.wv, e.wv) for g, e in built[:3]] + [(built[2][0].dv, built[2][1].dv)]
    for g, e in built:
        missing = sorted(a for a in vars(g) if not a.startswith("_") and not hasattr(e, a))
        assert missing == [], f"{type(e).__name__} lacks gensim's {missing}"
    # the values where gensim's are deterministic
    g, e = built[3]
    assert e.indices_set == g.indices_set
    assert np.array_equal(e.indices_array, g.indices_array)
    assert built[0][1].random.randint(1000) == np.random.RandomState(1).randint(1000)
    assert [ev["event"] for ev in built[4][1].lifecycle_events] == ["created"]


def _small_model(**kw) -> Word2Vec:
    texts = [["alpha", "beta", "gamma", "alpha"], ["beta", "delta", "alpha"]] * 5
    return Word2Vec(texts, vector_size=8, min_count=1, sample=0, epochs=1, workers=1, seed=3, **kw)


@pytest.mark.parametrize("cls", ["Word2Vec", "KeyedVectors", "PoincareModel", "Phrases"])
def test_add_lifecycle_event_records_and_logs_as_gensim(cls, caplog):
    from embedrs.models.phrases import Phrases
    from embedrs.models.poincare import PoincareModel

    obj = {
        "Word2Vec": lambda: _small_model(),
        "KeyedVectors": lambda: KeyedVectors(4),
        "PoincareModel": lambda: PoincareModel([("a", "b"), ("b", "c")], size=2, negative=1),
        "Phrases": lambda: Phrases([["a", "b"]]),
    }[cls]()
    before = len(getattr(obj, "lifecycle_events", None) or [])
    with caplog.at_level(logging.INFO, logger="embedrs.utils"):
        obj.add_lifecycle_event("tagged", note="why", n=3)
    event = obj.lifecycle_events[-1]
    assert len(obj.lifecycle_events) == before + 1
    assert event["event"] == "tagged" and event["note"] == "why" and event["n"] == 3
    assert {"datetime", "python", "platform", "embedrs"} <= set(event)
    assert f"{cls} lifecycle event" in caplog.text and "tagged" in caplog.text
    # log_level=False logs nothing; lifecycle_events=None records nothing
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="embedrs.utils"):
        obj.add_lifecycle_event("quiet", log_level=False)
    assert obj.lifecycle_events[-1]["event"] == "quiet" and "quiet" not in caplog.text
    obj.lifecycle_events = None
    obj.add_lifecycle_event("ignored")
    assert obj.lifecycle_events is None
    with pytest.raises(TypeError, match="log_level"):
        obj.add_lifecycle_event("x", log_level="INFO")


def test_model_records_gensims_lifecycle_events():
    gw2v = _gensim_module("word2vec")
    texts = [["alpha", "beta", "gamma", "alpha"], ["beta", "delta", "alpha"]] * 5
    g = gw2v.Word2Vec(texts, vector_size=8, min_count=1, epochs=1, workers=1)
    ours = [e["event"] for e in _small_model().lifecycle_events]
    theirs = [e["event"] for e in g.lifecycle_events if e["event"] != "prepare_vocab"]
    assert ours == theirs == ["build_vocab", "train", "train", "created"]


def test_lifecycle_events_survive_save_and_load(tmp_path):
    from embedrs.models.doc2vec import Doc2Vec, TaggedDocument
    from embedrs.models.poincare import PoincareModel

    m = _small_model()
    m.add_lifecycle_event("tagged", odd={1, 2}, ratio=float("nan"), pair=(1, 2))
    m.save(tmp_path / "m")
    loaded = Word2Vec.load(tmp_path / "m")
    events = [e["event"] for e in loaded.lifecycle_events]
    assert events == ["build_vocab", "train", "train", "created", "tagged", "saving", "loaded"]
    tagged = loaded.lifecycle_events[4]
    # what JSON cannot hold comes back as its text; the rest as it was
    assert tagged["odd"] == "{1, 2}" and tagged["ratio"] == "nan" and tagged["pair"] == [1, 2]
    assert loaded.lifecycle_events[-1]["fname"] == str(tmp_path / "m")
    assert m.lifecycle_events[-1]["event"] == "saving"

    m.wv.save(tmp_path / "kv")
    assert [e["event"] for e in KeyedVectors.load(tmp_path / "kv").lifecycle_events] == [
        "saving",
        "loaded",
    ]
    docs = [TaggedDocument(["a", "b", "c"], [0]), TaggedDocument(["b", "c", "d"], [1])]
    d = Doc2Vec(docs, vector_size=4, min_count=1, epochs=1, workers=1)
    d.save(tmp_path / "d")
    assert [e["event"] for e in Doc2Vec.load(tmp_path / "d").lifecycle_events][-3:] == [
        "created",
        "saving",
        "loaded",
    ]
    p = PoincareModel([("a", "b"), ("b", "c")], size=2, negative=1)
    p.save(tmp_path / "p")
    assert [e["event"] for e in PoincareModel.load(tmp_path / "p").lifecycle_events] == [
        "saving",
        "loaded",
    ]
    # switched off stays off, as in gensim
    m.lifecycle_events = None
    m.save(tmp_path / "off")
    assert Word2Vec.load(tmp_path / "off").lifecycle_events is None


def test_lifecycle_events_of_a_gensim_model_are_kept(tmp_path):
    gw2v = _gensim_module("word2vec")
    texts = [["alpha", "beta", "gamma", "alpha"], ["beta", "delta", "alpha"]] * 5
    g = gw2v.Word2Vec(texts, vector_size=8, min_count=1, epochs=1, workers=1)
    g.save(str(tmp_path / "g"))
    theirs = gw2v.Word2Vec.load(str(tmp_path / "g")).lifecycle_events
    ours = Word2Vec.load(tmp_path / "g").lifecycle_events
    assert [e["event"] for e in ours] == [e["event"] for e in theirs]
    assert ours[:-2] == theirs[:-2]
    # gensim's "saving" event holds a frozenset, kept as its text
    assert ours[-2] == {**theirs[-2], "ignore": "frozenset()"}
    assert ours[-1]["fname"] == theirs[-1]["fname"] == str(tmp_path / "g")


def test_seeded_vector_matches_gensim():
    gw2v = _gensim_module("word2vec")
    g = gw2v.Word2Vec(vector_size=8, hashfxn=lambda s: sum(map(ord, s)))
    m = Word2Vec(vector_size=8, hashfxn=lambda s: sum(map(ord, s)))
    for word, size in [("alpha", 8), ("omega", 5)]:
        ours = m.seeded_vector(word, size)
        assert ours.dtype == np.float32 and ours.shape == (size,)
        np.testing.assert_array_equal(ours, g.seeded_vector(word, size))
    with pytest.raises(ValueError, match="vector_size"):
        m.seeded_vector("alpha", -1)


@pytest.mark.parametrize("domain", [2**31 - 1, 1000, 2**32 - 1])
def test_make_cum_table_matches_gensim(domain):
    gw2v = _gensim_module("word2vec")
    texts = [["a"] * 7 + ["b"] * 3 + ["c", "d", "d"]] * 4
    g = gw2v.Word2Vec(texts, vector_size=4, min_count=1, epochs=1, workers=1)
    m = Word2Vec(texts, vector_size=4, min_count=1, epochs=1, workers=1)
    g.make_cum_table(domain)
    m.make_cum_table(domain)
    assert m.cum_table.dtype == np.uint32 and int(m.cum_table[-1]) == domain
    np.testing.assert_array_equal(m.cum_table, g.cum_table)


@pytest.mark.parametrize("domain", [0, -5, 2**32, 1.5])
def test_make_cum_table_refuses_a_domain_that_does_not_fit(domain):
    with pytest.raises((ValueError, TypeError), match="domain"):
        _small_model().make_cum_table(domain)


def test_add_null_word_as_gensim_and_once():
    m = _small_model()
    n = len(m.wv)
    m.add_null_word()
    assert m.wv.index_to_key[-1] == "\0" and m.wv.key_to_index["\0"] == n
    assert m.wv.get_vecattr("\0", "count") == 1
    m.add_null_word()
    assert len(m.wv) == n + 1, "a second call adds nothing"
    m.init_weights()
    assert m.wv.vectors.shape == (n + 1, 8)
    m.train([["alpha", "beta"]] * 3, total_examples=3, epochs=1)


def test_create_binary_tree_rebuilds_codes_from_counts():
    m = _small_model(hs=1, negative=0)
    first = [list(m.wv.get_vecattr(w, "code")) for w in m.wv.index_to_key]
    m.wv.set_vecattr("delta", "count", 1000)
    m.create_binary_tree()
    codes = {w: list(m.wv.get_vecattr(w, "code")) for w in m.wv.index_to_key}
    assert len(codes["delta"]) == min(len(c) for c in codes.values())
    assert [codes[w] for w in m.wv.index_to_key] != first


def test_init_weights_restarts_from_build_vocab_state():
    m = _small_model()
    fresh = Word2Vec(vector_size=8, min_count=1, sample=0, epochs=1, workers=1, seed=3)
    fresh.build_vocab([["alpha", "beta", "gamma", "alpha"], ["beta", "delta", "alpha"]] * 5)
    assert not np.array_equal(m.wv.vectors, fresh.wv.vectors), "trained"
    m.init_weights()
    np.testing.assert_array_equal(m.wv.vectors, fresh.wv.vectors)
    assert not m.syn1neg.any()


def test_update_weights_keeps_trained_rows_and_needs_prior_weights():
    m = _small_model()
    trained = m.wv.vectors.copy()
    m.build_vocab([["epsilon", "alpha"]], update=True)
    # build_vocab(update=True) grew the weights already; calling again is harmless
    m.update_weights()
    np.testing.assert_array_equal(m.wv.vectors[: len(trained)], trained)
    assert m.wv.vectors.shape == (len(trained) + 1, 8)
    assert m.syn1neg.shape == m.wv.vectors.shape
    with pytest.raises(RuntimeError, match="online vocabulary-update"):
        Word2Vec(vector_size=4).update_weights()


def test_log_accuracy_logs_gensims_line(caplog):
    section = {"section": "capital", "correct": [1] * 8, "incorrect": [1] * 5}
    with caplog.at_level(logging.INFO):
        KeyedVectors.log_accuracy(section)
        KeyedVectors.log_accuracy({"section": "empty", "correct": [], "incorrect": []})
    assert "capital: 61.5% (8/13)" in caplog.text and "empty" not in caplog.text
