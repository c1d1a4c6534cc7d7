"""Config checks for the cost, constraint, selection and compression keys (called from validate.py)."""

from __future__ import annotations

from nas_cli.errors import ConfigError


def validate_cost_keys(cfg: dict, get, check_int, check_number, check_choice) -> None:
    hw = cfg.get("hardware", {})
    if "latency_runtime" in hw:
        check_choice(cfg, "hardware.latency_runtime", ["auto", "onnxruntime", "torch"])
    if "latency_batch_size" in hw:
        check_int(cfg, "hardware.latency_batch_size", 1, 65536)
    if "latency_repeats" in hw:
        check_int(cfg, "hardware.latency_repeats", 1, 100_000)
    if "latency_warmup" in hw:
        check_int(cfg, "hardware.latency_warmup", 0, 100_000)
    if "latency_batch_per_trial" in hw and not isinstance(hw["latency_batch_per_trial"], bool):
        raise ConfigError(f"hardware.latency_batch_per_trial must be true or false, got {hw['latency_batch_per_trial']!r}")
    if "compile" in hw and not isinstance(hw["compile"], bool):
        raise ConfigError(f"hardware.compile must be true or false, got {hw['compile']!r}")
    if "constraints" in cfg:
        from nas_cli.trial.constraints import active_limits

        limits = {k: v for k, v in (cfg["constraints"] or {}).items() if k != "max_rejected"}
        active_limits(limits)
        if "max_rejected" in (cfg["constraints"] or {}):
            check_int(cfg, "constraints.max_rejected", 0, 10_000_000)
    ft = cfg.get("finetune", {})
    if "select" in ft:
        from nas_cli.deploy.selection import parse_select
        from nas_cli.tasks import task_of

        parse_select(ft["select"], task_of(cfg).objectives())
    ex = cfg.get("export", {})
    if "quantize" in ex:
        check_choice(cfg, "export.quantize", ["none", "dynamic", "static"])
    if "prune" in ex:
        check_number(cfg, "export.prune", 0.0, 0.99)
    if "prune_epochs" in ex:
        check_int(cfg, "export.prune_epochs", 0, 100_000)
    if "max_accuracy_drop" in ex:
        check_number(cfg, "export.max_accuracy_drop", 0.0, 1.0)
    if "calibration_samples" in ex:
        check_int(cfg, "export.calibration_samples", 1, 10_000_000)


def _zero_cost_keys(cfg: dict, check_int, check_choice) -> None:
    from nas_cli.trial.zero_cost import proxy_choices

    zc = cfg.get("zero_cost") or {}
    if "proxy" in zc:
        check_choice(cfg, "zero_cost.proxy", list(proxy_choices()))
    if "batch_size" in zc:
        check_int(cfg, "zero_cost.batch_size", 2, 65536)  # naswot and jacob_cov compare samples: at least 2
    if "reference" in zc:
        check_int(cfg, "zero_cost.reference", 2, 100_000)


def zero_cost_objectives(cfg: dict, check_int, check_choice) -> dict[str, str]:
    """evaluator=zero_cost: its keys checked; the objectives it allows (the score and the cost
    metrics: nothing is trained, so no accuracy or loss)."""
    from nas_cli.tasks import COST_METRICS

    _zero_cost_keys(cfg, check_int, check_choice)
    if (cfg.get("prescreen") or {}).get("candidates") is not None:
        raise ConfigError("prescreen.candidates needs the training evaluator (evaluator=train): "
                          "evaluator=zero_cost already scores every trial without training")
    return {"zero_cost": "maximize", **COST_METRICS}


def validate_prescreen(cfg: dict, check_int, check_choice) -> None:
    _zero_cost_keys(cfg, check_int, check_choice)
    check_int(cfg, "prescreen.candidates", 1, 1_000_000)
    check_int(cfg, "prescreen.keep", 1, 1_000_000)
    pc = cfg["prescreen"]
    if "hparams" in pc:
        from nas_cli.study.prescreen_pick import HPARAMS

        check_choice(cfg, "prescreen.hparams", list(HPARAMS))
    weight = pc.get("cost_weight", 0.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 100:
        raise ConfigError(f"prescreen.cost_weight={weight!r} must be a number from 0 to 100 "
                          "(0: the zero-cost score alone; 1: cost weighs as much as the score)")
    if int(pc["keep"]) > int(pc["candidates"]):
        raise ConfigError(f"prescreen.keep={pc['keep']} must be <= prescreen.candidates={pc['candidates']}")
