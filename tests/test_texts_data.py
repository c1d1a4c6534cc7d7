"""Text datasets (`dataset=text_csv`, `dataset=text_folder`, the TREC and SST-2 configs): reading each
real file format, splits, the tokenizer learned on training texts only, token-id tensors, and the
errors a user gets for bad files and options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from nas_cli.data import DATASETS, KINDS, load_dataset
from nas_cli.data.text_tokenizer import (
    default_max_length,
    encode,
    encode_training,
    lengths,
    load_tokenizer,
    oov_rate,
    save_tokenizer,
    tokenizer_from_json,
    train_tokenizer,
)
from nas_cli.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "dataset"
SHARED = REPO.parent / "shared" / "data"
WORDS = ["good", "bad", "film", "plot", "actor", "music", "great", "boring", "fun", "slow"]


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def sentence(i: int, n: int = 4) -> str:
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(1 + (i % n)))


def labelled(n: int = 40) -> list[tuple[str, str]]:
    return [(sentence(i), "pos" if i % 2 else "neg") for i in range(n)]


def test_quoted_csv_keeps_delimiters_inside_quotes(tmp_path):
    rows = ["text,label"] + [f'"{t}, really ""{i}""",{y}' for i, (t, y) in enumerate(labelled())]
    data = load_dataset("text_csv", path=str(write(tmp_path / "q.csv", rows)))
    assert data.info["train"] + data.info["val"] + data.info["test"] == 40 and data.info["test"] == 8
    assert data.info["classes"] == ["neg", "pos"] and data.spec.num_classes == 2
    assert data.raw["train"]["text"].str.contains(', really "').all()
    assert {str(t.dtype) for t in (data.train_x, data.train_y, data.val_x, data.test_y)} == {"torch.int64"}
    length = data.spec.input_shape[0]
    assert data.train_x.shape[1] == data.val_x.shape[1] == data.test_x.shape[1] == length >= 8
    assert (data.train_x[:, 0] == 2).all() and (data.test_x[:, -1] == 0).any()  # [CLS] first, [PAD] = 0
    assert data.spec.text == {"vocab_size": data.info["vocab_size"], "max_length": length, "pad_id": 0, "cls_id": 2}
    assert data.preprocess["read"]["delimiter"] == "," and data.preprocess["text_column"] == "text"


def test_unquoted_headerless_csv_with_column_names(tmp_path):
    rows = [f"{y},{t}" for t, y in labelled()]
    data = load_dataset("text_csv", path=str(write(tmp_path / "plain.csv", rows)), header=False,
                        columns=["label", "text"], delimiter="comma")
    assert sorted(data.raw["train"]["text"].tolist() + data.raw["val"]["text"].tolist()
                  + data.raw["test"]["text"].tolist()) == sorted(t for t, _ in labelled())
    names = load_dataset("text_csv", path=str(tmp_path / "plain.csv"), header=False, text_column="c1",
                         label_column="c0")
    assert names.info["classes"] == ["neg", "pos"]


def test_several_text_columns_are_joined(tmp_path):
    rows = ["title;body;label"] + [f"t{i};{t};{y}" for i, (t, y) in enumerate(labelled())]
    data = load_dataset("text_csv", path=str(write(tmp_path / "s.csv", rows)), text_column=["title", "body"])
    assert data.raw["train"]["text"].str.match(r"^t\d+ \w").all()
    assert data.preprocess["read"]["delimiter"] == ";" and data.preprocess["text_column"] == ["title", "body"]


def test_tsv_with_unbalanced_quotes_needs_quoting_none(tmp_path):
    rows = ["sentence\tlabel"] + [f'" {t} {i}\t{y}' if i % 5 == 0 else f"{t}\t{y}"
                                  for i, (t, y) in enumerate(labelled())]
    path = write(tmp_path / "u.tsv", rows)
    data = load_dataset("text_csv", path=str(path), quoting="none", delimiter="tab", test_fraction=0.25)
    assert data.info["train"] + data.info["val"] + data.info["test"] == 40
    assert data.preprocess["text_column"] == "sentence"  # auto: the one column besides the label
    everything = "".join(data.raw[s]["text"].str.cat() for s in ("train", "val", "test"))
    assert everything.count('"') == 8 and data.preprocess["read"]["quoting"] == "none"
    try:  # with quotes honoured, rows merge (or the reader fails): never 40 clean rows
        merged = load_dataset("text_csv", path=str(path), quoting="minimal", delimiter="tab")
        assert merged.info["train"] + merged.info["val"] + merged.info["test"] < 40
    except ConfigError:
        pass


