"""After the search: fine-tune the top-k, test the winner once, export and verify it, write the model
card, build compressed variants, measure robustness."""

from __future__ import annotations

import time
from pathlib import Path


def finish(settings: dict, study, objectives, ctx, run_dir: Path, summary: dict, reporter) -> None:
    """Fine-tune the top-k, test the winner once, export and verify it, write the model card."""
    from nas_cli.deploy.finetune import finetune, select_candidates
    from nas_cli.deploy.package import export_selected
    from nas_cli.trial.measure import final_cost

    ft = settings["finetune"]
    if not ft["enabled"]:
        return
    if len(objectives) > 1:  # every chosen trade-off is fine-tuned and exported on its own
        from nas_cli.deploy.finish_many import finish_pareto

        return finish_pareto(settings, study, objectives, ctx, run_dir, summary, reporter)
    t0 = time.perf_counter()
    candidates = select_candidates(study, objectives, int(ft["top_k"]))
    if str(ft.get("select") or "auto") != "auto":
        from nas_cli.deploy.selection import select_for_finetune

        candidates = select_for_finetune(study, objectives, ft["select"], int(ft["top_k"]), ctx.task.objectives())[1]
        reporter.info(f"fine-tune: top {len(candidates)} trial(s) for {ft['epochs']} epochs")
    out = finetune(candidates, ctx, int(ft["epochs"]), reporter, refit=bool(ft.get("refit", False)),
                   ensemble=bool(ft.get("ensemble", False)))
    summary["finetune"] = {"epochs": int(ft["epochs"]), "selected_trial": out["selected"], "test": out["test"],
                           "refit": out["refit"], "ensemble": out.get("ensemble"),
                           "candidates": [{k: v for k, v in r.items() if k != "history"} for r in out["results"]]}
    summary["timings"]["finetune_seconds"] = time.perf_counter() - t0
    model = out["model"]
    from nas_cli.deploy.test_outputs import save_test_outputs

    save_test_outputs(model, ctx.data, run_dir, ctx.autocast_dtype)  # for the report's confusion matrix and ROC
    cost = final_cost(model, ctx)
    summary["finetune"]["cost"] = cost
    test = out["test"]
    shown = [ctx.task.score, *[k for k in test if k not in (ctx.task.score, "loss")]]
    reporter.table("Selected model (held-out test split)", ["trial", *shown, "params"],
                   [[out["selected"], *[f"{test[k]:.4f}" for k in shown], cost["params"]]])
    if not settings["export"]["enabled"]:
        return
    t1 = time.perf_counter()
    export_dir = run_dir / "export"
    result = export_selected(settings, ctx, out, cost, export_dir, summary["dataset"], reporter)
    summary["export"] = result
    summary["timings"]["export_seconds"] = time.perf_counter() - t1
    reporter.info(f"exported: {export_dir} (ONNX max abs diff {result.get('onnx_max_abs_diff', float('nan')):.2e})")
    from nas_cli.deploy.robustness import robustness_step

    robustness_step(settings, model, ctx.data, summary, reporter)
