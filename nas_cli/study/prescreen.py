"""`prescreen.candidates=N prescreen.keep=K`: before the first trial, sample N architectures (with their
hyperparameters, from a seeded random sampler over the same space), score each untrained with the
zero-cost proxies (`zero_cost.proxy`, trial/zero_cost.py), and enqueue the best K as the study's
first trials: they train like any other, so the sampler learns from them, and each keeps its proxy
values as the trial attribute `prescreen`. Candidates over a `constraints.*` limit are left out
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
        if limits:  # checked on the meta device: a candidate over a limit costs no weights and no real pass
            with torch.device("meta"):
                shape = ctx.space.build(cand["arch"], ctx.data.spec)
            why = reason({"params": count_params(shape), "flops": count_flops(shape, trial_example(ctx))}, limits)
            if why:
                rows.append({**cand, "index": i, "rejected": why})
                continue
        torch.manual_seed(ctx.seed * 100_003 + i)
        model = build_model(ctx.space, cand["arch"], ctx.data.spec, ctx.device, ctx.channels_last)
        result = score(model, ctx, names)
        rows.append({**cand, "index": i, "proxies": as_json(result.values), "seconds": round(result.total_seconds, 5),
                     "proxy_seconds": {k: round(v, 5) for k, v in result.seconds.items()}})
    return rows


def ranked(rows: list[dict], proxy: str) -> list[dict]:
    """Scored rows, best first, with their `score` (ensemble: mean rank over the candidates)."""
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
    for r, s in zip(scored, scores, strict=True):
        r["score"] = float(s)
    return sorted(scored, key=lambda r: (-r["score"], r["index"]))


def _median_seconds(rows: list[dict]) -> dict:
    """Per proxy: the median seconds per architecture over the scored candidates (of the pass that yields it)."""
    import statistics

    names = dict.fromkeys(k for r in rows for k in r["proxy_seconds"])
    return {k: round(statistics.median(r["proxy_seconds"][k] for r in rows if k in r["proxy_seconds"]), 5) for k in names}


def run_prescreen(settings: dict, study, ctx, remaining: int, reporter) -> dict | None:
    """Score `prescreen.candidates` architectures and enqueue the best `prescreen.keep`; the summary entry."""
    from nas_cli.study.enqueue import enqueue_param_sets

    pc = settings.get("prescreen") or {}
    if not pc.get("candidates") or not remaining:
        return None
    if study.get_trials(deepcopy=False):
        return {"skipped": "the study already holds trials (a resume): pre-screened when it started"}
    proxy = str(ctx.extra["zero_cost"].get("proxy", "ensemble"))
    start = time.perf_counter()
    rows = score_candidates(ctx, sample_candidates(ctx, int(pc["candidates"]), int(settings["seed"])))
    best = ranked(rows, proxy)
    keep = best[: min(int(pc["keep"]), remaining)]
    for rank, r in enumerate(best, 1):
        r["rank"] = rank
    attrs = [{"prescreen": {"rank": r["rank"], "score": r["score"], "proxies": r["proxies"],
                            "proxy_seconds": r["proxy_seconds"]}} for r in keep]
    enqueued = enqueue_param_sets(study, [r["params"] for r in keep], remaining, "prescreen", attrs=attrs)
    seconds = time.perf_counter() - start
    shown = best[:TABLE_ROWS]
    table = [{"rank": r["rank"], "kept": r["rank"] <= len(keep), "description": ctx.space.describe(r["arch"]),
              "score": round(r["score"], 6), "proxies": r["proxies"], "seconds": r["seconds"],
              "proxy_seconds": r["proxy_seconds"], "params": r["params"]} for r in shown]
    info = {"candidates": len(rows), "scored": len(best), "rejected": sum("rejected" in r for r in rows),
            "keep": len(keep), "proxy": proxy, "seconds": round(seconds, 3),
            "seconds_per_candidate": round(seconds / max(1, len(rows)), 5),
            "proxy_seconds_median": _median_seconds(best), "enqueued": enqueued, "table": table}
    reporter.info(f"prescreen: scored {len(best)} of {len(rows)} sampled architecture(s) untrained in {seconds:.1f}s "
                  f"(zero_cost.proxy={proxy}); the best {len(keep)} train first")
    reporter.table(f"Pre-screen (zero_cost.proxy={proxy}, best {min(len(best), 10)} of {len(best)})",
                   ["rank", "kept", "score", "architecture"],
                   [[r["rank"], "yes" if r["kept"] else "", f"{r['score']:.4g}", r["description"]] for r in table[:10]])
    return info
