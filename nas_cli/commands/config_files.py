"""Checks of files the user points `nas search` at, before Hydra reads them.

Hydra prints a full traceback for a YAML syntax error in a `--config-dir` file; reading those files
first turns that into one line naming the file, the line and the column.
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import ConfigError


def user_config_dirs(args: list[str]) -> list[str]:
    """The directories given with --config-dir/-cd (both `--config-dir DIR` and `--config-dir=DIR`)."""
    dirs = []
    for i, arg in enumerate(args):
        if arg in ("--config-dir", "-cd") and i + 1 < len(args):
            dirs.append(args[i + 1])
        elif arg.startswith("--config-dir="):
            dirs.append(arg.split("=", 1)[1])
    return dirs


def check_user_config_dirs(args: list[str]) -> None:
    """Raise ConfigError for a missing --config-dir or a YAML file in it that does not parse."""
    import yaml

    for d in user_config_dirs(args):
        root = Path(d).expanduser()
        if not root.is_dir():
            raise ConfigError(f"--config-dir {d}: no such directory")
        for path in sorted(root.rglob("*.yaml")) + sorted(root.rglob("*.yml")):
            try:
                yaml.safe_load(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
            except OSError as exc:
                raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


def hydra_error_message(exc: BaseException, args: list[str] = ()) -> str:
    """Hydra's own text for a composition error (and its OmegaConf cause), without the traceback."""
    text = str(exc).strip() or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause).strip() and str(cause).strip() not in text:
        text += f"\n{str(cause).strip()}"
    if type(exc).__module__.startswith(("hydra", "omegaconf")):
        return text
    # Hydra's internal errors (e.g. `dataset=null`) do not say which override; name the suspects.
    import nas_cli.configs

    groups = {p.name for p in Path(nas_cli.configs.__file__).parent.iterdir() if p.is_dir()}
    suspects = [a for a in args if "=" in a and a.split("=", 1)[0].lstrip("+~") in groups]
    if suspects:
        return (f"{text} (config-group override {', '.join(suspects)}: a group takes an option name, "
                "e.g. dataset=digits; nas search --help lists them)")
    return f"{text} (in the command-line overrides)"