def test_trec_format_latin1_coarse_labels(tmp_path):
    coarse = ["DESC", "HUM", "LOC"]
    lines = [f"{coarse[i % 3]}:fine{i % 2} What is the sister\xf0city of {sentence(i)} ?" for i in range(45)]
    path = write(tmp_path / "trec.label", lines, encoding="latin-1")
    options = {"line_format": "label_space_text", "label_pattern": "^([^:]+)"}
    data = load_dataset("text_csv", path=str(path), encoding="latin-1", **options)
    assert data.info["classes"] == coarse and data.raw["train"]["text"].str.contains("sister\xf0city").all()
    assert data.raw["train"]["text"].str.startswith("What").all()
    fine = load_dataset("text_csv", path=str(path), encoding="latin-1", line_format="label_space_text")
    assert len(fine.info["classes"]) == 6
    with pytest.raises(ConfigError, match=r"line 1 is not valid utf-8 \(byte 0xf0\).*dataset.encoding=latin-1"):
        load_dataset("text_csv", path=str(path), **options)


def test_text_folder_with_test_split_and_class_choice(tmp_path):
    for split, count in (("train", 12), ("test", 3)):
        for label in ("neg", "pos", "unsup"):
            folder = tmp_path / "imdb" / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                (folder / f"{i}.txt").write_text(f"{sentence(i)} {label}\n", encoding="utf-8")
            (folder / "notes.md").write_text("not a text file", encoding="utf-8")
    data = load_dataset("text_folder", root=str(tmp_path / "imdb"), classes=["neg", "pos"], val_fraction=0.25)
    assert data.info["classes"] == ["neg", "pos"] and data.info["test"] == 6
    assert data.info["train"] == 18 and data.info["val"] == 6
    assert set(data.raw["test"]["label"]) == {"neg", "pos"} and data.preprocess["read"]["line_format"] == "folder"
    alone = load_dataset("text_folder", root=str(tmp_path / "imdb" / "train"))  # ROOT/<class>/*.txt (Keras)
    assert alone.info["classes"] == ["neg", "pos", "unsup"] and alone.info["test"] == 6


@pytest.mark.parametrize("kind", ["word", "wordpiece", "bpe"])
def test_tokenizer_kinds_special_ids_and_round_trip(kind, tmp_path):
    texts = [sentence(i) for i in range(60)] + ["The Music was Great"]
    tok = train_tokenizer(texts, kind=kind, vocab_size=200, lowercase=True)
    assert [tok.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]")] == [0, 1, 2]
    ids = encode(tok, ["great music", "zzzq " * 20, ""], max_length=10)
    assert ids.dtype == np.int64 and ids.shape == (3, 10) and (ids[:, 0] == 2).all()
    assert ids[0, 3:].tolist() == [0] * 7 and ids[2, 1:].tolist() == [0] * 9 and 1 in ids[1]
    assert lengths(tok, ["great music", "fun " * 40]).tolist()[1] > 10  # before truncation
    assert oov_rate(tok, ["great music"]) == 0 and oov_rate(tok, ["zzzq"]) == 1
    loaded = load_tokenizer(save_tokenizer(tok, tmp_path / "tokenizer.json"))
    assert (encode(loaded, ["great music"], 10) == ids[:1]).all()
    assert encode(tokenizer_from_json(tok.to_str()), ["GREAT MUSIC"], 10).tolist() == ids[:1].tolist()


def test_wordpiece_splits_unseen_words_where_word_level_gives_unk():
    texts = [sentence(i) for i in range(60)]
    word = train_tokenizer(texts, kind="word", vocab_size=200, lowercase=True)
    pieces = train_tokenizer(texts, kind="wordpiece", vocab_size=200, lowercase=True)
    assert oov_rate(word, ["filmo"]) == 1 and oov_rate(pieces, ["filmo"]) == 0


