"""`finetune.ensemble=true`: a weighted ensemble of the fine-tuned top-k instead of the single best.

Members and weights are chosen by greedy forward selection with replacement on the validation split
(Caruana et al. 2004, "Ensemble selection from libraries of models"; what auto-sklearn and
AutoGluon's weighted ensemble do): start from the best single model, then repeatedly add the member
(possibly one already in) that most improves the ensemble's validation score, ties broken by the
validation loss; the best round is kept. When no ensemble beats the best single model on
validation, the single model is kept. With `finetune.refit`, every member is refit on train +
validation; the test split is still touched exactly once, by the ensemble.
"""

from __future__ import annotations

ROUNDS = 25


def _key(task, val: dict) -> tuple:
    """Larger is better: the task's score in its direction, then the lower loss."""
    score = float(val[task.score])
    sign = 1.0 if task.metrics[task.score] == "maximize" else -1.0
    return (sign * score, -float(val.get("loss", 0.0)))


def greedy_counts(outputs: list, y, task, rounds: int = ROUNDS) -> tuple[list[int], dict]:
    """How many times each member is picked (its weight once normalised) and the ensemble's validation metrics."""
    from nas_cli.spaces.ensemble_net import combine

    how = task.ensemble_combine

    def metrics(counts):
        total = float(sum(counts))
        return task.evaluate(combine(outputs, [c / total for c in counts], how), y)

    singles = [metrics([int(i == j) for i in range(len(outputs))]) for j in range(len(outputs))]
    first = max(range(len(outputs)), key=lambda j: (_key(task, singles[j]), -j))
    counts = [int(i == first) for i in range(len(outputs))]
    best_counts, best_val = list(counts), singles[first]
    for _ in range(rounds - 1):
        tried = []
        for j in range(len(outputs)):
            c = list(counts)
            c[j] += 1
            val_c = metrics(c)
            tried.append((_key(task, val_c), -j, c, val_c))
        key, _, counts, val_c = max(tried, key=lambda t: (t[0], t[1]))
        if key > _key(task, best_val):
            best_counts, best_val = list(counts), val_c
    return best_counts, best_val


def ensemble_outcome(ctx, rows: list[dict], models: list, members: list[tuple], epochs: int, refit=None,
                     reporter=None) -> dict | None:
    """The fine-tune outcome with an ensemble as its model, or None when the best single model is not
    beaten on validation. `members[i]` is (trial number, arch, hparams) of `models[i]`; `refit`, when
    given, is `finetune.refit_model` (each member retrained on train + validation)."""
    from nas_cli.spaces.ensemble import ensemble_arch
    from nas_cli.spaces.ensemble_net import EnsembleNet
    from nas_cli.trial.fit import evaluate, predict

    task, data = ctx.task, ctx.data
    outputs = [predict(m, data.val_x, autocast_dtype=ctx.autocast_dtype).float() for m in models]
    counts, val = greedy_counts(outputs, data.val_y, task)
    picked = [i for i, c in enumerate(counts) if c]
    if len(picked) < 2:
        if reporter is not None:
            reporter.info("fine-tune: no ensemble of the top-k beat the best single model on validation; keeping it")
        return None
    total = float(sum(counts))
    chosen, refits = [], []
    for i in picked:
        model = models[i]
        if refit is not None:
            number, arch, hp = members[i]
            model, info = refit(ctx, number, arch, hp, epochs)
            refits.append({"trial": number, **info})
        chosen.append(model)
    weights = [counts[i] / total for i in picked]
    net = EnsembleNet(chosen, weights, task.ensemble_combine).to(data.val_x.device)
    test = evaluate(net, data.test_x, data.test_y, full=True, autocast_dtype=ctx.autocast_dtype, task=task)
    lead = picked[max(range(len(picked)), key=lambda k: weights[k])]
    info = {"method": "greedy selection with replacement on validation (Caruana et al. 2004)", "rounds": ROUNDS,
            "members": [{"trial": members[i][0], "weight": round(counts[i] / total, 4), "val": rows[i]["val"]}
                        for i in picked],
            "val": {k: float(v) for k, v in val.items()}, "combine": task.ensemble_combine}
    if reporter is not None:
        reporter.info(f"fine-tune: ensemble of trials {[members[i][0] for i in picked]} (weights "
                      f"{[round(w, 2) for w in weights]}): val_{task.score} {val[task.score]:.4f}")
    refit_info = None
    if refits:
        refit_info = {"examples": refits[0]["examples"], "epochs": epochs, "members": refits,
                      "seconds": sum(r["seconds"] for r in refits)}
    return {"results": rows, "selected": members[lead][0], "test": test, "model": net,
            "arch": ensemble_arch([members[i][1] for i in picked], weights, task.ensemble_combine),
            "hparams": members[lead][2], "refit": refit_info, "ensemble": info}
