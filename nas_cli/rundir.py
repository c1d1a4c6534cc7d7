"""Files in a run directory, written atomically so a reader never sees half a file; opening a run."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from nas_cli.errors import ConfigError

SUMMARY_SCHEMA_VERSION = 1


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def atomic_save_with(path: str | Path, save_fn) -> Path:
    """Call `save_fn(tmp_path)` for writers that need a file name (torch.save, onnx), then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # keep the suffix: some writers check it
    try:
        save_fn(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_stream(path: str | Path, stream, chunk: int = 1 << 20, digest=None, check=None) -> Path:
    """Copy a readable binary stream (a download) into `path`; a partial file never stays. With `digest`
    (a hashlib object) every byte also goes through it, and `check(digest)` may raise to keep no file."""

    def copy(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            for block in iter(lambda: stream.read(chunk), b""):
                if digest is not None:
                    digest.update(block)
                handle.write(block)
        if check is not None:
            check(digest)

    return atomic_save_with(path, copy)


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def trial_dir(run_dir: str | Path, number: int) -> Path:
    return Path(run_dir) / "trials" / str(number)


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one JSON line; each line is a complete record even if the process dies after it."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=_jsonable) + "\n")
        fh.flush()


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_run(run_dir: str | Path) -> tuple[Path, dict]:
    """Open RUN_DIR's resolved config; ConfigError when it is not a run directory."""
    import yaml

    path = Path(run_dir)
    if not path.is_dir():
        raise ConfigError(f"{run_dir}: no such run directory")
    cfg_path = path / "config.yaml"
    if not cfg_path.is_file():
        raise ConfigError(f"{run_dir} is not a nas run directory (no config.yaml)")
    try:
        settings = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    except Exception as exc:
        raise ConfigError(f"{cfg_path} is not a readable run config: {exc}") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("study"), dict):
        raise ConfigError(f"{cfg_path} is not a nas run config (no study section)")
    return path, settings
