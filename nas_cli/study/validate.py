"""Early checks of the composed config: each message names the key and what is allowed."""

from __future__ import annotations

from typing import Any

from nas_cli.errors import ConfigError
from nas_cli.tasks import task_of

DIRECTIONS = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}


def _int(cfg: dict, dotted: str, low: int | None = None, high: int | None = None, allow_none: bool = False) -> None:
    value = _get(cfg, dotted)
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{dotted} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{dotted} must be {rng}, got {value}")


def _number(cfg: dict, dotted: str, low: float | None = None, high: float | None = None,
            allow_none: bool = False) -> None:
    value = _get(cfg, dotted)
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"{dotted} must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{dotted} must be between {low} and {high}, got {value}")


def _bool(cfg: dict, dotted: str) -> None:
    value = _get(cfg, dotted)
    if not isinstance(value, bool):
        raise ConfigError(f"{dotted} must be true or false, got {value!r}")


def _choice(cfg: dict, dotted: str, allowed) -> None:
    value = _get(cfg, dotted)
    if value not in allowed:
        raise ConfigError(f"{dotted}={value!r} is not allowed; choose one of: {', '.join(map(str, allowed))}")


def _get(cfg: dict, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"missing config key {dotted}")
        node = node[part]
    return node


def parse_objectives(spec, metrics: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """`[accuracy:max, latency_ms:min]` -> [("accuracy", "maximize"), ("latency_ms", "minimize")].

    `metrics` (metric -> natural direction) is what the task allows; classification's when not given.
    """
    metrics = metrics if metrics is not None else task_of({}).objectives()
    if isinstance(spec, str):
        spec = [spec]
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ConfigError(f"objectives must name at least one metric, e.g. objectives=[accuracy:max], got {spec!r}")
    out = []
    for item in spec:
        name, _, direction = str(item).partition(":")
        name = name.strip()
        if name not in metrics:
            raise ConfigError(f"objectives: unknown metric {name!r}; allowed: {', '.join(metrics)}")
        direction = DIRECTIONS.get(direction.strip() or metrics[name][:3])
        if direction is None:
            raise ConfigError(f"objectives: direction of {name!r} must be max or min, got {item!r}")
        out.append((name, direction))
    if len({n for n, _ in out}) != len(out):
        raise ConfigError(f"objectives: a metric is named twice in {list(spec)}")
    return out


GROUPS = ("dataset", "search_space", "strategy", "pruner", "hardware", "train", "finetune", "export")


def _groups_chosen(cfg: dict) -> None:
    """Every config group must have one option (`dataset=[]` or `dataset=null` chooses none)."""
    for group in GROUPS:
        if not isinstance(cfg.get(group), dict) or not cfg[group]:
            from importlib import resources

            folder = resources.files("nas_cli.configs") / group
            names = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")) if folder.is_dir() else []
            raise ConfigError(f"{group}: no option chosen (got {cfg.get(group)!r}); choose one with "
                              f"{group}=<name>, one of: {', '.join(names) or '(see configs/)'}")


def validate(cfg: dict) -> list[tuple[str, str]]:
    """Raise ConfigError on the first bad value; return the parsed objectives."""
    _groups_chosen(cfg)
    _int(cfg, "seed", 0, 2**32 - 1)
    _int(cfg, "study.n_trials", 1, 10_000_000)
    _number(cfg, "study.timeout", 0, None, allow_none=True)
    _number(cfg, "study.max_failure_rate", 0.0, 1.0)
    if not str(_get(cfg, "study.name")).strip():
        raise ConfigError("study.name must be a non-empty string")
    _int(cfg, "train.epochs", 1, 100_000)
    _int(cfg, "train.batch_size", 1, 1_000_000, allow_none=True)
    _number(cfg, "train.lr", 1e-12, 100.0, allow_none=True)
    _number(cfg, "train.weight_decay", 0.0, 10.0, allow_none=True)
    if "label_smoothing" in cfg["train"]:
        _number(cfg, "train.label_smoothing", 0.0, 0.99)
    if cfg["train"].get("class_weights") is not None:  # before the data loads (tasks/class_weights.py)
        from nas_cli.tasks.class_weights import check_mode

        check_mode(cfg["train"]["class_weights"])
    _int(cfg, "train.max_batches", 1, None, allow_none=True)
    _number(cfg, "train.trial_timeout", 0.001, None, allow_none=True)
    if _get(cfg, "train.optimizer") is not None:
        _choice(cfg, "train.optimizer", ["adam", "sgd"])
    _int(cfg, "finetune.top_k", 1, 1000)
    _int(cfg, "finetune.epochs", 1, 100_000)
    if "ensemble" in cfg["finetune"]:  # run configs saved before this key existed are still valid
        _bool(cfg, "finetune.ensemble")
    _number(cfg, "export.tolerance", 0.0, 1.0)
    _choice(cfg, "hardware.device", ["auto", "cpu", "cuda", "mps"])
    _choice(cfg, "hardware.precision", ["fp32", "bf16", "fp16"])
    _int(cfg, "hardware.threads", 1, 4096, allow_none=True)
    if _get(cfg, "hardware.n_jobs") != "auto":
        _int(cfg, "hardware.n_jobs", 1, 1024)
    _int(cfg, "verbosity", -1, 2)
    if "progress_every" in cfg:  # run configs saved before this key existed are still valid
        _number(cfg, "progress_every", 1, None)
    from nas_cli.study.config_checks import validate_cost_keys

    validate_cost_keys(cfg, _get, _int, _number, _choice)
    if "robustness" in cfg:  # run configs saved before these keys existed are still valid
        _bool(cfg, "robustness.enabled")
        _number(cfg, "robustness.noise_std", 0.0, 1e6)
        _number(cfg, "robustness.fgsm_epsilon", 0.0, 1e6)
        _int(cfg, "robustness.max_samples", 1, None, allow_none=True)
    if "gate" in cfg:
        _number(cfg, "gate.min_accuracy", 0.0, 1.0, allow_none=True)
        _number(cfg, "gate.max_rmse", 0.0, None, allow_none=True)
        _number(cfg, "gate.min_ndcg_at_10", 0.0, 1.0, allow_none=True)
        _number(cfg, "gate.max_latency_ms", 0.0, None, allow_none=True)
        _int(cfg, "gate.max_params", 1, None, allow_none=True)
        _gate_fits_task(cfg)
    task = task_of(cfg)
    if (cfg.get("evaluator") or {}).get("name") == "zero_cost":
        from nas_cli.study.config_checks import zero_cost_objectives

        return parse_objectives(_get(cfg, "objectives") or ["zero_cost:max"], zero_cost_objectives(cfg, _int, _choice))
    if (cfg.get("prescreen") or {}).get("candidates") is not None:
        from nas_cli.study.config_checks import validate_prescreen

        validate_prescreen(cfg, _int, _choice)
    return parse_objectives(_get(cfg, "objectives") or [task.default_objective], task.objectives())


def _gate_fits_task(cfg: dict) -> None:
    """A score gate of another task (gate.min_accuracy on a regression) is an error, not ignored."""
    from nas_cli.deploy.gate import gates_for

    allowed = gates_for(task_of(cfg))
    for key, value in (cfg.get("gate") or {}).items():
        if value is not None and key not in allowed:
            raise ConfigError(f"gate.{key} does not apply to a {task_of(cfg).name} run; allowed: "
                              + ", ".join(f"gate.{k}" for k in allowed))
