"""`prescreen.candidates=N prescreen.keep=K`: before the first trial, sample N architectures (with their
hyperparameters, from a seeded random sampler over the same space), score each untrained with the
zero-cost proxies (`zero_cost.proxy`, trial/zero_cost.py), and enqueue the best K as the study's
first trials: they train like any other, so the sampler learns from them, and each keeps its proxy
values as the trial attribute `prescreen`. "Best" is cost-aware (`prescreen.cost_weight`: the score's
rank minus the FLOPs' rank) and the kept trials train with fixed safe hyperparameters
(`prescreen.hparams=default`): study/prescreen_pick.py says why. Candidates over a `constraints.*` limit are left out
before they are scored. The table (every candidate's proxies, score, rank, seconds) goes into
`summary.json["prescreen"]` and the report. A study that already holds trials (a resume) is not
pre-screened again.
"""

from __future__ import annotations

import time

TABLE_ROWS = 20  # candidates listed in summary.json: the best ones (the kept ones are always listed)


def sample_candidates(ctx, n: int, seed: int) -> list[dict]:
    """N distinct parameter sets {params, arch, hparams} from a seeded random sampler (no storage)."""
    import optuna

    from nas_cli.study.enqueue import sample_trial_params

    sample = sample_trial_params(ctx)
    tmp = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out, seen = [], set()
    for _ in range(n * 3):  # small spaces repeat themselves: stop after 3N draws
        trial = tmp.ask()
        arch, hp = sample(trial)
        tmp.tell(trial, 0.0)
        key = repr(sorted(trial.params.items()))
        if key not in seen:
            seen.add(key)
            out.append({"params": dict(trial.params), "arch": arch, "hparams": hp.to_dict()})
        if len(out) == n:
            break
    return out


def score_candidates(ctx, candidates: list[dict]) -> list[dict]:
    """Build each candidate, check the cheap limits, score its proxies; returns the scored rows."""
    import torch

    from nas_cli import signals
    from nas_cli.trial.constraints import reason
    from nas_cli.trial.cost import count_flops, count_params
    from nas_cli.trial.measure import trial_example
    from nas_cli.trial.objective import build_model
    from nas_cli.trial.zero_cost import as_json, proxy_names, score

    names = proxy_names(str(ctx.extra["zero_cost"].get("proxy", "ensemble")))
    limits = {k: v for k, v in (ctx.extra.get("limits") or {}).items() if k in ("max_params", "max_flops")}
    rows = []
    for i, cand in enumerate(candidates):
        if signals.stop_requested():
            break
        counted, seconds = {}, {}
        if limits:  # checked on the meta device: a candidate over a limit costs no weights and no real pass
            t0 = time.perf_counter()
            with torch.device("meta"):
                shape = ctx.space.build(cand["arch"], ctx.data.spec)
            counted = {"params": float(count_params(shape)), "flops": float(count_flops(shape, trial_example(ctx)))}
            seconds = dict.fromkeys(counted, time.perf_counter() - t0)  # the pass that yields both
            why = reason(counted, limits)
            if why:
                rows.append({**cand, "index": i, "rejected": why})
                continue
        torch.manual_seed(ctx.seed * 100_003 + i)
        model = build_model(ctx.space, cand["arch"], ctx.data.spec, ctx.device, ctx.channels_last)
        result = score(model, ctx, [n for n in names if n not in counted])  # params, FLOPs: not counted twice
        values, seconds = {**result.values, **counted}, {**result.seconds, **seconds}
        rows.append({**cand, "index": i, "proxies": as_json({n: values[n] for n in names}),
                     "seconds": round(result.total_seconds + (seconds["flops"] if counted else 0.0), 5),
                     "proxy_seconds": {n: round(seconds[n], 5) for n in names}})
    return rows


