"""Robustness on text: accuracy under random token deletion (ids) and under character-level typos
(raw text, re-tokenised). FGSM is not applied: token ids have no gradient."""

from __future__ import annotations

DELETE_RATE = 0.1  # share of real tokens removed
TYPO_RATE = 0.05  # share of letters replaced, swapped with a neighbour or dropped


def delete_tokens(x, pad_id: int, rate: float, gen, keep_first: bool = True):
    """Each real token dropped with probability `rate`; the rest shift left, the tail is padding."""
    import torch

    real = x != pad_id
    drop = (torch.rand(x.shape, generator=gen) < rate) & real
    if keep_first:
        drop[:, 0] = False  # the [CLS] token a first-token pooling reads
    keep = real & ~drop
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept tokens first, in order
    out = torch.gather(x, 1, order)
    return out.masked_fill(~torch.gather(keep, 1, order), pad_id)


def typo(text: str, rate: float, rng) -> str:
    """Character-level noise: at each letter, with probability `rate`, replace, swap or drop it."""
    chars, out, i = list(text), [], 0
    while i < len(chars):
        c = chars[i]
        if c.isalpha() and rng.random() < rate:
            kind = rng.integers(3)
            if kind == 0:
                out.append(chr(ord("a") + int(rng.integers(26))))
            elif kind == 1 and i + 1 < len(chars):
                out += [chars[i + 1], c]
                i += 1
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def deletion_and_typo_scores(task, model, x, y, spec, *, seed: int = 0, batch_size: int = 512,
                             max_samples: int | None = None, texts=None, encode=None,
                             delete_rate: float = DELETE_RATE, typo_rate: float = TYPO_RATE) -> dict:
    """{"samples", "clean_<score>", "delete_rate", "delete_<score>", "typo_rate", "typo_<score>", "fgsm"}.
    Typos need the raw `texts` and the tokenizer's `encode(texts) -> ids`; without them they are None."""
    import numpy as np
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
        texts = None if texts is None else list(texts)[:max_samples]
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    x = x.detach().cpu()
    variants = {"clean": x, "delete": delete_tokens(x, int(spec.text["pad_id"]), delete_rate, gen)}
    if texts is not None and encode is not None:
        rng = np.random.default_rng(int(seed))
        variants["typo"] = torch.as_tensor(encode([typo(str(t), typo_rate, rng) for t in texts]))
    scores = {}
    try:
        with torch.no_grad():
            for name, inputs in variants.items():
                outs = [model(inputs[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(y), batch_size)]
                scores[name] = task.evaluate(torch.cat(outs), y.cpu(), full=False)[task.score]
    finally:
        model.train(was_training)
    m = task.score
    return {"samples": int(len(y)), f"clean_{m}": scores["clean"], "delete_rate": float(delete_rate),
            f"delete_{m}": scores["delete"], "typo_rate": float(typo_rate), f"typo_{m}": scores.get("typo"),
            "fgsm": "not applicable to text (token ids have no gradient)"}