def test_default_max_length_is_the_99th_percentile_within_8_and_256():
    assert default_max_length(np.arange(1, 101)) == 100  # ceil(99.01)
    assert default_max_length(np.array([3, 4, 5])) == 8 and default_max_length(np.array([1000])) == 256
    texts = [" ".join(["fun"] * n) for n in range(1, 41)]
    tok = train_tokenizer(texts)
    ids, counts = encode_training(tok, texts)
    assert counts.tolist() == list(range(2, 42)) and ids.shape == (40, default_max_length(counts))
    assert (ids == encode(tok, texts, ids.shape[1])).all()  # one pass gives what the tokenizer gives
    assert tok.padding["length"] == tok.truncation["max_length"] == ids.shape[1]


def test_max_length_option_and_tokenizer_trained_on_training_split_only(tmp_path):
    rows = ["text,label"] + [f"{t},{y}" for t, y in labelled()]
    test_rows = ["text,label", "zebra quartz,pos", "good film,neg"]
    data = load_dataset("text_csv", path=str(write(tmp_path / "a.csv", rows)), max_length=12, tokenizer="bpe",
                        test_path=str(write(tmp_path / "b.csv", test_rows)))
    assert data.spec.input_shape == (12,) and data.info["test"] == 2 and data.info["val"] == 4
    vocab = tokenizer_from_json(data.preprocess["tokenizer"]).get_vocab()
    assert "z" not in vocab and "zebra" not in vocab  # test texts never reach the tokenizer
    assert data.preprocess["max_length"] == 12 and data.preprocess["tokenizer_kind"] == "bpe"


def test_test_file_with_an_unknown_label_is_an_error(tmp_path):
    rows = ["text,label"] + [f"{t},{y}" for t, y in labelled()]
    test_rows = ["text,label", "good film,pos", "bad plot,meh"]
    with pytest.raises(ConfigError, match=r"line 3 of dataset.test_path=.*'meh'.*never has .*neg, pos"):
        load_dataset("text_csv", path=str(write(tmp_path / "a.csv", rows)),
                     test_path=str(write(tmp_path / "b.csv", test_rows)))


def test_numeric_labels_sort_as_numbers(tmp_path):
    rows = ["text,label"] + [f"{t},{['2', '10', '1'][i % 3]}" for i, (t, _) in enumerate(labelled(45))]
    assert load_dataset("text_csv", path=str(write(tmp_path / "n.csv", rows))).info["classes"] == ["1", "2", "10"]


def test_bad_inputs_are_one_line_config_errors(tmp_path):
    good = write(tmp_path / "good.csv", ["text,label"] + [f"{t},{y}" for t, y in labelled()])
    cases = [
        ({"path": str(good), "text_column": "review"}, r"text_column='review' is not a column .*text, label"),
        ({"path": str(good), "label_column": "y"}, r"label_column='y' is not a column .*: text, label"),
        ({"path": str(write(tmp_path / "e.csv", ["text,label", "fine,a", '"  ",b', "ok,a"]))},
         r"line 3 of dataset.path=.* has an empty text \(1 such row"),
        ({"path": str(write(tmp_path / "nl.csv", ["text,label", "fine,a", "good,"]))}, r"line 3 .* empty label"),
        ({"path": str(write(tmp_path / "one.csv", ["text,label", "a b,x", "c d,x"]))}, r"has one class \('x'\)"),
        ({"path": str(tmp_path / "missing.csv")}, r"dataset.path=.*missing.csv does not exist"),
        ({"path": None}, r"dataset=text_csv needs dataset.path"),
        ({"path": str(good), "tokenizer": "sentencepiece"}, r"dataset.tokenizer='sentencepiece' .* word, wordpiece, bpe"),
        ({"path": str(good), "quoting": "all"}, r"dataset.quoting='all' is not allowed"),
        ({"path": str(good), "line_format": "jsonl"}, r"dataset.line_format='jsonl'"),
        ({"path": str(good), "label_pattern": "^[a-z]+"}, r"exactly one group"),
        ({"path": str(good), "label_pattern": "^(x"}, r"not a valid regular expression"),
        ({"path": str(good), "label_pattern": "^(p)os"}, r"does not match the label 'neg' at line 2"),
        ({"path": str(good), "max_length": 1}, r"dataset.max_length must be an integer >= 2"),
        ({"path": str(good), "vocab_size": 2}, r"dataset.vocab_size must be an integer"),
    ]
    for options, message in cases:
        with pytest.raises(ConfigError, match=message) as caught:
            load_dataset("text_csv", **options)
        assert "\n" not in str(caught.value), options


