"""The cost of a trial's network and of the fine-tuned model, measured on the configured runtime with
the task's example inputs; the cost options and constraint limits a study puts into `ctx.extra`."""

from __future__ import annotations

from nas_cli.trial.cost import count_flops, count_params, measure_cost, peak_memory_mb
from nas_cli.trial.latency import (
    export_onnx_bytes,
    measure_latency_onnx,
    measure_latency_torch,
    onnx_session,
)


def trial_example(ctx):
    """The task's example inputs for this trial's data, at any batch size."""
    task, spec = ctx.task, ctx.data.spec
    if task is None:
        return spec.input_shape
    return lambda batch_size, random=False: task.example_inputs(spec, batch_size, random=random)


def _signature(ctx):
    return ctx.task.signature(ctx.data.spec) if ctx.task is not None else None


def measure_trial_cost(trial, ctx, model) -> dict:
    """Cost of a freshly built trial model on the configured runtime; stored as user attrs.

    Measured cheapest first (params and FLOPs, then memory, then latency) and checked against the
    constraints after each stage, so an architecture over a cheap limit is rejected in milliseconds.
    Latency does not depend on the weights of these dense networks, so it is measured before training.
    """
    from nas_cli.rundir import trial_dir
    from nas_cli.trial.constraints import check_trial

    opts = ctx.extra.get("cost") or {}
    shape, signature = trial_example(ctx), _signature(ctx)
    tdir = trial_dir(ctx.run_dir, trial.number)
    cost = {"params": count_params(model), "flops": count_flops(model, shape)}
    check_trial(trial, ctx, cost, tdir)
    cost["memory_mb"] = round(peak_memory_mb(model, shape, batch_size=1), 4)
    check_trial(trial, ctx, cost, tdir)
    runtime, threads = opts.get("runtime", "torch"), int(opts.get("threads", 1))
    repeats, warmup = int(opts.get("repeats", 10)), int(opts.get("warmup", 2))
    cost.update(latency_runtime=runtime, latency_threads=threads)
    session = onnx_session(export_onnx_bytes(model, shape, signature), threads) if runtime == "onnxruntime" else None
    # Batch 1 for every trial; the larger batch only when asked (hardware.latency_batch_per_trial), since
    # timing it costs more per trial than most small networks' own epoch on CPU.
    batches = (1, int(opts.get("batch_size", 1))) if opts.get("batch_per_trial") else (1,)
    for bs in dict.fromkeys(batches):
        if session is not None:
            lat = measure_latency_onnx(None, shape, bs, repeats, warmup, threads, session=session)
        else:
            lat = measure_latency_torch(model, shape, bs, repeats, warmup)
        cost[f"latency_ms_b{bs}"] = round(lat["median_ms"], 5)
        cost[f"latency_p90_ms_b{bs}"] = round(lat["p90_ms"], 5)
        if bs == 1:
            cost["latency_ms"] = cost["latency_ms_b1"]
            check_trial(trial, ctx, cost, tdir)
    for key in ("params", "flops", "memory_mb", "latency_ms"):
        trial.set_user_attr(key, cost[key])
    trial.set_user_attr("cost", cost)
    return cost


def configure_trial_cost(ctx, settings: dict, hw) -> None:
    """Put the cost-measurement options, constraint limits and compile flag into `ctx.extra`."""
    from nas_cli.trial.constraints import active_limits

    h = settings["hardware"]
    deploy = "onnxruntime" if str(hw.device) == "cpu" else "torch"
    runtime = h.get("latency_runtime", "auto")
    final_runtime = deploy if runtime == "auto" else runtime
    if runtime == "auto":
        # Time trials on the deploy runtime when the search uses latency (an objective or a limit);
        # otherwise eager PyTorch, which costs trials nothing extra (benchmarks/overhead.py measures both).
        uses = any(str(o).split(":")[0].strip() == "latency_ms" for o in (settings.get("objectives") or []))
        uses = uses or (settings.get("constraints") or {}).get("max_latency_ms") is not None
        runtime = deploy if uses else "torch"
    ctx.extra["cost"] = {"runtime": runtime, "final_runtime": final_runtime,
                         "batch_size": int(h.get("latency_batch_size", 64)),
                         "repeats": int(h.get("latency_repeats", 20)), "warmup": int(h.get("latency_warmup", 3)),
                         "threads": int(hw.threads), "batch_per_trial": bool(h.get("latency_batch_per_trial", False))}
    limits = {k: v for k, v in (settings.get("constraints") or {}).items() if k != "max_rejected"}
    ctx.extra["limits"] = active_limits(limits)
    ctx.extra["compile"] = bool(getattr(hw, "compile", False))


def probe_epoch_time(ctx) -> None:
    """The per-batch and per-FLOP costs the epoch estimate starts from (trial/epoch_estimate.py); about
    50 ms once `objective.warm_up` has paid the first-call costs."""
    from nas_cli.trial.epoch_estimate import probe_machine

    ctx.extra["epoch_probe"] = probe_machine(ctx.device, image=len(ctx.data.spec.input_shape) == 3)


def final_cost(model, ctx) -> dict:
    """Cost of a fine-tuned model for summary.json and the model card, on the configured runtime."""
    opts = ctx.extra.get("cost") or {}
    shape, signature = trial_example(ctx), _signature(ctx)
    cost = measure_cost(model, shape, signature=signature, runtime=opts.get("final_runtime", opts.get("runtime", "torch")),
                        batch_sizes=(1, int(opts.get("batch_size", 1))), repeats=int(opts.get("repeats", 20)),
                        warmup=int(opts.get("warmup", 3)), threads=int(opts.get("threads", 1)))
    # kept for readers of earlier summaries (nas_cli.gate): eager PyTorch at batch 1
    cost["latency_ms_batch1_torch"] = round(measure_latency_torch(model, shape)["median_ms"], 4)
    return cost
