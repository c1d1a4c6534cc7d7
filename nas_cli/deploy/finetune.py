"""Retrain the best architectures longer, pick one by validation, test it once."""

from __future__ import annotations

import time

from nas_cli.trial.fit import Hparams


def select_candidates(study, objectives: list[tuple[str, str]], top_k: int) -> list:
    """Top-k complete trials by the first objective (the Pareto set, best first, when several)."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if len(objectives) > 1:
        done = list(study.best_trials)
    reverse = objectives[0][1] == "maximize"
    done.sort(key=lambda t: (t.values[0], -t.number), reverse=reverse)
    return done[: max(1, int(top_k))]


def finetune(candidates: list, ctx, epochs: int, reporter=None, refit: bool = False, ensemble: bool = False) -> dict:
    """Train each candidate from scratch for `epochs` (cosine schedule); return the winner and all results.

    With `refit`, the winner (chosen by validation) is trained once more on train + validation, as
    AutoML tools do before the final test; the test split is still touched exactly once. With
    `ensemble` (and a task that offers one), a weighted ensemble of the candidates chosen on
    validation is the winner when it beats the best single one (deploy/ensemble_fit.py).
    """
    import torch

    from nas_cli.trial.fit import evaluate, fit
    from nas_cli.trial.objective import build_model

    results, best, score = [], None, ctx.task.score
    ensemble = ensemble and len(candidates) > 1 and ctx.task.ensemble_combine is not None
    models, members = [], []
    for cand in candidates:
        arch, hp = cand.user_attrs["arch"], Hparams(**cand.user_attrs["hparams"])
        torch.manual_seed(ctx.seed * 100_003 + cand.number)
        model = build_model(ctx.space, arch, ctx.data.spec, ctx.device, ctx.channels_last)
        start = time.perf_counter()
        history = fit(model, ctx.data, hp, epochs, seed=ctx.seed + cand.number, schedule="cosine",
                      max_batches=ctx.train.get("max_batches"), autocast_dtype=ctx.autocast_dtype,
                      label_smoothing=float(ctx.train.get("label_smoothing", 0.0)), task=ctx.task)
        val = evaluate(model, ctx.data.val_x, ctx.data.val_y, full=True, autocast_dtype=ctx.autocast_dtype,
                       task=ctx.task)
        row = {"trial": cand.number, "search_value": cand.values[0], "val": val, "epochs": epochs,
               "seconds": time.perf_counter() - start, "history": history}
        results.append(row)
        if reporter is not None:
            reporter.info(f"fine-tune trial {cand.number}: val_{score} {val[score]:.4f} ({row['seconds']:.1f}s)")
        if best is None or ctx.task.better(val[score], best[0]["val"][score]):
            best = (row, model, arch, hp)
        if ensemble:
            models.append(model)
            members.append((cand.number, arch, hp))
    if ensemble:
        from nas_cli.deploy.ensemble_fit import ensemble_outcome

        out = ensemble_outcome(ctx, results, models, members, epochs, refit_model if refit else None, reporter)
        if out is not None:
            return out
    row, model, arch, hp = best
    refit_info = None
    if refit:
        model, refit_info = refit_model(ctx, row["trial"], arch, hp, epochs)
        if reporter is not None:
            reporter.info(f"refit trial {row['trial']} on train + validation ({refit_info['seconds']:.1f}s)")
    # The test split is touched exactly once, by the selected model.
    test = evaluate(model, ctx.data.test_x, ctx.data.test_y, full=True, autocast_dtype=ctx.autocast_dtype,
                    task=ctx.task)
    return {"results": results, "selected": row["trial"], "test": test, "model": model, "arch": arch, "hparams": hp,
            "refit": refit_info}


def refit_model(ctx, number: int, arch: dict, hp: Hparams, epochs: int):
    """Train `arch` from scratch on train + validation with the fine-tune recipe."""
    import dataclasses

    import torch

    from nas_cli.trial.fit import fit
    from nas_cli.trial.objective import build_model

    data = ctx.data
    val_x, val_y = data.val_x, data.val_y
    if hasattr(ctx.task, "training_rows"):  # ranking: validation rows are candidates; only positives train
        val_x, val_y = ctx.task.training_rows(val_x, val_y)
    merged = dataclasses.replace(data, train_x=torch.cat([data.train_x, val_x]),
                                 train_y=torch.cat([data.train_y, val_y]))
    torch.manual_seed(ctx.seed * 100_003 + number)
    model = build_model(ctx.space, arch, data.spec, ctx.device, ctx.channels_last)
    start = time.perf_counter()
    fit(model, merged, hp, epochs, seed=ctx.seed + number, schedule="cosine", max_batches=ctx.train.get("max_batches"),
        autocast_dtype=ctx.autocast_dtype, label_smoothing=float(ctx.train.get("label_smoothing", 0.0)), task=ctx.task)
    return model, {"examples": int(merged.train_x.shape[0]), "epochs": epochs, "seconds": time.perf_counter() - start}
