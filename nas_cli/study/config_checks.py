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
