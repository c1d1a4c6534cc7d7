"""Reading a CSV/TSV file into a pandas DataFrame of strings, with errors a user can act on.

Every cell stays a string (the transform decides what is a number), missing markers become NaN.
The file is decoded once; the frame records how it was read in `frame.attrs`: "delimiter" (the one
used, for saving beside an export) and "first_line" (the file line of row 0, for error messages).
Torch-free: `nas predict` reads files with it.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

from nas_cli.errors import ConfigError

DEFAULT_NA = ("", "?", "NA", "NaN")  # cells read as missing unless dataset.na_values says otherwise
DELIMITERS = {"comma": ",", "tab": "\t", "semicolon": ";", "pipe": "|"}
QUOTING = {"minimal": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}  # dataset.quoting -> csv constant
SNIFF_CHARS = 65536  # csv.Sniffer looks at this much of the file
READ_KEYS = ("delimiter", "header", "columns", "skipinitialspace", "na_values", "encoding")
_READ_CACHE: dict[tuple, object] = {}  # decode a file once per process (task=auto reads it before loading)
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_INNER_BLANK = re.compile(r"\n[ \t\r\f\v]*\n")


def resolve_delimiter(value, sample_text: str, key: str = "dataset.delimiter") -> str:
    """The delimiter character: `auto` (comma, tab, semicolon or pipe, sniffed), a name, or the character."""
    value = "auto" if value is None else str(value)
    if value in DELIMITERS:
        return DELIMITERS[value]
    if value == "\\t":
        return "\t"
    if value != "auto":
        if len(value) != 1 or value in "\r\n\"":
            raise ConfigError(f"{key}={value!r} is not allowed; use auto, {', '.join(DELIMITERS)} "
                              "or a single character: dataset.delimiter=semicolon")
        return value
    sample = sample_text[:SNIFF_CHARS]
    if len(sample_text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS.values())).delimiter
    except csv.Error:
        first_line = sample.split("\n", 1)[0]
        counts = Counter({d: first_line.count(d) for d in DELIMITERS.values()})
        best, n = counts.most_common(1)[0]
        return best if n else ","  # one column: any delimiter reads it


def read_table(path, *, delimiter="auto", header: bool = True, columns=None, skipinitialspace: bool = False,
               na_values=None, encoding: str = "utf-8", key: str = "dataset.path", quoting: str = "minimal"):
    """The file's rows as a DataFrame of str (missing: NaN); `key` names the file in errors.

    `quoting`: minimal (a quoted cell may hold the delimiter) or none (quotes are ordinary characters,
    for text with unbalanced quotes).

    Raises ConfigError for a missing, empty, undecodable or ragged file, a bad header or bad options.
    """
    import pandas as pd

    file = Path(str(path)).expanduser()
    where = str(path) if key == str(path) else f"{key}={path}"
    text = _decode(file, where, encoding)
    if not text.strip():
        raise ConfigError(f"{where} is empty; it needs a header line and data rows")
    sep = resolve_delimiter(delimiter, text)
    if quoting not in QUOTING:
        raise ConfigError(f"dataset.quoting={quoting!r} is not allowed; choose one of: {', '.join(QUOTING)}")
    first = _first_row(text, sep, bool(skipinitialspace), QUOTING[quoting])
    names = _column_names(first, header, columns, where)
    na = [str(v) for v in (DEFAULT_NA if na_values is None else config_list(na_values))]
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=0 if header else None, names=names, dtype=str,
                            keep_default_na=False, na_values=na, skipinitialspace=bool(skipinitialspace),
                            index_col=False, quotechar='"', quoting=QUOTING[quoting])
    except pd.errors.ParserError as exc:
        raise ConfigError(_parser_message(exc, where, sep)) from None
    except (ValueError, csv.Error) as exc:
        raise ConfigError(f"{where} cannot be read as a table ({exc}); check dataset.delimiter and "
                          "dataset.header") from None
    if len(frame) == 0:
        raise ConfigError(f"{where} has no data rows" + (" (only a header line)" if header else ""))
    frame.attrs["delimiter"] = sep
    frame.attrs["first_line"] = 2 if header else 1
    frame.attrs["line_numbers"] = _row_lines(text, bool(header))
    return frame


def _row_lines(text: str, header: bool):
    """File line of each row when blank lines sit between rows (the reader skips them), else None."""
    if not _INNER_BLANK.search(text.strip()):
        return None  # row i is on line first_line + i
    import numpy as np

    lines = np.flatnonzero([bool(line.strip()) for line in text.split("\n")]) + 1
    return lines[1:] if header else lines


def read_cached(path, key: str, read: dict):
    """`read_table` of a file, kept while the file is unchanged (callers must not modify the frame)."""
    file = Path(str(path)).expanduser()
    stat = file.stat() if file.is_file() else None
    cache_key = (str(file.resolve()), stat and stat.st_mtime_ns, stat and stat.st_size,
                 *(str(read.get(k)) for k in READ_KEYS))
    if stat is None or cache_key not in _READ_CACHE:
        frame = read_table(path, key=key, **{k: read[k] for k in READ_KEYS if k in read})
        if len(_READ_CACHE) >= 4:
            _READ_CACHE.pop(next(iter(_READ_CACHE)))
        _READ_CACHE[cache_key] = frame
    return _READ_CACHE[cache_key]


def read_options(delimiter="auto", header=True, columns=None, skipinitialspace=False, na_values=None,
                 encoding="utf-8") -> dict:
    """How to read the file, normalised (saved in preprocess.json so predict files read the same)."""
    return {"delimiter": delimiter, "header": bool(header), "columns": config_list(columns) if columns else None,
            "skipinitialspace": bool(skipinitialspace), "encoding": str(encoding),
            "na_values": config_list(DEFAULT_NA if na_values is None else na_values)}


def config_list(value) -> list[str]:
    """A config list (or one name, or null) as a list of str."""
    if value is None:
        return []
    return [str(value)] if isinstance(value, (str, int, float)) else [str(v) for v in value]


def _decode(file: Path, where: str, encoding: str) -> str:
    if not file.is_file():
        raise ConfigError(f"{where} does not exist" if not file.exists() else f"{where} is not a file")
    data = file.read_bytes()
    try:
        text = data.decode(encoding)
    except LookupError:
        raise ConfigError(f"dataset.encoding={encoding!r} is not a known encoding; e.g. utf-8, latin-1, "
                          "cp1252") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{where}: line {line} is not valid {encoding} (byte {data[exc.start]:#04x}); "
                          "set the file's encoding, e.g. dataset.encoding=latin-1") from None
    return text[1:] if text.startswith("\ufeff") else text  # a byte-order mark is not part of the header


def _first_row(text: str, sep: str, skipinitialspace: bool, quoting: int = csv.QUOTE_MINIMAL) -> list[str]:
    """The first non-blank record (quotes honoured unless QUOTE_NONE), for the header and the column count."""
    reader = csv.reader(io.StringIO(text[: 1 << 20]), delimiter=sep, skipinitialspace=skipinitialspace,
                        quoting=quoting)
    for row in reader:
        if row:
            return row
    return []


def _column_names(first: list[str], header: bool, columns, where: str) -> list[str] | None:
    if header:
        if columns is not None:
            raise ConfigError("dataset.columns names the columns of a headerless file; with a header line "
                              "leave it null, or set dataset.header=false")
        seen = Counter(first)
        dupes = sorted(name for name, n in seen.items() if n > 1)
        if dupes:
            raise ConfigError(f"{where}: the header line repeats column name(s) {dupes}; every column needs "
                              "its own name")
        return None  # pandas reads the header line itself
    if columns is None:
        return [f"c{i}" for i in range(len(first))]
    names = [str(c) for c in config_list(columns)]
    if len(names) != len(first):
        raise ConfigError(f"dataset.columns gives {len(names)} names but {where} has {len(first)} columns "
                          "in its first row")
    if len(set(names)) != len(names):
        raise ConfigError(f"dataset.columns repeats a name: {names}")
    return names


def _parser_message(exc: Exception, where: str, sep: str) -> str:
    found = _RAGGED.search(str(exc))
    if found:
        expected, line, saw = found.groups()
        return (f"{where}: line {line} has {saw} fields where the rows above have {expected} "
                f"(delimiter {sep!r}); fix that row, quote values holding the delimiter, or set dataset.delimiter")
    return f"{where} cannot be parsed ({str(exc).strip()}); check dataset.delimiter and quoting"
