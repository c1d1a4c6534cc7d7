"""Multi-label robustness: test macro AUC clean, under Gaussian input noise, and under an FGSM attack on
the binary cross-entropy (the classification measure with the multi-label task's score)."""

from __future__ import annotations


def noise_and_fgsm_auc(task, model, x, y, *, noise_std: float, fgsm_epsilon: float, seed: int = 0,
                       batch_size: int = 512, max_samples: int | None = None) -> dict:
    """{"samples", "clean_auc", "noise_std", "noise_auc", "fgsm_epsilon", "fgsm_auc"} on (x, y)."""
    import torch

    from nas_cli.tasks.classification_robustness import perturbed_outputs
    from nas_cli.tasks.multilabel_metrics import multilabel_scores

    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    outs: dict[str, list] = {"clean": [], "noise": [], "fgsm": []}
    for _, *batch in perturbed_outputs(task, model, x, y, noise_std=noise_std, fgsm_epsilon=fgsm_epsilon,
                                       seed=seed, batch_size=batch_size):
        for key, out in zip(outs, batch, strict=True):
            outs[key].append(out.float().cpu())
    truth = y.cpu().numpy()
    auc = {k: multilabel_scores(truth, torch.cat(v).numpy())["auc"] for k, v in outs.items()}
    return {"samples": len(y), "clean_auc": auc["clean"], "noise_std": float(noise_std), "noise_auc": auc["noise"],
            "fgsm_epsilon": float(fgsm_epsilon), "fgsm_auc": auc["fgsm"]}
