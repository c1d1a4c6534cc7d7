"""Text-classification datasets: `dataset=text_csv` (a CSV/TSV file, or `LABEL text` lines as in
TREC) and `dataset=text_folder` (ROOT/train/<class>/*.txt), through one path: read, split (seeded,
stratified), learn a tokenizer on the training texts only, encode every split once.

Inputs are int64 token ids `[N, L]`: [CLS] (id 2) first, truncated to L, padded with [PAD] (id 0);
[UNK] is id 1. L is `dataset.max_length`, or the 99th percentile of the training texts' token
counts (at least 8, at most 256).
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.data import Data, DataSpec
from nas_cli.data.tables import _cap, _split_rows
from nas_cli.data.text_read import describe_row, read_text_file, read_text_folder, text_read_options
from nas_cli.data.text_tokenizer import (
    CLS_ID,
    PAD_ID,
    check_tokenizer_options,
    encode,
    encode_training,
    oov_rate,
    tokenizer_to_json,
    train_tokenizer,
)
from nas_cli.errors import ConfigError


def load_text_csv(path=None, test_path=None, text_column="auto", label_column="label", line_format="delimited",
                  delimiter="auto", header=True, columns=None, quoting="minimal", encoding="utf-8",
                  label_pattern=None, tokenizer="word", vocab_size=20000, lowercase=True, max_length=None,
                  val_fraction=0.1, test_fraction=0.2, seed=0, max_train=None, **_: object) -> Data:
    """A file of labelled texts (and optionally its own test file) as train/val/test token ids."""
    if path in (None, "", "???"):
        raise ConfigError("dataset=text_csv needs dataset.path=FILE (a CSV/TSV file of texts and labels), e.g. "
                          "dataset=text_csv dataset.path=data/train.tsv dataset.text_column=sentence")
    check_encoding_options(tokenizer, vocab_size, lowercase, max_length)  # before the (slow) read
    read = text_read_options(text_column=text_column, label_column=label_column, line_format=line_format,
                        delimiter=delimiter, header=header, columns=columns, quoting=quoting, encoding=encoding,
                        label_pattern=label_pattern)
    frame = read_text_file(path, read, key="dataset.path")
    test_frame = read_text_file(test_path, read, key="dataset.test_path") if test_path else None
    info = {"path": str(path), "test_path": str(test_path) if test_path else None}
    return build_text_data(frame, test_frame, name="text_csv", read=read, tokenizer=tokenizer,
                           vocab_size=vocab_size, lowercase=lowercase, max_length=max_length,
                           val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                           max_train=max_train, info=info)


def load_text_folder(root=None, encoding="utf-8", classes=None, label_pattern=None, tokenizer="word",
                     vocab_size=20000, lowercase=True, max_length=None, val_fraction=0.1, test_fraction=0.2,
                     seed=0, max_train=None, **_: object) -> Data:
    """ROOT/train/<class>/*.txt (optional ROOT/test/), or ROOT/<class>/*.txt alone, as token ids."""
    if root in (None, "", "???"):
        raise ConfigError("dataset=text_folder needs dataset.root=PATH, a directory holding train/<class>/*.txt")
    check_encoding_options(tokenizer, vocab_size, lowercase, max_length)
    root_path = Path(str(root)).expanduser().resolve()
    if not root_path.is_dir():
        raise ConfigError(f"dataset.root={root} " + ("is not a directory" if root_path.exists() else "does not exist"))
    train_dir, test_dir = root_path / "train", root_path / "test"
    if not train_dir.is_dir():
        if test_dir.is_dir():
            raise ConfigError(f"dataset.root={root} has test/ but no train/; add {train_dir}/<class>/*.txt")
        train_dir, test_dir = root_path, None  # ROOT/<class>/*.txt: every split carved from it
    elif not test_dir.is_dir():
        test_dir = None
    frame = read_text_folder(train_dir, encoding=encoding, classes=classes, label_pattern=label_pattern)
    test_frame = read_text_folder(test_dir, encoding, classes, label_pattern) if test_dir else None
    read = {"line_format": "folder", "text_column": "text", "label_column": "label", "encoding": str(encoding),
            "classes": list(classes) if classes else None, "label_pattern": label_pattern}
    info = {"path": str(train_dir), "test_path": str(test_dir) if test_dir else None}
    return build_text_data(frame, test_frame, name="text_folder", read=read, tokenizer=tokenizer,
                           vocab_size=vocab_size, lowercase=lowercase, max_length=max_length,
                           val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                           max_train=max_train, info=info)


def build_text_data(frame, test_frame=None, *, name: str, read: dict, tokenizer="word", vocab_size=20000,
                    lowercase=True, max_length=None, val_fraction=0.1, test_fraction=0.2, seed=0,
                    max_train=None, info=None) -> Data:
    """Split `frame` (texts and labels; `test_frame` is the test split when given), learn the tokenizer
    on the training texts, encode every split, build `Data`."""
    import pandas as pd
    import torch

    check_encoding_options(tokenizer, vocab_size, lowercase, max_length)
    codes, uniques = pd.factorize(frame["label"])
    if len(uniques) < 2:
        raise ConfigError(f"{frame.attrs['where']}: the label column {read['label_column']!r} has one class "
                          f"({str(uniques[0])!r}); a classifier needs at least two")
    train, val, test = _split_rows(len(frame), codes, val_fraction, test_fraction, int(seed), test_frame is None)
    rows = {"train": _cap(train, max_train, int(seed)), "val": val, "test": test}
    sources = {split: (frame, positions) for split, positions in rows.items()}
    if test_frame is not None:
        sources["test"] = (test_frame, list(range(len(test_frame))))
    parts = {split: source.iloc[positions].reset_index(drop=True) for split, (source, positions) in sources.items()}
    classes = _sorted_classes(set(parts["train"]["label"]))
    if len(classes) < 2:
        raise ConfigError(f"{frame.attrs['where']}: the training split has one class ({classes[0]!r}); "
                          "a classifier needs at least two")
    labels = {split: _label_ids(parts[split]["label"], classes, *sources[split], split) for split in parts}
    texts = {split: parts[split]["text"].tolist() for split in parts}
    tok = train_tokenizer(texts["train"], kind=tokenizer, vocab_size=vocab_size, lowercase=lowercase)
    train_ids, counts = encode_training(tok, texts["train"], max_length)
    length = int(train_ids.shape[1])
    ids = {split: torch.from_numpy(train_ids if split == "train" else encode(tok, texts[split], length))
           for split in parts}
    text_spec = {"vocab_size": tok.get_vocab_size(), "max_length": length, "pad_id": PAD_ID, "cls_id": CLS_ID}
    spec = DataSpec(name=name, input_shape=(length,), num_classes=len(classes), task="classification",
                    text=text_spec)
    columns = {k: read[k] for k in ("text_column", "label_column")}
    preprocess = {"kind": "text", "tokenizer": tokenizer_to_json(tok), "tokenizer_kind": tokenizer,
                  "max_length": length, "lowercase": lowercase, "vocab_size": text_spec["vocab_size"],
                  "pad_id": PAD_ID, "cls_id": CLS_ID, "classes": classes, **columns,
                  "read": {k: v for k, v in read.items() if k not in columns}}
    raw = {}
    for split, part in parts.items():
        raw[split] = part.copy()
        raw[split].attrs = {"split": split}
    summary = {"train": len(parts["train"]), "val": len(parts["val"]), "test": len(parts["test"]),
               "classes": classes, "tokenizer": tokenizer, "vocab_size": text_spec["vocab_size"],
               "max_length": length, "truncated_train": round(float((counts > length).mean()), 4),
               "oov_rate_val": round(oov_rate(tok, texts["val"]), 4), **(info or {})}
    return Data(spec=spec, train_x=ids["train"], train_y=labels["train"], val_x=ids["val"], val_y=labels["val"],
                test_x=ids["test"], test_y=labels["test"], info=summary, preprocess=preprocess, raw=raw)


def _sorted_classes(labels) -> list[str]:
    """Sorted label names; numbers in number order ("2" before "10"), as tables sort them."""
    def number(label: str):
        try:
            return float(label)
        except ValueError:
            return None

    numbers = {label: number(label) for label in labels}
    if all(v is not None and v == v for v in numbers.values()):
        return sorted(labels, key=lambda label: (numbers[label], label))
    return sorted(labels)


def _label_ids(series, classes: list[str], source, positions, split: str):
    """Class indices (int64 tensor) of one split; a label training never had is an error naming it."""
    import numpy as np
    import torch

    index = {c: i for i, c in enumerate(classes)}
    ids = np.fromiter((index.get(label, -1) for label in series), dtype=np.int64, count=len(series))
    unknown = ids < 0
    if unknown.any():
        first = int(unknown.argmax())
        raise ConfigError(f"{describe_row(source, int(positions[first]))} ({split} split) has the label "
                          f"{series.iloc[first]!r}, which the training split never has (classes: "
                          f"{', '.join(classes)}); drop those rows or add examples of it to training")
    return torch.from_numpy(ids)


def check_encoding_options(tokenizer, vocab_size, lowercase, max_length) -> None:
    """ConfigError for a bad dataset.tokenizer, vocab_size, lowercase or max_length."""
    check_tokenizer_options(tokenizer, vocab_size)
    if not isinstance(lowercase, bool):
        raise ConfigError(f"dataset.lowercase must be true or false, got {lowercase!r}")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2):
        raise ConfigError(f"dataset.max_length must be an integer >= 2 (tokens, [CLS] included) or null "
                          f"(the 99th percentile of training lengths), got {max_length!r}")
