"""`nas` entry point: reads the subcommand, imports only what that subcommand needs."""

from __future__ import annotations

import sys

USAGE = """usage: nas <command> [args]

commands:
  search [overrides]   run a search: nas search dataset=digits strategy=tpe study.n_trials=20
                       (nas search --help lists config groups and options; --cfg job prints the config)
  export RUN_DIR       fine-tune and export again from a finished run's study
  resume RUN_DIR [k=v] continue a killed or interrupted run in the same directory (nas resume RUN_DIR study.n_trials=50)
  report RUN_DIR       write an HTML report with plots into RUN_DIR/report/
  ls [DIR]             list the runs under DIR (default: runs), newest first
  show RUN_DIR         print a run's summary in the terminal
  predict RUN_DIR IN.. run the exported model on image files, folders or globs (CSV or JSONL out)
  evaluate RUN_DIR     the exported model on new labelled data: metrics beside the run's, drift, gates
                       (nas evaluate runs/x dataset=image_folder dataset.root=/new gate.min_accuracy=0.9)
  --version            print the version

Overrides use Hydra syntax (key=value, group=option, -m for sweeps). See README.md.
"""

# command -> (module, function); each function takes the remaining argv and returns an exit code.
COMMANDS = {
    "search": ("nas_cli.commands.search", "search_command"),
    "export": ("nas_cli.commands.export", "export_command"),
    "resume": ("nas_cli.commands.resume", "resume_command"),
    "report": ("nas_cli.commands.report", "report_command"),
    "ls": ("nas_cli.commands.runs", "ls_command"),
    "show": ("nas_cli.commands.runs", "show_command"),
    "predict": ("nas_cli.commands.predict", "predict_command"),
    "evaluate": ("nas_cli.commands.evaluate", "evaluate_command"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from nas_cli import __version__

        print(f"nas {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[0]!r}; allowed: {', '.join(COMMANDS)}\n\n{USAGE}", file=sys.stderr)
        return 2
    import importlib

    module, func = COMMANDS[argv[0]]
    try:
        return int(getattr(importlib.import_module(module), func)(argv[1:]) or 0)
    except KeyboardInterrupt:  # Ctrl-C outside a search (start-up, composing): no traceback
        print("interrupted", file=sys.stderr, flush=True)
        return 130


def run() -> None:
    """Console entry point (`nas`): `main`, then exit with its code. Once the command has returned,
    everything is saved: a Ctrl-C that lands while the interpreter shuts down (joining threads, flushing)
    ends the process at once with the command's own exit code, instead of a KeyboardInterrupt traceback
    from Python's shutdown (what a second Ctrl-C 10 ms after the first could give). The interpreter's
    own finalisation is skipped (os._exit after the exit handlers): everything is written by then."""
    code = main()
    import os
    import signal

    def exit_now(signum, frame):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed pipe: nothing more can be said
                pass
        os._exit(code)

    signal.signal(signal.SIGINT, exit_now)
    # Python's own finalisation (thousands of modules, torch's and ONNX Runtime's C++ teardown) took
    # about 5 s after the last line on this 2-core machine, on every command and after a Ctrl-C: run
    # the exit handlers (logging flushes its files, temporary directories go), flush, and leave. In the
    # order Python's finalisation uses: first threading's shutdown (joins non-daemon threads and runs the
    # hooks of concurrent.futures/joblib executors; calling atexit's before it deadlocked a joblib sweep),
    # then atexit's handlers.
    import atexit
    import threading

    getattr(threading, "_shutdown", lambda: None)()
    getattr(atexit, "_run_exitfuncs", lambda: None)()
    exit_now(None, None)


if __name__ == "__main__":
    run()
