"""Hard limits on an architecture's cost, checked right after it is built and before any training.

An architecture over a limit is rejected in milliseconds: the trial ends PRUNED with the user attr
`infeasible` (the reason), and every trial carries Optuna constraint values (`trial.set_constraint`,
feasible when <= 0; `constraints_func` is deprecated in Optuna 5.0). TPE reads them for PRUNED and
COMPLETE trials (infeasible ones go to its "bad" group); NSGA-II/III only breed from COMPLETE trials,
so a rejected architecture is never a parent; `study.best_trials` keeps feasible trials only.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError

# constraints.<key> -> (cost metric, unit shown in messages)
LIMITS = {
    "max_params": ("params", ""),
    "max_flops": ("flops", ""),
    "max_latency_ms": ("latency_ms", " ms"),
    "max_memory_mb": ("memory_mb", " MiB"),
    "max_epoch_seconds": ("epoch_seconds_est", " s"),  # estimated before training (trial/epoch_estimate.py)
}


def active_limits(constraints: dict | None) -> dict[str, float]:
    """The limits that are set (not null), validated; raises ConfigError naming the key."""
    out = {}
    for key, value in (constraints or {}).items():
        if key not in LIMITS:
            raise ConfigError(f"constraints.{key} is not a known constraint; allowed: {', '.join(LIMITS)}")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"constraints.{key} must be a positive number or null, got {value!r}")
        out[key] = float(value)
    return out


def needed_metrics(constraints: dict | None) -> set[str]:
    return {LIMITS[k][0] for k in active_limits(constraints)}


def violations(cost: dict, limits: dict[str, float]) -> dict[str, float]:
    """Relative excess per limit ((value - limit) / limit; <= 0 is within the limit)."""
    return {key: (float(cost[LIMITS[key][0]]) - limit) / limit for key, limit in limits.items()
            if LIMITS[key][0] in cost}


def reason(cost: dict, limits: dict[str, float]) -> str:
    parts = []
    for key, excess in violations(cost, limits).items():
        if excess > 0:
            metric, unit = LIMITS[key]
            parts.append(f"{metric} {cost[metric]:.6g}{unit} > constraints.{key}={limits[key]:.6g}{unit}")
    return "; ".join(parts)


def apply(trial, cost: dict, limits: dict[str, float]) -> str:
    """Tell the sampler the constraint values; return the rejection reason ('' when feasible). Called
    after each stage of the cost measurement: a value already set stays (Optuna warns on a second)."""
    already = getattr(trial, "constraints", None) or {}
    for key, excess in violations(cost, limits).items():
        if key not in already:
            trial.set_constraint(key, excess)
    why = reason(cost, limits)
    if why:
        trial.set_user_attr("infeasible", why)
    return why


def is_infeasible(frozen) -> bool:
    return "infeasible" in frozen.user_attrs


def summarize(study, limits: dict[str, float]) -> dict:
    """Counts and the closest misses, for summary.json and the 'nothing feasible' message."""
    rejected = [t for t in study.get_trials(deepcopy=False) if is_infeasible(t)]
    closest = sorted(rejected, key=lambda t: sum(max(0.0, v) for v in t.constraints.values()))[:3]
    return {"limits": limits, "rejected": len(rejected),
            "closest_rejected": [{"number": t.number, "reason": t.user_attrs["infeasible"]} for t in closest]}


def nothing_feasible_message(info: dict) -> str:
    limits = ", ".join(f"constraints.{k}={v:.6g}" for k, v in info["limits"].items())
    closest = "; ".join(f"trial {c['number']}: {c['reason']}" for c in info["closest_rejected"])
    return (f"no feasible architecture: all {info['rejected']} sampled architecture(s) broke the limits "
            f"({limits}). Closest: {closest}. Loosen a limit or shrink the search space.")


def check_trial(trial, ctx, cost: dict, tdir) -> None:
    """Set the trial's constraint values measured so far; raise TrialPruned with the reason when over a limit."""
    import optuna

    from nas_cli.rundir import atomic_write_json

    limits = ctx.extra.get("limits") or {}
    if not limits:
        return
    why = apply(trial, cost, limits)
    if why:
        atomic_write_json(tdir / "result.json", {"state": "INFEASIBLE", "reason": why, "cost": cost})
        raise optuna.TrialPruned(f"infeasible: {why}")
