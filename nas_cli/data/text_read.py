"""Reading labelled texts into a pandas DataFrame with the columns "text" and "label" (str).

Three layouts: a CSV/TSV file (read by `table_read.read_table`: delimiter detection, header,
quoting, encoding), `label_space_text` lines (TREC: `LABEL text`, split at the first space), and
a folder of class folders of .txt files (Keras `text_dataset_from_directory`). Texts are stripped;
an empty text or label is an error naming its line or file. `label_pattern` (a regex with one
group) rewrites labels, e.g. '^([^:]+)' keeps TREC's coarse class. The frame's attrs say where each
row came from ("lines": file line per row, or "files": path per row) for error messages.
Torch-free: `nas predict` reads files with it.
"""

from __future__ import annotations

import re
from pathlib import Path

from nas_cli.data.table_read import _decode, config_list, read_table
from nas_cli.errors import ConfigError

LINE_FORMATS = ("delimited", "label_space_text")
QUOTING = ("minimal", "none")


def text_read_options(text_column="auto", label_column="label", line_format="delimited", delimiter="auto",
                 header=True, columns=None, quoting="minimal", encoding="utf-8", label_pattern=None) -> dict:
    """How to read a text file, checked and normalised (saved in preprocess.json)."""
    if line_format not in LINE_FORMATS:
        raise ConfigError(f"dataset.line_format={line_format!r} is not allowed; choose one of: "
                          f"{', '.join(LINE_FORMATS)}")
    if quoting not in QUOTING:
        raise ConfigError(f"dataset.quoting={quoting!r} is not allowed; choose one of: {', '.join(QUOTING)}")
    text_columns = config_list(text_column)
    if not text_columns or label_column in (None, ""):
        raise ConfigError("dataset.text_column and dataset.label_column must name columns, e.g. "
                          "dataset.text_column=sentence dataset.label_column=label")
    if label_pattern is not None:
        _compile_pattern(label_pattern)
    return {"line_format": line_format, "text_column": text_columns if len(text_columns) > 1 else text_columns[0],
            "label_column": str(label_column), "delimiter": delimiter, "header": bool(header),
            "columns": config_list(columns) if columns else None, "quoting": quoting, "encoding": str(encoding),
            "label_pattern": None if label_pattern is None else str(label_pattern)}


def read_text_file(path, read: dict, key: str = "dataset.path"):
    """The labelled texts of one file read as `read` (from `text_read_options`) says.

    A detected delimiter and text column (`auto`) are written back into `read`, so a test or predict
    file reads the same.
    """
    import numpy as np

    where = f"{key}={path}"
    if read["line_format"] == "label_space_text":
        texts, labels, lines = _read_label_space_text(Path(str(path)).expanduser(), where, read["encoding"])
        read["text_column"] = "text" if read["text_column"] == "auto" else read["text_column"]
        frame = _frame(texts, labels, where, lines=lines)
    else:
        table = read_table(path, delimiter=read["delimiter"], header=read["header"], columns=read["columns"],
                           na_values=[], encoding=read["encoding"], key=key, quoting=read["quoting"])
        read["delimiter"] = table.attrs["delimiter"]
        _require_column(table, "label_column", read["label_column"], where)
        if read["text_column"] == "auto":
            read["text_column"] = _auto_text_column(table.columns, read["label_column"], where)
        columns = config_list(read["text_column"])
        for name in columns:
            _require_column(table, "text_column", name, where)
        parts = [table[c].fillna("").astype(str).str.strip() for c in columns]
        texts = parts[0] if len(parts) == 1 else parts[0].str.cat(parts[1:], sep=" ").str.strip()
        labels = table[read["label_column"]].fillna("").astype(str).str.strip()
        given = table.attrs.get("line_numbers")
        lines = np.asarray(given) if given is not None else table.attrs["first_line"] + np.arange(len(table))
        frame = _frame(texts.tolist(), labels.tolist(), where, lines=lines)
    return _relabel(frame, read["label_pattern"], where)


