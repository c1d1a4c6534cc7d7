"""Robustness on tables: the task's score under Gaussian noise on the standardised numeric features
and under random category flips. FGSM is not applied: category codes have no gradient, and an
L-inf step on standardised columns of different meaning is not a threat model anyone uses."""

from __future__ import annotations

FLIP_PROB = 0.1  # share of categorical cells replaced by a random valid code


def noise_and_flip_scores(task, model, x, y, spec, *, noise_std: float, seed: int = 0, batch_size: int = 512,
                          max_samples: int | None = None, flip_prob: float = FLIP_PROB) -> dict:
    """{"samples", "clean_<score>", "noise_std", "noise_<score>", "flip_prob", "flip_<score>", "fgsm": why not}."""
    import torch

    from nas_cli.tasks.inputs import table_parts

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    f, k = table_parts(spec)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    noisy, flipped = x.detach().cpu().float().clone(), x.detach().cpu().float().clone()
    if f:
        # Missing indicators (0/1) are not measurements: only the standardised values get noise.
        names = spec.table.get("numeric_names") or [""] * f
        cols = [i for i in range(f) if not str(names[i]).endswith("__missing")]
        noisy[:, cols] += torch.randn((len(x), len(cols)), generator=gen) * float(noise_std)
    if k:
        cards = torch.tensor(spec.table["cardinalities"], dtype=torch.float32)
        flip = torch.rand((len(x), k), generator=gen) < float(flip_prob)
        codes = (torch.rand((len(x), k), generator=gen) * cards).floor()
        flipped[:, f:f + k] = torch.where(flip, codes, flipped[:, f:f + k])
    out = {}
    try:
        with torch.no_grad():
            for name, inputs in (("clean", x), ("noise", noisy), ("flip", flipped)):
                outs = [model(inputs[i:i + batch_size].to(device=device, dtype=torch.float32)).float().cpu()
                        for i in range(0, len(y), batch_size)]
                out[name] = task.evaluate(torch.cat(outs), y.cpu(), full=False)[task.score]
    finally:
        model.train(was_training)
    m = task.score
    return {"samples": int(len(y)), f"clean_{m}": out["clean"], "noise_std": float(noise_std),
            f"noise_{m}": out["noise"] if f else None, "flip_prob": float(flip_prob),
            f"flip_{m}": out["flip"] if k else None,
            "fgsm": "not applicable to tables (category codes have no gradient)"}
