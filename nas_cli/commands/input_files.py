"""The files `nas predict` reads: files as given, folders searched recursively, globs expanded."""

from __future__ import annotations

import glob
from pathlib import Path

from nas_cli.errors import ConfigError


def expand_inputs(inputs: list[str], extensions, kind: str = "image") -> list[Path]:
    """Files in order of the arguments (folders and globs keep only `extensions`); no repeats."""
    found: list[Path] = []
    for arg in inputs:
        path = Path(arg)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(files_under(path, extensions))
        elif glob.has_magic(arg):
            for match in sorted(glob.glob(arg, recursive=True)):
                match = Path(match)
                if match.is_dir():
                    found.extend(files_under(match, extensions))
                elif match.is_file() and match.suffix.lower() in extensions:
                    found.append(match)
        else:
            raise ConfigError(f"{arg}: no such file or folder")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise ConfigError(f"no {kind} files matched {' '.join(inputs)} (extensions: {', '.join(sorted(extensions))})")
    return unique


def files_under(folder: Path, extensions) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in extensions and not p.name.startswith("."))
