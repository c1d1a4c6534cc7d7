"""`nas evaluate RUN_DIR [dataset overrides] [gate.*]`: the exported model on new labelled data.

    nas evaluate runs/<run>                                   # the run's own test split
    nas evaluate runs/<run> dataset.root=/data/june           # same family, new folder: every image
    nas evaluate runs/<run> dataset=image_folder dataset.root=/new gate.min_accuracy=0.9 gate.no_drift=true

The data is loaded through the same dataset configs as `nas search` (a `dataset=NAME` group
override composes that group; `dataset.KEY=VALUE` changes the run's own dataset config), with the
export's preprocessing forced (image size, channels, resize, mean, std). Prints the task's metrics
beside the run's, the drift verdict, and writes RUN_DIR/evaluations/<time>/evaluation.{json,md}.
Exit codes: 0 done; 2 bad arguments or data; 3 a `gate.*` failed (after the files are written).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from nas_cli.errors import ConfigError, GateFailed, NasError

USAGE = ("usage: nas evaluate RUN_DIR [dataset=NAME] [dataset.KEY=VALUE ...] [gate.KEY=VALUE ...]\n"
         "                    [--split auto|all|train|val|test] [--batch-size N] [--alpha A] [--config-dir DIR]\n"
         "  --split auto (default): the run's test split when no dataset override is given, else every example")


def parse_args(args: list[str]) -> dict:
    opts = {"run_dir": None, "dataset": [], "gate": {}, "split": "auto", "batch_size": 512, "alpha": 0.01,
            "config_dirs": []}
    flags = {"--split": "split", "--batch-size": "batch_size", "--alpha": "alpha", "--config-dir": "config_dirs"}
    it = iter(args)
    for arg in it:
        name, eq, inline = arg.partition("=")
        if name in flags:
            value = inline if eq else next(it, None)
            if value is None:
                raise ConfigError(f"{name} needs a value\n{USAGE}")
            key = flags[name]
            if key == "config_dirs":
                opts[key].append(value)
            else:
                opts[key] = _typed(name, value, type(opts[key]))
        elif arg.startswith("-"):
            raise ConfigError(f"unknown option {arg!r}\n{USAGE}")
        elif opts["run_dir"] is None:
            opts["run_dir"] = arg
        elif name == "dataset" or name.startswith("dataset."):
            opts["dataset"].append(arg)
        elif name.startswith("gate.") and eq:
            opts["gate"][name[5:]] = _yaml_value(inline)
        else:
            raise ConfigError(f"override {arg!r}: nas evaluate takes dataset=..., dataset.KEY=... and gate.KEY=... "
                              f"only\n{USAGE}")
    if opts["run_dir"] is None:
        raise ConfigError(f"RUN_DIR is missing\n{USAGE}")
    if opts["batch_size"] < 1 or not 0 < opts["alpha"] < 1:
        raise ConfigError("--batch-size must be >= 1 and --alpha in (0, 1)")
    return opts


def _typed(flag: str, value: str, kind: type):
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{flag} {value!r} must be a {kind.__name__}") from None


def _yaml_value(text: str):
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def dataset_config(settings: dict, overrides: list[str], config_dirs: list[str]) -> dict:
    """The dataset config: a composed group when `dataset=NAME` is given, else the run's with `dataset.*` set."""
    if not any(o.partition("=")[0] == "dataset" for o in overrides):
        from nas_cli.commands.resume import apply_overrides

        return apply_overrides({"dataset": settings["dataset"]}, overrides)["dataset"]
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from nas_cli.commands.config_files import check_user_config_dirs, hydra_error_message
    from nas_cli.commands.search import register_resolvers

    check_user_config_dirs([a for d in config_dirs for a in ("--config-dir", d)])
    search = [f"hydra.searchpath=[{','.join('file://' + str(Path(d).expanduser().resolve()) for d in config_dirs)}]"]
    register_resolvers()
    try:
        with initialize_config_module(config_module="nas_cli.configs", version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides + (search if config_dirs else []))
        return OmegaConf.to_container(cfg.dataset, resolve=True)
    except Exception as exc:
        raise ConfigError(hydra_error_message(exc, overrides)) from None


def evaluate_command(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\n" + USAGE)
        return 0
    try:
        return _evaluate(parse_args(args))
    except GateFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except NasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from nas_cli.commands.failure import unexpected_failure

        return unexpected_failure(exc, args[0] if args else "")


def _evaluate(opts: dict) -> int:
    import json

    from nas_cli.data import load_dataset
    from nas_cli.deploy.evaluate import (
        check_evaluation_gate,
        check_gate_keys,
        evaluate_export,
        forced_options,
        run_metrics,
    )
    from nas_cli.deploy.evaluation_record import new_evaluation_dir, write_evaluation
    from nas_cli.deploy.preprocess import find_export_dir, read_preprocess
    from nas_cli.rundir import load_run
    from nas_cli.tasks import task_of

    run_dir, settings = load_run(opts["run_dir"])
    export_dir = find_export_dir(run_dir)
    info = read_preprocess(export_dir)
    task = task_of(settings)
    check_gate_keys(opts["gate"], task)
    explicit = {o.partition("=")[0][len("dataset."):] for o in opts["dataset"] if o.startswith("dataset.")}
    ds = forced_options(dataset_config(settings, opts["dataset"], opts["config_dirs"]), info, explicit)
    split = opts["split"] if opts["split"] != "auto" else ("all" if opts["dataset"] else "test")
    started = time.time()
    options = {k: v for k, v in ds.items() if k != "name"}
    try:
        data = load_dataset(ds["name"], **options)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ConfigError(f"dataset={ds['name']}: bad option ({type(exc).__name__}: {exc})") from None
    result = evaluate_export(export_dir, data, task, split=split, batch_size=opts["batch_size"], alpha=opts["alpha"])
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    old, source = run_metrics(summary, task)
    record = {"run": str(run_dir), "export_dir": str(export_dir), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
              "seconds": round(time.time() - started, 3), "data": ds, "result": result,
              "run_metrics": old, "run_metrics_source": source}
    record["gate"] = check_evaluation_gate(opts["gate"], result, task)
    out_dir = new_evaluation_dir(run_dir)
    json_path, md_path = write_evaluation(out_dir, record)
    _print(record, md_path)
    if record["gate"] and not record["gate"]["passed"]:
        raise GateFailed(f"gate failed ({record['gate']['source']}): {record['gate']['reason']}")
    return 0


def _print(record: dict, md_path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from nas_cli.deploy.evaluation_record import comparison_rows

    result = record["result"]
    table = Table(title=f"{result['count']} examples of {record['data']['name']} (split {result['split']})")
    for col in ("metric", "this data", f"run ({record['run_metrics_source']})", "change"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for name, new, old in comparison_rows(record):
        table.add_row(name, "-" if new is None else f"{new:.4f}", "-" if old is None else f"{old:.4f}",
                      "-" if new is None or old is None else f"{new - old:+.4f}")
    console = Console(highlight=False)
    console.print(table)
    drift = result.get("drift")
    console.print(f"drift check: {drift['verdict']}" if drift else f"drift check: {result.get('drift_note')}")
    if record.get("gate"):
        console.print("gate: passed" if record["gate"]["passed"] else f"gate: FAILED: {record['gate']['reason']}")
    console.print(f"written: {md_path} (and evaluation.json)")