def ranked(rows: list[dict], proxy: str, cost_weight: float = 0.0) -> list[dict]:
    """Scored rows, best first, with their `score` (ensemble: mean rank over the candidates) and their
    `pick` (the score with the cost penalty of `prescreen.cost_weight`, study/prescreen_pick.py)."""
    from nas_cli.study.prescreen_pick import cost_aware
    from nas_cli.trial.proxy_ensemble import DEFAULT, ensemble_scores
    from nas_cli.trial.zero_cost import value_of

    scored = [r for r in rows if "proxies" in r]
    if not scored:
        return []
    if proxy == "ensemble":
        scores = ensemble_scores([r["proxies"] for r in scored], DEFAULT)
    else:
        scores = []
        for r in scored:
            try:
                scores.append(value_of(proxy, r["proxies"], []))
            except Exception:  # the proxy does not apply to this network: last
                scores.append(float("-inf"))
    picks = cost_aware(scored, scores, cost_weight)
    for r, s, p in zip(scored, scores, picks, strict=True):
        r["score"], r["pick"] = float(s), float(p)
    return sorted(scored, key=lambda r: (-r["pick"], -r["score"], r["index"]))


def _median_seconds(rows: list[dict]) -> dict:
    """Per proxy: the median seconds per architecture over the scored candidates (of the pass that yields it)."""
    import statistics

    names = dict.fromkeys(k for r in rows for k in r["proxy_seconds"])
    return {k: round(statistics.median(r["proxy_seconds"][k] for r in rows if k in r["proxy_seconds"]), 5) for k in names}


def run_prescreen(settings: dict, study, ctx, remaining: int, reporter) -> dict | None:
    """Score `prescreen.candidates` architectures and enqueue the best `prescreen.keep`; the summary entry."""
    from nas_cli.study.enqueue import enqueue_param_sets
    from nas_cli.study.prescreen_pick import default_hparams

    pc = settings.get("prescreen") or {}
    if not pc.get("candidates") or not remaining:
        return None
    if study.get_trials(deepcopy=False):
        return {"skipped": "the study already holds trials (a resume): pre-screened when it started"}
    proxy = str(ctx.extra["zero_cost"].get("proxy", "ensemble"))
    start = time.perf_counter()
    rows = score_candidates(ctx, sample_candidates(ctx, int(pc["candidates"]), int(settings["seed"])))
    cost_weight = float(pc.get("cost_weight", 1.0) or 0.0)
    hparams = str(pc.get("hparams") or "default")
    best = ranked(rows, proxy, cost_weight)
    seen = []
    for rank, r in enumerate(best, 1):
        r["rank"] = rank
        if hparams == "default":  # the proxies cannot judge a learning rate: kept trials train with safe ones
            r["params"] = default_hparams(r["params"], ctx.train, ctx.task)
    keep = []
    for r in best:  # the same architecture twice (it differed only in its hyperparameters): once
        if len(keep) < min(int(pc["keep"]), remaining) and r["params"] not in seen:
            keep.append(r)
        seen.append(r["params"])
    attrs = [{"prescreen": {"rank": r["rank"], "score": r["score"], "proxies": r["proxies"],
                            "proxy_seconds": r["proxy_seconds"]}} for r in keep]
    enqueued = enqueue_param_sets(study, [r["params"] for r in keep], remaining, "prescreen", attrs=attrs)
    seconds = time.perf_counter() - start
    kept = {id(r) for r in keep}
    shown = [r for i, r in enumerate(best) if i < TABLE_ROWS or id(r) in kept]
    table = [{"rank": r["rank"], "kept": id(r) in kept, "description": ctx.space.describe(r["arch"]),
              "score": round(r["score"], 6), "pick": round(r["pick"], 6), "proxies": r["proxies"], "seconds": r["seconds"],
              "proxy_seconds": r["proxy_seconds"], "params": r["params"]} for r in shown]
    info = {"candidates": len(rows), "scored": len(best), "rejected": sum("rejected" in r for r in rows),
            "keep": len(keep), "proxy": proxy, "cost_weight": cost_weight, "hparams": hparams, "seconds": round(seconds, 3),
            "seconds_per_candidate": round(seconds / max(1, len(rows)), 5),
            "proxy_seconds_median": _median_seconds(best), "enqueued": enqueued, "table": table}
    reporter.info(f"prescreen: scored {len(best)} of {len(rows)} sampled architecture(s) untrained in {seconds:.1f}s "
                  f"(zero_cost.proxy={proxy}); the best {len(keep)} train first")
    reporter.table(f"Pre-screen (zero_cost.proxy={proxy}, best {min(len(best), 10)} of {len(best)})",
                   ["rank", "kept", "score", "pick", "architecture"],
                   [[r["rank"], "yes" if r["kept"] else "", f"{r['score']:.4g}", f"{r['pick']:.3g}", r["description"]]
                    for r in table[:10]])
    return info
