"""The ``embedrs`` command and its main job (``embedrs train``), and the
embedded default corpus it trains on."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from embedrs import _default_corpus as dc
from embedrs.cli import main

ANIMALS = ["cat", "dog", "horse", "cow", "sheep", "goat", "mouse", "rabbit", "tiger", "lion"]
TOOLS = [
    "hammer",
    "saw",
    "drill",
    "wrench",
    "chisel",
    "pliers",
    "screwdriver",
    "file",
    "rasp",
    "clamp",
]


@pytest.fixture(scope="module")
def topic_corpus(tmp_path_factory) -> Path:
    """A small text corpus with two topics that never share a sentence."""
    rng = random.Random(7)
    lines = []
    for i in range(1200):
        topic = ANIMALS if i % 2 else TOOLS
        lines.append(" ".join(rng.choice(topic) for _ in range(10)))
    path = tmp_path_factory.mktemp("corpus") / "topics.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )


# ------------------------------------------------------------------ the command


def test_console_script_help():
    dirs = os.pathsep.join([sysconfig.get_path("scripts"), os.path.dirname(sys.executable)])
    exe = shutil.which("embedrs", path=dirs)
    if exe is None:
        pytest.skip("the embedrs console script is not installed next to this Python")
    res = _run(exe, "--help")
    assert res.returncode == 0, res.stderr
    assert "train" in res.stdout and "usage: embedrs" in res.stdout


def test_python_dash_m_help():
    res = _run(sys.executable, "-m", "embedrs", "--help")
    assert res.returncode == 0, res.stderr
    assert "train" in res.stdout


def test_train_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--corpus", "--out", "--vector-size", "--epochs", "--workers", "--sg"):
        assert opt in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "--epochs"),
        (["--vector-size", "0"], "--vector-size"),
        (["--hs", "0", "--negative", "0"], "--negative"),
    ],
)
def test_bad_options_exit_2_with_a_message(tmp_path, capsys, argv, message, topic_corpus):
    code = main(["--corpus", str(topic_corpus), "--out", str(tmp_path / "o"), *argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_missing_corpus_file_exits_2(tmp_path, capsys):
    code = main(["train", "--corpus", str(tmp_path / "nope.txt"), "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "nope.txt" in err and "not found" in err


def test_empty_corpus_file_exits_2(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert main(["--corpus", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no words" in capsys.readouterr().err


# ------------------------------------------------------------------ the main job


def test_main_job_on_a_small_corpus_writes_its_outputs(tmp_path, topic_corpus, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "--corpus",
            str(topic_corpus),
            "--out",
            str(out),
            "--vector-size",
            "16",
            "--epochs",
            "10",
            "--min-count",
            "1",
            "--workers",
            "1",
            "--sg",
            "1",
            "--words",
            "cat,hammer,unknownword",
            "--topn",
            "5",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "cat:" in printed and str(out.resolve()) in printed

    lines = (out / "vectors.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].split() == ["20", "16"]
    assert len(lines) == 21 and all(len(line.split()) == 17 for line in lines[1:])

    neighbours = json.loads((out / "neighbours.json").read_text())
    assert neighbours["unknownword"] is None
    for word, topic in (("cat", ANIMALS), ("hammer", TOOLS)):
        near = [w for w, _ in neighbours[word]]
        assert len(near) == 5 and word not in near
        # The two topics never share a sentence: neighbours stay in the topic.
        assert sum(w in topic for w in near) >= 4, (word, neighbours[word])

    run_info = json.loads((out / "run.json").read_text())
    assert run_info["trained"] is True and run_info["vocabulary"] == 20
    assert run_info["parameters"]["vector_size"] == 16


def test_main_job_with_no_arguments_uses_the_default_corpus(tmp_path, monkeypatch, capsys):
    # `embedrs` with no subcommand runs `train` on the embedded corpus; keep it small here.
    monkeypatch.chdir(tmp_path)
    code = main(
        ["-q", "--max-tokens", "20000", "--epochs", "1", "--vector-size", "20", "--workers", "2"]
    )
    assert code == 0
    out = tmp_path / "embedrs_output"
    stats = json.loads((out / "corpus_stats.json").read_text())
    assert stats["kind"].startswith("embedded") and stats["tokens"] >= 20000
    neighbours = json.loads((out / "neighbours.json").read_text())
    assert neighbours and all(len(v) == 8 for v in neighbours.values() if v)
    assert (out / "vectors.txt").read_text().split("\n", 1)[0].endswith(" 20")
    assert "Nearest neighbours" in capsys.readouterr().out


# ------------------------------------------------------------ the default corpus


def test_default_corpus_is_real_and_deterministic():
    a, stats = dc.build_default_corpus(max_tokens=15_000)
    b, _ = dc.build_default_corpus(max_tokens=15_000)
    assert a == b
    assert stats.tokens == sum(map(len, a)) >= 15_000
    words = {w for s in a for w in s}
    assert all(w == w.lower() for w in words)
    assert {"the", "return", "file"} <= words


def test_default_corpus_sources_skip_tests_and_are_sorted():
    files = dc.stdlib_sources()
    root = dc.stdlib_dir()
    rel = [f.relative_to(root).as_posix() for f in files]
    assert rel == sorted(rel) and len(rel) > 100
    assert not any("/test/" in f"/{r}" or "site-packages" in r for r in rel)
    assert "os.py" in rel


def test_documents_of_source_reads_docstrings_and_comments():
    src = (
        b'"""Module doc. It has two sentences."""\n'
        b"# A comment block\n# over two lines.\n"
        b"def f():\n    '''Function doc.'''\n\n"
        b'class C:\n    """Class doc."""\n    x = 1  # trailing note\n'
    )
    docs = dc.documents_of_source(src, "m.py")
    assert docs[:3] == ["Module doc. It has two sentences.", "Function doc.", "Class doc."]
    assert "A comment block\nover two lines." in docs and "trailing note" in docs


def test_sentences_of_text_tokenises():
    text = "Return the value of X_Y. Don't stop!\n\nA new paragraph here\none"
    assert dc.sentences_of_text(text) == [
        ["return", "the", "value", "of", "x_y"],
        ["don't", "stop"],
        ["a", "new", "paragraph", "here", "one"],
    ]


def test_default_corpus_skips_unparsable_files_and_rejects_empty_roots(tmp_path):
    (tmp_path / "bad.py").write_text("def (:\n")
    (tmp_path / "good.py").write_text('"""Some useful text here."""\n')
    sentences, stats = dc.build_default_corpus(root=tmp_path)
    assert sentences == [["some", "useful", "text", "here"]]
    assert stats.files_skipped == 1 and stats.skipped[0].startswith("bad.py")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="--corpus"):
        dc.build_default_corpus(root=empty)
