"""Classification robustness: test accuracy under Gaussian input noise and under an FGSM attack."""

from __future__ import annotations


def noise_and_fgsm_accuracy(task, model, x, y, *, noise_std: float, fgsm_epsilon: float, seed: int = 0,
                        batch_size: int = 512, max_samples: int | None = None) -> dict:
    """Accuracy of `model` on (x, y) clean, with N(0, noise_std^2) added to every input, and under FGSM.

    Both perturbations are in the model's input units (the tensors the model was trained on).
    FGSM (Goodfellow et al., 2015) moves each input by `fgsm_epsilon` along the sign of the gradient
    of the cross-entropy loss with respect to the input: the worst case of a one-step, L-inf attack.

    Returns:
        {"samples", "clean_accuracy", "noise_std", "noise_accuracy", "fgsm_epsilon", "fgsm_accuracy"}
    """
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    correct = {"clean": 0, "noise": 0, "fgsm": 0}
    try:
        for start in range(0, len(y), batch_size):
            xb = x[start:start + batch_size].to(device=device, dtype=torch.float32)
            yb = y[start:start + batch_size].to(device)
            with torch.no_grad():
                correct["clean"] += int((task.predict(model(xb)) == yb).sum())
                noise = torch.randn(xb.shape, generator=gen).to(device) * float(noise_std)
                correct["noise"] += int((task.predict(model(xb + noise)) == yb).sum())
            x_adv = xb.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                loss = task.loss(model(x_adv), yb)
                (grad,) = torch.autograd.grad(loss, x_adv)
            with torch.no_grad():
                attacked = xb + float(fgsm_epsilon) * grad.sign()
                correct["fgsm"] += int((task.predict(model(attacked)) == yb).sum())
    finally:
        model.train(was_training)
    n = max(1, len(y))
    return {"samples": len(y), "clean_accuracy": correct["clean"] / n,
            "noise_std": float(noise_std), "noise_accuracy": correct["noise"] / n,
            "fgsm_epsilon": float(fgsm_epsilon), "fgsm_accuracy": correct["fgsm"] / n}
