"""How fragile is the chosen model, measured the way its task says (classification: accuracy under
Gaussian input noise and under an FGSM attack); a task with no such measure says so."""

from __future__ import annotations


def evaluate_robustness(model, x, y, *, noise_std: float, fgsm_epsilon: float, seed: int = 0,
                        batch_size: int = 512, max_samples: int | None = None, task=None, spec=None,
                        **extra) -> dict | None:
    """The task's robustness measure of `model` on (x, y); None when the task has none."""
    from nas_cli.tasks import get_task

    task = task or get_task(None)
    return task.robustness(model, x, y, noise_std=noise_std, fgsm_epsilon=fgsm_epsilon, seed=seed,
                           batch_size=batch_size, max_samples=max_samples, spec=spec, **extra)


def _text_inputs(data) -> dict:
    """Raw test texts and the run's tokenizer, for typo robustness (text data only)."""
    pre = data.preprocess or {}
    if pre.get("kind") != "text" or not data.raw or data.raw.get("test") is None:
        return {}
    from nas_cli.data.text_tokenizer import encode, tokenizer_from_json

    tokenizer = tokenizer_from_json(pre["tokenizer"])
    return {"texts": list(data.raw["test"]["text"]),
            "encode": lambda texts: encode(tokenizer, texts, int(pre["max_length"]))}


def robustness_rows(rob: dict, metric: str) -> list[tuple[str, float]]:
    """(condition, score) for every perturbation the result has (tables: noise and category flips;
    images: noise and FGSM)."""
    rows = [("clean", rob[f"clean_{metric}"])]
    if rob.get(f"noise_{metric}") is not None:
        rows.append((f"Gaussian noise, std {rob['noise_std']:g}", rob[f"noise_{metric}"]))
    if rob.get(f"delete_{metric}") is not None:
        rows.append((f"token deletion, rate {rob['delete_rate']:g}", rob[f"delete_{metric}"]))
    if rob.get(f"typo_{metric}") is not None:
        rows.append((f"character typos, rate {rob['typo_rate']:g}", rob[f"typo_{metric}"]))
    if rob.get(f"flip_{metric}") is not None:
        rows.append((f"category flips, p {rob['flip_prob']:g}", rob[f"flip_{metric}"]))
    if rob.get(f"fgsm_{metric}") is not None:
        rows.append((f"FGSM attack, epsilon {rob['fgsm_epsilon']:g}", rob[f"fgsm_{metric}"]))
    return rows


def robustness_step(settings: dict, model, data, summary: dict, reporter=None) -> None:
    """Run the task's robustness measure on the test split when `robustness.enabled`; result into summary."""
    import time

    from nas_cli.tasks import task_for

    cfg = settings.get("robustness") or {}
    if not cfg.get("enabled", False):
        return
    task = task_for(data.spec)
    t0 = time.perf_counter()
    result = evaluate_robustness(model, data.test_x, data.test_y, noise_std=float(cfg["noise_std"]),
                                 fgsm_epsilon=float(cfg["fgsm_epsilon"]), seed=int(settings.get("seed", 0)),
                                 max_samples=cfg.get("max_samples"), task=task, spec=data.spec,
                                 **_text_inputs(data))
    if result is None:
        summary["robustness"] = {"applies": False, "reason": f"no robustness measure for task {task.name!r}"}
        return
    result["seconds"] = time.perf_counter() - t0
    summary["robustness"] = result
    if reporter is not None:
        rows = ", ".join(f"{label} {value:.4f}" for label, value in robustness_rows(result, task.score))
        reporter.info(f"robustness on {result['samples']} test inputs ({task.score}): {rows}")