def test_bad_folders_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="dataset.root=.*nowhere does not exist"):
        load_dataset("text_folder", root=str(tmp_path / "nowhere"))
    (tmp_path / "t" / "test" / "a").mkdir(parents=True)
    with pytest.raises(ConfigError, match="has test/ but no train/"):
        load_dataset("text_folder", root=str(tmp_path / "t"))
    (tmp_path / "t" / "train" / "a").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"train/a holds no .txt files"):
        load_dataset("text_folder", root=str(tmp_path / "t"))
    (tmp_path / "t" / "train" / "a" / "1.txt").write_bytes(b"caf\xe9 ok")
    with pytest.raises(ConfigError, match=r"1.txt: line 1 is not valid utf-8 \(byte 0xe9\)"):
        load_dataset("text_folder", root=str(tmp_path / "t"))
    with pytest.raises(ConfigError, match=r"dataset.classes names \['b'\]"):
        load_dataset("text_folder", root=str(tmp_path / "t"), classes=["b"])


def _config_options(name: str, monkeypatch) -> dict:
    """The dataset options a `dataset=<name>` run passes to load_dataset (defaults merged, resolved)."""
    from omegaconf import OmegaConf

    monkeypatch.setenv("NAS_SHARED_DATA", str(SHARED))
    own = OmegaConf.load(CONFIGS / f"{name}.yaml")
    merged = OmegaConf.merge(OmegaConf.load(CONFIGS / "text_csv.yaml"), own)
    options = OmegaConf.to_container(merged, resolve=True)
    options.pop("defaults")
    return options


needs_shared = pytest.mark.skipif(not (SHARED / "text").is_dir(), reason="../shared/data/text/ is not here")


@needs_shared
def test_real_trec_through_its_config(monkeypatch):
    options = _config_options("trec", monkeypatch)
    data = load_dataset(options.pop("name"), **options)
    assert data.info["train"] + data.info["val"] == 5452 and data.info["test"] == 500
    assert data.info["classes"] == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert np.bincount(data.test_y.numpy()).tolist() == [9, 138, 94, 65, 81, 113]
    assert data.info["val"] == pytest.approx(545, abs=3) and 8 <= data.spec.input_shape[0] <= 256


@needs_shared
@pytest.mark.slow
def test_real_sst2_through_its_config(monkeypatch):
    options = _config_options("sst2", monkeypatch)
    data = load_dataset(options.pop("name"), **options)
    assert data.info["train"] + data.info["val"] == 67349 and data.info["test"] == 872
    assert data.info["classes"] == ["0", "1"] and np.bincount(data.test_y.numpy()).tolist() == [428, 444]
    assert not data.raw["train"]["text"].str.endswith(" ").any()
    assert data.info["oov_rate_val"] < 0.01


def test_dataset_yaml_files_match_the_builders():
    import inspect

    from nas_cli.data import texts

    for name, builder in (("text_csv", texts.load_text_csv), ("text_folder", texts.load_text_folder)):
        config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
        assert config["name"] == name and name in DATASETS and KINDS[name] == "text"
        assert set(config) - {"name", "defaults"} == set(inspect.signature(builder).parameters) - {"_"}
        assert "textcnn" in str(config["defaults"])
    text_csv = set(yaml.safe_load((CONFIGS / "text_csv.yaml").read_text()))
    for name in ("trec", "sst2"):
        assert set(yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())) - {"defaults"} <= text_csv


def test_tokenizer_and_reader_do_not_import_torch():
    code = ("import sys, nas_cli.data.text_tokenizer as t, nas_cli.data.text_read; "
            "t.encode(t.train_tokenizer(['a b', 'b c']), ['a c'], 8); assert 'torch' not in sys.modules")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
