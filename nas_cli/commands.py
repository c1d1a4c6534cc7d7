"""Subcommands that work on an existing run directory (no Hydra composition)."""

from __future__ import annotations

import sys
from pathlib import Path

from nas_cli.errors import ConfigError, NasError


def load_run(run_dir: str) -> tuple[Path, dict]:
    """Open RUN_DIR's resolved config; NasError when it is not a run directory."""
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


def export_command(args: list[str]) -> int:
    """`nas export RUN_DIR`: fine-tune the best trials of a finished run again and re-export."""
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: nas export RUN_DIR", file=sys.stderr)
        return 2
    try:
        run_dir, settings = load_run(args[0])
        from nas_cli.study import reexport

        return reexport(settings, run_dir)
    except NasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # never a traceback on the terminal
        from nas_cli.resume import unexpected_failure

        return unexpected_failure(exc, args[0])
