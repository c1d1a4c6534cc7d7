"""Classification robustness: test accuracy under Gaussian input noise and under an FGSM attack."""

from __future__ import annotations


def perturbed_outputs(task, model, x, y, *, noise_std: float, fgsm_epsilon: float, seed: int = 0,
                      batch_size: int = 512, max_samples: int | None = None):
    """Yield (labels, clean outputs, noisy outputs, FGSM outputs) per batch of (x, y), model in eval mode.

    Both perturbations are in the model's input units (the tensors the model was trained on): noise is
    N(0, noise_std^2) added to every input, seeded; FGSM (Goodfellow et al., 2015) moves each input by
    `fgsm_epsilon` along the sign of the gradient of the task's loss with respect to the input (the
    worst case of a one-step, L-inf attack). The model's train/eval mode is restored at the end.
    """
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    try:
        for start in range(0, len(y), batch_size):
            xb = x[start:start + batch_size].to(device=device, dtype=torch.float32)
            yb = y[start:start + batch_size].to(device)
            with torch.no_grad():
                clean = model(xb)
                noise = torch.randn(xb.shape, generator=gen).to(device) * float(noise_std)
                noisy = model(xb + noise)
            x_adv = xb.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                (grad,) = torch.autograd.grad(task.loss(model(x_adv), yb), x_adv)
            with torch.no_grad():
                attacked = model(xb + float(fgsm_epsilon) * grad.sign())
            yield yb, clean, noisy, attacked
    finally:
        model.train(was_training)


def noise_and_fgsm_accuracy(task, model, x, y, *, noise_std: float, fgsm_epsilon: float, seed: int = 0,
                            batch_size: int = 512, max_samples: int | None = None) -> dict:
    """Accuracy of `model` on (x, y) clean, with Gaussian noise added to every input, and under FGSM.

    Returns:
        {"samples", "clean_accuracy", "noise_std", "noise_accuracy", "fgsm_epsilon", "fgsm_accuracy"}
    """
    correct = {"clean": 0, "noise": 0, "fgsm": 0}
    for yb, *outs in perturbed_outputs(task, model, x, y, noise_std=noise_std, fgsm_epsilon=fgsm_epsilon,
                                       seed=seed, batch_size=batch_size, max_samples=max_samples):
        for key, out in zip(correct, outs, strict=True):
            correct[key] += int((task.predict(out) == yb).sum())
    samples = len(y) if max_samples is None else min(len(y), max_samples)
    n = max(1, samples)
    return {"samples": samples, "clean_accuracy": correct["clean"] / n,
            "noise_std": float(noise_std), "noise_accuracy": correct["noise"] / n,
            "fgsm_epsilon": float(fgsm_epsilon), "fgsm_accuracy": correct["fgsm"] / n}
