"""What every trial of a study shares, set up once: hardware, data (preloaded), space, sampler, pruner
and the Optuna study itself."""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import ConfigError, NasError


def make_sampler_and_pruner(settings: dict):
    from hydra.utils import instantiate

    try:
        sampler = instantiate(settings["strategy"]["sampler"])
    except Exception as exc:
        raise ConfigError(f"strategy={settings['strategy']['name']}: cannot build the sampler: {_root(exc)}") from None
    try:
        from nas_cli.trial.pruners import guard

        pruner = guard(instantiate(settings["pruner"]["pruner"]), settings["pruner"])  # NaN/divergence guard
    except Exception as exc:
        raise ConfigError(f"pruner={settings['pruner']['name']}: cannot build the pruner: {_root(exc)}") from None
    return sampler, pruner


def _root(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return f"{type(exc).__name__}: {exc}"


def _own_stream(settings: dict, study, summary: dict):
    """This process's sampler, its seed derived from its join index (nas_cli.study.streams)."""
    import copy

    from nas_cli.study.streams import claim_join_index, stream_seed

    sampler = (settings.get("strategy") or {}).get("sampler") or {}
    index = claim_join_index(study)
    seed = stream_seed(sampler, int(settings["study"].get("worker_index") or 0), index)
    summary["sampler_stream"] = {"join_index": index, "seed": seed}
    if seed is not None and seed != sampler.get("seed"):
        settings = copy.deepcopy(settings)
        settings["strategy"]["sampler"]["seed"] = seed
    return make_sampler_and_pruner(settings)[0]


def open_study(settings: dict, objectives, run_dir: Path, summary: dict):
    import warnings

    import optuna

    from nas_cli.study.storage import open_storage, resolve_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    spec = resolve_storage(settings.get("storage"), run_dir)
    summary["storage"] = spec
    from nas_cli.study.recovery import repair_journal

    repair_journal(spec)  # a torn last record from a killed writer would poison every later append
    study_cfg = settings.get("study") or {}
    storage = open_storage(spec, heartbeat_interval=study_cfg.get("heartbeat_interval"),
                           grace_period=study_cfg.get("grace_period"))
    sampler, pruner = make_sampler_and_pruner(settings)  # checks both before the study is touched
    if len(objectives) > 1:
        pruner = optuna.pruners.NopPruner()  # Optuna's pruners are single-objective
        summary["pruning"] = "off: multi-objective study"
    try:
        study = optuna.create_study(storage=storage, study_name=str(settings["study"]["name"]),
                                    sampler=sampler, pruner=pruner, directions=[d for _, d in objectives],
                                    load_if_exists=True)
    except (ValueError, UnicodeDecodeError) as exc:  # a journal damaged by something other than nas
        raise NasError(f"storage {spec} cannot be read ({type(exc).__name__}: {exc}); "
                       "restore it from a backup or start a new study") from None
    if list(study.directions) != [optuna.study.StudyDirection[d.upper()] for _, d in objectives]:
        raise ConfigError(f"study.name={study.study_name!r} already exists in {spec} with other directions; "
                          "use another study.name or the same objectives")
    study.set_metric_names([n for n, _ in objectives])
    study.sampler = _own_stream(settings, study, summary)  # never the stream of another process
    return study


def prepare(settings: dict, objectives, run_dir: Path, summary: dict, reporter):
    """Hardware, data (preloaded once), space and study: everything trials share."""
    from nas_cli.data import load_dataset
    from nas_cli.hardware import setup_hardware
    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for
    from nas_cli.tasks.class_weights import apply_class_weights
    from nas_cli.trial.objective import TrialContext

    hw = setup_hardware(settings["hardware"])
    summary["hardware"] = hw.describe()
    ds = dict(settings["dataset"])
    try:
        data = load_dataset(ds.pop("name"), **ds).to(hw.device)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # an option of the wrong type or value
        raise ConfigError(f"dataset={settings['dataset']['name']}: bad option ({type(exc).__name__}: {exc}); "
                          "see configs/dataset/ for the allowed values") from None
    if hw.channels_last and data.train_x.dim() == 4:
        import torch

        for name in ("train_x", "val_x", "test_x"):
            setattr(data, name, getattr(data, name).contiguous(memory_format=torch.channels_last))
    summary["data"] = {"input_shape": list(data.spec.input_shape), "num_classes": data.spec.num_classes,
                       **data.info}
    sp = dict(settings["search_space"])
    try:
        space = build_space(sp.pop("name"), spec=data.spec, **sp)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ConfigError(f"search_space={settings['search_space']['name']}: bad option "
                          f"({type(exc).__name__}: {exc}); see configs/search_space/ for the allowed values") from None
    study = open_study(settings, objectives, run_dir, summary)
    ctx = TrialContext(space=space, data=data, train=settings["train"], run_dir=run_dir, seed=int(settings["seed"]),
                       objectives=objectives, device=hw.device, channels_last=hw.channels_last,
                       autocast_dtype=hw.autocast_dtype, on_epoch=reporter.epoch, on_batch=reporter.batch,
                       task=apply_class_weights(task_for(data.spec), data, settings["train"].get("class_weights")))
    evaluator = (settings.get("evaluator") or {}).get("name", "train")
    ctx.extra.update(evaluator=evaluator, zero_cost=dict(settings.get("zero_cost") or {}))
    if evaluator == "zero_cost":  # score untrained networks (trial/zero_cost.py); fine-tune trains the top-k
        from nas_cli.trial.zero_cost import fixed_hparams, score_and_measure

        ctx.extra.update(evaluate=score_and_measure, fixed_hparams=fixed_hparams(settings["train"], ctx.task))
        summary["evaluator"] = {"name": "zero_cost", **ctx.extra["zero_cost"],
                                "hparams": ctx.extra["fixed_hparams"].to_dict()}
        _score_reference(ctx, settings, summary)
    from nas_cli.trial.measure import configure_trial_cost

    configure_trial_cost(ctx, settings, hw)  # latency runtime, batch size, threads; constraint limits
    from nas_cli.trial.objective import warm_up

    warm_up(ctx.task, onnx=ctx.extra["cost"]["runtime"] == "onnxruntime")  # one-time import costs here, in setup, not in the first trial (nor once per forked worker)
    from nas_cli.trial.measure import probe_epoch_time

    probe_epoch_time(ctx)  # what the epoch-time estimate starts from, before any trial has trained
    if settings["study"].get("worker_index") is None:  # the process the user started, not each worker
        from nas_cli.trial.largest import largest_space_hint

        hint = largest_space_hint(ctx, settings)
        if hint:
            reporter.info(hint)
    return ctx, study


def _score_reference(ctx, settings: dict, summary: dict) -> None:
    """evaluator=zero_cost with the ensemble: score `zero_cost.reference` random architectures once, the
    fixed field every trial's rank is taken in (trial/zero_cost.py)."""
    import time

    from nas_cli.study.prescreen import sample_candidates, score_candidates

    if str(ctx.extra["zero_cost"].get("proxy", "ensemble")) != "ensemble":
        return
    start = time.perf_counter()
    n = int(ctx.extra["zero_cost"].get("reference", 24))
    rows = score_candidates(ctx, sample_candidates(ctx, n, int(settings["seed"]) + 1))
    ctx.extra["zero_cost_reference"] = [r["proxies"] for r in rows if "proxies" in r]
    summary["evaluator"]["reference_seconds"] = round(time.perf_counter() - start, 3)
