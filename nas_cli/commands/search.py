"""`nas search`: the only place that calls `@hydra.main` (overrides, -m, --cfg, --help keep working)."""

from __future__ import annotations

import secrets
import sys

_state = {"task_started": False, "worst_code": 0}


def register_resolvers() -> None:
    from omegaconf import OmegaConf

    # One short random suffix per composed config (cached), so runs started in the same second differ.
    if not OmegaConf.has_resolver("nas_uid"):
        OmegaConf.register_new_resolver("nas_uid", lambda: secrets.token_hex(3), use_cache=True)


def search_command(args: list[str]) -> int:
    """Run `@hydra.main` with `args` as the command line; map Hydra's failures to exit code 2."""
    _state.update(task_started=False, worst_code=0)  # fresh per call (tests and embedders call it repeatedly)
    from nas_cli.commands.config_files import check_user_config_dirs
    from nas_cli.errors import ConfigError

    try:
        check_user_config_dirs(args)  # Hydra would print a traceback for a YAML syntax error there
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    register_resolvers()
    import hydra

    @hydra.main(version_base="1.3", config_path="pkg://nas_cli.configs", config_name="config")
    def _task(cfg) -> None:
        from pathlib import Path

        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from nas_cli.study.runner import run_study

        _state["task_started"] = True
        hc = HydraConfig.get()
        code = run_study(cfg, Path(hc.runtime.output_dir))
        _state["worst_code"] = max(_state["worst_code"], code)
        if hc.mode != RunMode.MULTIRUN and code:
            sys.exit(code)

    import os

    saved, saved_env = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = ["nas search", *args]
    # Hydra prints a full traceback for some composition errors (e.g. `dataset=null`); asked to raise
    # instead, it hands every error to us and we print one line. A user's HYDRA_FULL_ERROR=1 is kept.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        _task()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        # Hydra exits 1 on a composition error (unknown group option, bad override) before our task runs.
        if code == 1 and not _state["task_started"]:
            return 2
        return code
    except Exception as exc:
        if saved_env == "1":
            raise
        from nas_cli.commands.config_files import hydra_error_message

        print(f"error: {hydra_error_message(exc, args)}", file=sys.stderr, flush=True)
        return 1 if _state["task_started"] else 2
    finally:
        sys.argv = saved
        if saved_env is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_env
    return _state["worst_code"]
