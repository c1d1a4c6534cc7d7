"""Multi-label robustness: test macro AUC clean, under Gaussian input noise, and under an FGSM attack on
the binary cross-entropy (the classification measure with the multi-label task's score)."""

from __future__ import annotations


def noise_and_fgsm_auc(task, model, x, y, *, noise_std: float, fgsm_epsilon: float, seed: int = 0,
                       batch_size: int = 512, max_samples: int | None = None) -> dict:
    """{"samples", "clean_auc", "noise_std", "noise_auc", "fgsm_epsilon", "fgsm_auc"} on (x, y)."""
    import torch

    from nas_cli.tasks.multilabel_metrics import multilabel_scores

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    outs: dict[str, list] = {"clean": [], "noise": [], "fgsm": []}
    try:
        for start in range(0, len(y), batch_size):
            xb = x[start:start + batch_size].to(device=device, dtype=torch.float32)
            yb = y[start:start + batch_size].to(device)
            with torch.no_grad():
                outs["clean"].append(model(xb).float().cpu())
                noise = torch.randn(xb.shape, generator=gen).to(device) * float(noise_std)
                outs["noise"].append(model(xb + noise).float().cpu())
            x_adv = xb.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                (grad,) = torch.autograd.grad(task.loss(model(x_adv), yb), x_adv)
            with torch.no_grad():
                outs["fgsm"].append(model(xb + float(fgsm_epsilon) * grad.sign()).float().cpu())
    finally:
        model.train(was_training)
    truth = y.cpu().numpy()
    auc = {k: multilabel_scores(truth, torch.cat(v).numpy())["auc"] for k, v in outs.items()}
    return {"samples": len(y), "clean_auc": auc["clean"], "noise_std": float(noise_std), "noise_auc": auc["noise"],
            "fgsm_epsilon": float(fgsm_epsilon), "fgsm_auc": auc["fgsm"]}
