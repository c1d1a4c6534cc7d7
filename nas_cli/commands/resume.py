"""`nas resume RUN_DIR [key=value ...]`: continue a killed or interrupted run in the same directory."""

from __future__ import annotations

import sys
from pathlib import Path

from nas_cli.errors import ConfigError, NasError
from nas_cli.rundir import load_run

USAGE = ("usage: nas resume RUN_DIR [key=value ...] [--trust-config]   (e.g. nas resume runs/2026-... study.n_trials=50)")


def apply_overrides(settings: dict, overrides: list[str]) -> dict:
    """`key=value` on existing keys only (the run's config is already resolved)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(settings)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like key=value (e.g. study.n_trials=50)")
        missing = OmegaConf.select(cfg, key, default="__missing__") == "__missing__"
        if missing and not _in_current_defaults(key):
            raise ConfigError(f"override {item!r}: no config key {key!r} in this run")
        try:
            parsed = OmegaConf.to_container(OmegaConf.from_dotlist([item]))
            # A key this version of nas knows but the run's config predates is added (merge=True creates it).
            OmegaConf.update(cfg, key, OmegaConf.select(OmegaConf.create(parsed), key), merge=missing)
        except Exception as exc:
            raise ConfigError(f"override {item!r} cannot be applied: {exc}") from None
    return OmegaConf.to_container(cfg)


def _in_current_defaults(key: str) -> bool:
    """Whether `key` is in this version's default config: a run made before the key existed can still set it."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from nas_cli.commands.search import register_resolvers

    register_resolvers()
    with initialize_config_module(config_module="nas_cli.configs", version_base="1.3"):
        cfg = compose(config_name="config")
    return OmegaConf.select(cfg, key, default="__missing__") != "__missing__"


def _log_to_run_dir(run_dir: Path):
    import logging

    handler = logging.FileHandler(run_dir / "nas.log", mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    return handler


def resume_command(args: list[str]) -> int:
    """`nas resume RUN_DIR [key=value ...]`: continue the run's study in the same run directory."""
    from nas_cli.study.trust import check_trusted, split_flag

    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    args, trusted = split_flag(args)
    if not args or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        run_dir, settings = load_run(args[0])
        settings = apply_overrides(settings, args[1:])
        check_trusted(settings, str(run_dir / "config.yaml"), trusted)
        from nas_cli.study.validate import validate

        validate(settings)  # a bad override is a clear ConfigError before anything is opened
        from nas_cli.study.storage import resolve_storage, storage_of

        settings["storage"] = storage_of(run_dir, settings)
        spec = resolve_storage(settings["storage"], run_dir)
        if "://" not in spec and not Path(spec).is_file():
            print(f"note: {spec} does not exist yet: the study starts from its first trial", file=sys.stderr)
        elif _complete(run_dir, settings):
            return 0
        import logging

        from omegaconf import OmegaConf

        from nas_cli.study.runner import run_study

        handler = _log_to_run_dir(run_dir)
        try:
            return run_study(OmegaConf.create(settings), run_dir)
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
    except NasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        from nas_cli.commands.failure import unexpected_failure

        return unexpected_failure(exc, args[0])


def _complete(run_dir: Path, settings: dict) -> bool:
    """A finished run with nothing left to do: say so instead of fine-tuning and exporting again."""
    import json

    try:
        status = json.loads((run_dir / "summary.json").read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return False
    if status != "completed":
        return False
    import optuna

    from nas_cli.study.counting import counted_trials
    from nas_cli.study.storage import open_storage, resolve_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = resolve_storage(settings["storage"], run_dir)
    try:
        study = optuna.load_study(study_name=str(settings["study"]["name"]), storage=open_storage(spec))
    except KeyError:
        return False
    except (ValueError, UnicodeDecodeError) as exc:  # same wording as nas_cli.study.open_study
        raise NasError(f"storage {spec} cannot be read ({type(exc).__name__}: {exc}); "
                       "restore it from a backup or start a new study") from None
    have, want = counted_trials(study), int(settings["study"]["n_trials"])
    if have < want:
        return False
    print(f"nothing to resume: {run_dir} is complete ({have} of study.n_trials={want} trials); "
          f"to run more: nas resume {run_dir} study.n_trials={want + 10}")
    return True
