"""Reading a ratings log (user, item, rating[, timestamp]) into a pandas DataFrame, with errors a user
can act on. Reads MovieLens `ratings.csv` (header `userId,movieId,rating,timestamp`), ML-100k `u.data`
(headerless, tab-separated), ML-1M `ratings.dat` (`::`-separated) and any CSV/TSV whose columns are
named or numbered in `columns`. Ids stay as read (int64 when all are integers, else str). Torch-free."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from nas_cli.data.table_read import SNIFF_CHARS, resolve_delimiter
from nas_cli.errors import ConfigError

ROLES = ("user", "item", "rating", "timestamp")
DEFAULT_NAMES = {"user": ("userId", "user_id", "user"), "item": ("movieId", "itemId", "item_id", "item"),
                 "rating": ("rating",), "timestamp": ("timestamp",)}  # header names looked for (any case)
POSITIONS = {"user": 0, "item": 1, "rating": 2, "timestamp": 3}  # headerless defaults
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
EMPTY = "{where} is empty; it needs one rating per line: user, item, rating[, timestamp]"
BAD_TEXT = "{where}: line {line} is not valid {encoding}; set the file's encoding, e.g. dataset.encoding=latin-1"


@dataclass
class RatingsLog:
    """A read log: `frame` has columns user, item, rating (float64) and, when the file has one,
    timestamp (int64 seconds); rows in file order, one per (user, item) pair."""

    frame: object  # pandas DataFrame
    duplicates_dropped: int  # repeated (user, item) rows dropped (the latest by timestamp, else in file, kept)
    path: str
    delimiter: str  # the one used (save it so a later file reads the same)
    header: bool  # whether the first line was read as a header

    @property
    def rating_range(self) -> tuple[float, float]:
        return float(self.frame["rating"].min()), float(self.frame["rating"].max())


def read_ratings(path, *, delimiter="auto", header="auto", columns=None, encoding: str = "utf-8",
                 key: str = "dataset.path") -> RatingsLog:
    """The log at `path`; `key` names the file in errors.

    delimiter: auto, comma, tab, semicolon, pipe, double_colon, or the character. header: auto (a first
    row that names a role, or whose rating field is not a number, is a header), true or false.
    columns: role (user/item/rating/timestamp) -> column name or 0-based position; rating=None reads an
    implicit log (every row a positive, rating 1.0), timestamp=None ignores one.
    Raises ConfigError for a missing, empty or undecodable file, a missing column, a bad value (naming
    its line), a log of one user or one item.
    """
    file = Path(str(path)).expanduser()
    where = str(path) if key == str(path) else f"{key}={path}"
    head = _head(file, where, encoding)
    if not head.strip():
        raise ConfigError(EMPTY.format(where=where))
    double_colon = delimiter == "double_colon" or (delimiter == "auto" and "::" in head.split("\n", 1)[0])
    sep = ":" if double_colon else resolve_delimiter(delimiter, head)
    first = next(row for row in csv.reader(io.StringIO(head), delimiter=sep) if row)
    if double_colon:  # "a::b" read with ":" gives "a", "", "b": the fields sit at even positions
        first = first[::2]
    columns = _check_roles(columns)
    has_header = _has_header(header, first, columns)
    where_col = _locate(first, has_header, columns, where)
    frame = _read(file, sep, has_header, where_col, encoding, where, stride=2 if double_colon else 1)
    frame, dropped = _drop_duplicates(frame)
    for role in ("user", "item"):
        if frame[role].nunique() < 2:
            raise ConfigError(f"{where} has ratings for only one {role} ({frame[role].iloc[0]}); "
                              f"collaborative filtering needs several (check dataset.columns.{role})")
    return RatingsLog(frame, dropped, str(path), "::" if double_colon else sep, has_header)


def _head(file: Path, where: str, encoding: str) -> str:
    if not file.is_file():
        raise ConfigError(f"{where} does not exist" if not file.exists() else f"{where} is not a file")
    with file.open("rb") as handle:
        data = handle.read(SNIFF_CHARS)
    if len(data) == SNIFF_CHARS and b"\n" in data:
        data = data[: data.rindex(b"\n")]  # whole lines only (a character may straddle the cut)
    try:
        text = data.decode(encoding)
    except LookupError:
        raise ConfigError(f"dataset.encoding={encoding!r} is not a known encoding; e.g. utf-8, latin-1") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(BAD_TEXT.format(where=where, line=line, encoding=encoding)) from None
    return text[1:] if text.startswith("\ufeff") else text


def _check_roles(columns) -> dict:
    columns = dict(columns or {})
    bad = sorted(str(k) for k in columns if k not in ROLES)
    if bad:
        raise ConfigError(f"dataset.columns.{bad[0]} is not a role; the roles are: {', '.join(ROLES)}")
    return columns


def _has_header(header, first: list[str], columns: dict) -> bool:
    if isinstance(header, str) and header.lower() in ("true", "false"):
        header = header.lower() == "true"
    if isinstance(header, bool):
        return header
    if header != "auto":
        raise ConfigError(f"dataset.header={header!r} is not allowed; use auto, true or false")
    if any(isinstance(v, str) for v in columns.values()):  # named columns: a header unless all numbers
        return any(NUMBER.fullmatch(field.strip()) is None for field in first)
    names = {n.lower() for names in DEFAULT_NAMES.values() for n in names}
    if any(field.strip().lower() in names for field in first):
        return True
    rating = columns.get("rating", POSITIONS["rating"])
    probe = rating if isinstance(rating, int) and rating < len(first) else len(first) - 1
    return NUMBER.fullmatch(first[probe].strip()) is None


def _locate(first: list[str], has_header: bool, columns: dict, where: str) -> dict:
    """role -> position of its column (rating/timestamp absent when not read)."""
    names = [f.strip() for f in first]
    lower = [n.lower() for n in names]
    listed = ", ".join(names) if has_header else f"{len(names)} unnamed columns (positions 0..{len(names) - 1})"
    found: dict[str, int] = {}
    for role in ROLES:
        given = columns.get(role, ...)
        if given is None and role in ("user", "item"):
            raise ConfigError(f"dataset.columns.{role} cannot be null: every rating needs a {role}")
        if given is None:
            continue
        if given is ...:  # the defaults: a known header name, or the usual position
            hits = [lower.index(n.lower()) for n in DEFAULT_NAMES[role] if n.lower() in lower]
            if has_header and hits:
                found[role] = hits[0]
            elif not has_header and POSITIONS[role] < len(names):
                found[role] = POSITIONS[role]
            elif role != "timestamp" and has_header:
                raise ConfigError(f"{where}: no {role} column (looked for {', '.join(DEFAULT_NAMES[role])}); "
                                  f"the file's columns are: {listed}; set dataset.columns.{role}=NAME")
            elif role != "timestamp":
                raise ConfigError(f"{where} has {len(names)} column(s) per row; a ratings log needs user, item "
                                  "and rating (dataset.columns.rating=null reads an implicit log without ratings)")
        elif isinstance(given, bool) or not isinstance(given, (int, str)):
            raise ConfigError(f"dataset.columns.{role}={given!r} must be a column name or a 0-based position")
        elif isinstance(given, int) and not 0 <= given < len(names):
            raise ConfigError(f"dataset.columns.{role}={given} is out of range: {where} has "
                              f"{len(names)} columns (positions 0..{len(names) - 1})")
        elif isinstance(given, int):
            found[role] = given
        elif not has_header:
            raise ConfigError(f"dataset.columns.{role}={given!r} names a column, but {where} has no header "
                              "line; give a 0-based position, or set dataset.header=true")
        elif given.lower() in lower:
            found[role] = names.index(given) if given in names else lower.index(given.lower())
        else:
            raise ConfigError(f"{where}: no column {given!r} for dataset.columns.{role}; "
                              f"the file's columns are: {listed}")
    if len(set(found.values())) != len(found):
        raise ConfigError(f"dataset.columns gives two roles the same column: {found}")
    return found


def _read(file: Path, sep: str, has_header: bool, where_col: dict, encoding: str, where: str, stride: int):
    import pandas as pd

    usecols = {role: pos * stride for role, pos in where_col.items()}
    ordered = sorted(usecols.values())
    try:
        raw = pd.read_csv(file, sep=sep, header=0 if has_header else None, usecols=ordered, dtype=str,
                          encoding=encoding, keep_default_na=False, na_values=[""], index_col=False)
    except pd.errors.EmptyDataError:
        raise ConfigError(EMPTY.format(where=where)) from None
    except pd.errors.ParserError as exc:
        raise ConfigError(f"{where} cannot be parsed ({str(exc).strip()}); check dataset.delimiter") from None
    except UnicodeDecodeError:
        raise ConfigError(BAD_TEXT.format(where=where, line="beyond 64 KiB", encoding=encoding)) from None
    if len(raw) == 0:
        raise ConfigError(f"{where} has no data rows" + (" (only a header line)" if has_header else ""))
    cols = {role: raw.iloc[:, ordered.index(pos)] for role, pos in usecols.items()}
    line = _line_finder(file, encoding, has_header)
    frame = pd.DataFrame({"user": _ids(cols["user"], "user", where, line),
                          "item": _ids(cols["item"], "item", where, line)})
    frame["rating"] = _numbers(cols["rating"], "rating", where, line) if "rating" in cols else 1.0
    if "timestamp" in cols:
        frame["timestamp"] = _timestamps(cols["timestamp"], where, line)
    return frame


def _line_finder(file: Path, encoding: str, header: bool):
    """row -> its file line (blank lines skipped, as pandas does); only called for an error message."""

    def line(row: int) -> int:
        target, seen = row + int(header), -1
        with file.open(encoding=encoding, errors="replace") as handle:
            for number, text in enumerate(handle, start=1):
                seen += bool(text.strip())
                if seen == target:
                    return number
        return row + 1 + int(header)

    return line


def _ids(column, role: str, where: str, line):
    """int64 when every id is written as an integer (so "007" stays a distinct str id), else str."""
    import pandas as pd

    if column.isna().any():
        raise ConfigError(f"{where}: line {line(column.isna().argmax())} has no {role} id (dataset.columns.{role})")
    text = column.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all() and (numbers % 1 == 0).all():
        ints = numbers.astype("int64")
        if (ints.astype(str) == text).all():
            return ints
    return text.astype(object)


def _numbers(column, role: str, where: str, line):
    import pandas as pd

    values = pd.to_numeric(column.str.strip(), errors="coerce")
    bad = values.isna() | ~values.abs().lt(float("inf"))
    if bad.any():
        i = int(bad.argmax())
        text = column.iloc[i]
        what = f" has no {role}" if pd.isna(text) or not str(text).strip() else f": {role} {text!r} is not a number"
        raise ConfigError(f"{where}: line {line(i)}{what} (dataset.columns.{role})")
    return values.astype("float64")


def _timestamps(column, where: str, line):
    """Unix seconds as int64; ISO dates ("2024-05-01 12:00") are converted."""
    import pandas as pd

    numeric = pd.to_numeric(column.str.strip(), errors="coerce")
    if numeric.notna().all():
        return numeric.astype("int64")
    dates = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
    bad = numeric.isna() if numeric.notna().any() else dates.isna()  # unix seconds, or dates: not both
    if bad.any():
        i = int(bad.argmax())
        raise ConfigError(f"{where}: line {line(i)}: timestamp {column.iloc[i]!r} is neither unix seconds nor "
                          "a date (dataset.columns.timestamp; null ignores the column)")
    return (dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)


def _drop_duplicates(frame):
    """Keep one row per (user, item): the latest by timestamp (ties and no timestamp: the last in file)."""
    order = frame.sort_values("timestamp", kind="stable") if "timestamp" in frame else frame
    kept = order[~order.duplicated(["user", "item"], keep="last")].sort_index()
    return kept.reset_index(drop=True), len(frame) - len(kept)
