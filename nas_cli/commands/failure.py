"""A bug or an environment failure in a subcommand: one line on stderr, the traceback in the run's log."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def unexpected_failure(exc: BaseException, run_dir: str | Path | None = None) -> int:
    """A bug or environment failure in a subcommand: one clear line on stderr, the traceback in the log."""
    import traceback

    where = ""
    if run_dir is not None and Path(run_dir).is_dir():
        try:
            with open(Path(run_dir) / "nas.log", "a", encoding="utf-8") as fh:
                fh.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}][nas][ERROR] unexpected failure\n"
                         f"{traceback.format_exc()}\n")
            where = f" (traceback in {Path(run_dir) / 'nas.log'})"
        except OSError:
            pass
    print(f"error: unexpected failure: {type(exc).__name__}: {exc}{where}", file=sys.stderr, flush=True)
    return 1
