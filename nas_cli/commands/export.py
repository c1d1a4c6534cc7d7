"""`nas export RUN_DIR`: fine-tune the best trials of a finished run again and re-export them."""

from __future__ import annotations

import sys

from nas_cli.errors import NasError
from nas_cli.rundir import load_run


def export_command(args: list[str]) -> int:
    from nas_cli.study.trust import check_trusted, split_flag

    args, trusted = split_flag(args)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: nas export RUN_DIR [--trust-config]", file=sys.stderr)
        return 2
    try:
        run_dir, settings = load_run(args[0])
        check_trusted(settings, str(run_dir / "config.yaml"), trusted)
        from nas_cli.study.reexport import reexport

        return reexport(settings, run_dir)
    except NasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # never a traceback on the terminal
        from nas_cli.commands.failure import unexpected_failure

        return unexpected_failure(exc, args[0])
