"""Fine-tune and export every model `finetune.select` picks from a multi-objective study.

Each pick is a different trade-off the user may deploy, so each is fine-tuned, tested once on the
held-out split, and exported on its own into export/trial_<n>/ with its model card and variants.
"""

from __future__ import annotations

import time
from pathlib import Path


def finish_pareto(settings: dict, study, objectives, ctx, run_dir: Path, summary: dict, reporter) -> None:
    from nas_cli.deploy.finetune import finetune
    from nas_cli.deploy.selection import select_for_finetune
    from nas_cli.trial.measure import final_cost

    ft, ex = settings["finetune"], settings["export"]
    t0 = time.perf_counter()
    rule, chosen = select_for_finetune(study, objectives, ft.get("select"), int(ft["top_k"]), ctx.task.objectives())
    reporter.info(f"fine-tune: {len(chosen)} trial(s) chosen by finetune.select={rule} "
                  f"({[t.number for t in chosen]}), {ft['epochs']} epochs each")
    models, exports = [], []
    for cand in chosen:
        out = finetune([cand], ctx, int(ft["epochs"]), reporter)
        model, test = out["model"], out["test"]
        cost = final_cost(model, ctx)
        row = {"trial": cand.number, "search_values": dict(zip([n for n, _ in objectives], cand.values, strict=True)),
               "val": out["results"][0]["val"], "test": test, "cost": cost}
        if not models:  # the first pick is the one summary.json's `selected_trial` names
            from nas_cli.deploy.test_outputs import save_test_outputs

            save_test_outputs(model, ctx.data, run_dir, ctx.autocast_dtype)  # the report's confusion matrix, ROC
        models.append(row)
        if not ex["enabled"]:
            continue
        export_dir = run_dir / "export" / f"trial_{cand.number}"
        from nas_cli.deploy.package import export_selected

        result = export_selected(settings, ctx, out, cost, export_dir, summary["dataset"], reporter)
        exports.append({"trial": cand.number, **result})
    names = [n for n, _ in objectives]
    reporter.table(f"Chosen models (finetune.select={rule}; held-out test split)",
                   ["trial", *[f"search {n}" for n in names], f"test {ctx.task.score}", "latency_ms", "params"],
                   [[r["trial"], *[f"{r['search_values'][n]:.4g}" for n in names], f"{r['test'][ctx.task.score]:.4f}",
                     f"{r['cost'].get('latency_ms', float('nan')):.4g}", r["cost"]["params"]] for r in models])
    first = models[0]
    # `selected_trial`/`test`/`cost` describe the first pick, for readers of single-model summaries
    summary["finetune"] = {"epochs": int(ft["epochs"]), "select": rule, "selected_trial": first["trial"],
                           "test": first["test"], "cost": first["cost"], "models": models}
    summary["timings"]["finetune_seconds"] = time.perf_counter() - t0
    if exports:
        summary["export"] = {**exports[0], "models": exports}
        reporter.info(f"exported {len(exports)} model(s) into {run_dir / 'export'}/trial_<n>/")