def read_text_folder(split_dir: Path, encoding: str = "utf-8", classes=None, label_pattern=None):
    """The texts of split_dir/<class>/**/*.txt, one example per file, labelled by its class folder."""
    wanted = config_list(classes) or None
    folders = sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if wanted:
        missing = sorted(set(wanted) - {p.name for p in folders})
        if missing:
            raise ConfigError(f"dataset.classes names {missing}, which are not folders of {split_dir}; its folders "
                              f"are: {', '.join(p.name for p in folders)}")
        folders = [p for p in folders if p.name in wanted]
    if not folders:
        raise ConfigError(f"{split_dir} has no class folders; it needs {split_dir}/<class>/*.txt")
    texts, labels, files = [], [], []
    for folder in folders:
        found = sorted(p for p in folder.rglob("*.txt") if p.is_file() and not p.name.startswith("."))
        if not found:
            raise ConfigError(f"{folder} holds no .txt files; every class folder needs at least one "
                              "(or leave it out with dataset.classes=[...])")
        for file in found:
            texts.append(_decode(file, str(file), encoding).strip())
            labels.append(folder.name)
            files.append(str(file))
    return _relabel(_frame(texts, labels, str(split_dir), files=files), label_pattern, str(split_dir))


def _require_column(table, key: str, name: str, where: str) -> None:
    if name not in table.columns:
        raise ConfigError(f"dataset.{key}={name!r} is not a column of {where}; the columns are: "
                          f"{', '.join(map(str, table.columns))}")


def _auto_text_column(columns, label_column: str, where: str) -> str:
    """`dataset.text_column=auto`: the column named "text", else the one column besides the label."""
    names = [str(c) for c in columns]
    others = [c for c in names if c != label_column]
    if "text" in others:
        return "text"
    if len(others) == 1:
        return others[0]
    raise ConfigError(f"dataset.text_column=auto finds no single text column in {where}; the columns are: "
                      f"{', '.join(names)}; set dataset.text_column=NAME (or a list) and dataset.label_column=NAME")


def describe_row(frame, i: int) -> str:
    """Where row `i` of a frame read here came from: "line 7 of dataset.path=..." or the file."""
    if frame.attrs.get("files") is not None:
        return f"file {frame.attrs['files'][i]}"
    return f"line {int(frame.attrs['lines'][i])} of {frame.attrs['where']}"


def _read_label_space_text(file: Path, where: str, encoding: str):
    """TREC lines `LABEL text`: (texts, labels, file line numbers); blank lines are skipped."""
    texts, labels, lines = [], [], []
    for number, line in enumerate(_decode(file, where, encoding).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        label, _, text = line.strip().partition(" ")
        texts.append(text.strip())
        labels.append(label)
        lines.append(number)
    if not labels:
        raise ConfigError(f"{where} is empty; dataset.line_format=label_space_text needs lines `LABEL text`")
    return texts, labels, lines


def _frame(texts: list, labels: list, where: str, lines=None, files=None):
    """The DataFrame of texts and labels, after checking none is empty."""
    import pandas as pd

    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object), "label": pd.Series(labels, dtype=object)})
    frame.attrs.update({"where": where, "lines": lines, "files": files})
    for column, fix in (("text", "remove it or fill in the text"), ("label", "give it a label")):
        empty = (frame[column].str.len() == 0).to_numpy()
        if empty.any():
            first = int(empty.argmax())
            raise ConfigError(f"{describe_row(frame, first)} has an empty {column} ({int(empty.sum())} such "
                              f"row(s)); {fix}")
    return frame


def _relabel(frame, label_pattern, where: str):
    """Labels rewritten to the first group of `label_pattern` (null: kept)."""
    if label_pattern is None:
        return frame
    pattern = _compile_pattern(label_pattern)
    labels = frame["label"].str.extract(pattern, expand=False)
    missing = (labels.isna() | (labels.str.len() == 0)).to_numpy()
    if missing.any():
        first = int(missing.argmax())
        raise ConfigError(f"dataset.label_pattern={pattern.pattern!r} does not match the label "
                          f"{frame['label'].iloc[first]!r} at {describe_row(frame, first)} (or matches it empty)")
    frame["label"] = labels.astype(object)
    return frame


def _compile_pattern(label_pattern):
    try:
        pattern = re.compile(str(label_pattern))
    except re.error as exc:
        raise ConfigError(f"dataset.label_pattern={label_pattern!r} is not a valid regular expression ({exc})") from None
    if pattern.groups != 1:
        raise ConfigError(f"dataset.label_pattern={label_pattern!r} must have exactly one group, the part kept as "
                          "the label, e.g. '^([^:]+)'")
    return pattern
