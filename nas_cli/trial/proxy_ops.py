"""The zero-cost proxies themselves, one function per pass over a network copy that the caller owns
(`compute_proxies` in `proxies.py` makes the copies, seeds and times them).

Definitions follow the reference code of Abdelfattah et al. 2021 (mohsaied/zero-cost-nas,
`foresight/pruners/measures/`): every per-weight proxy is summed over the weights of the Conv and
Linear layers only (biases, norms and embeddings are not counted), gradients are of the task's mean
loss on one minibatch, with batch norm in training mode (batch statistics) except in synflow, which
bypasses it. Each function returns a float or a `NotApplicable`.
"""

from __future__ import annotations

from dataclasses import dataclass

JACOB_K = 1e-5  # the reference's eigenvalue offset in jacob_cov


@dataclass(frozen=True)
class NotApplicable:
    """A proxy that does not apply to this network or input, and why (e.g. "naswot: the network has no ReLU")."""

    reason: str

    def __str__(self) -> str:
        return f"n/a ({self.reason})"


def prunable_layers(net) -> list:
    """The Conv and Linear layers, in module order: the weights the per-weight proxies sum over."""
    from torch import nn

    return [m for m in net.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))]


def _identity(x, *_, **__):
    return x


def synflow(net, inputs) -> float | NotApplicable:
    """sum(θ ⊙ dR/dθ) with θ -> |θ|, R = sum of the outputs for one all-ones input, in float64, batch
    norm bypassed (the reference's copy without BN) and dropout off: no data, no randomness."""
    import torch
    from torch import nn

    net = net.double().eval()
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.forward = _identity
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    dtype = torch.float64 if inputs.is_floating_point() else inputs.dtype
    x = torch.ones((1, *inputs.shape[1:]), dtype=dtype, device=inputs.device)
    net.zero_grad(set_to_none=True)
    out = net(x)
    out.double().sum().backward()
    layers = [m for m in prunable_layers(net) if m.weight.grad is not None]
    if not layers:
        return NotApplicable("synflow: no Conv or Linear weight receives a gradient")
    return float(sum((m.weight.detach() * m.weight.grad).sum() for m in layers))


def gradient_proxies(net, inputs, targets, loss_fn, second_order: bool = True) -> dict:
    """grad_norm, snip, fisher and (with `second_order`) grasp from one forward pass of the task loss.

    grad_norm: Σ_layers ||g||₂, g = ∂L/∂W. snip: Σ |W ⊙ g|. fisher (reference `fisher.py`): for each
    layer output a and channel k, δ_k = ½ mean_n (Σ_spatial a ⊙ ∂L/∂a)², broadcast to that channel's
    weights (× fan-in elements) and summed. grasp (reference `grasp.py`): Σ −W ⊙ (H g), H g a
    Hessian-vector product with g held constant; the reference's two identical forward passes (same
    batch, same weights) are one here, its gradient taken with `create_graph`.
    """
    import torch

    layers = prunable_layers(net)
    weights = [m.weight for m in layers]
    if not weights:
        missing = NotApplicable("the network has no Conv or Linear layer to score")
        return {"grad_norm": missing, "snip": missing, "fisher": missing, "grasp": missing}
    fisher_terms: list = []
    handles = [m.register_forward_hook(_fisher_hook(m, fisher_terms)) for m in layers]
    try:
        loss = loss_fn(net(inputs), targets)
        grads = torch.autograd.grad(loss, weights, create_graph=second_order, allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    pairs = [(m.weight.detach(), g.detach()) for m, g in zip(layers, grads, strict=True) if g is not None]
    if not pairs:
        missing = NotApplicable("no Conv or Linear weight receives a gradient of the loss")
        return {"grad_norm": missing, "snip": missing, "fisher": missing, "grasp": missing}
    out = {
        "grad_norm": float(sum(g.norm() for _, g in pairs)),
        "snip": float(sum((w * g).abs().sum() for w, g in pairs)),
        "fisher": float(sum(fisher_terms)) if fisher_terms else NotApplicable("fisher: no layer output has a gradient"),
    }
    if second_order:
        out["grasp"] = _grasp(weights, grads)
    return out


def _fisher_hook(layer, terms: list):
    """A forward hook on `layer` whose output's gradient hook appends the layer's fisher term to `terms`."""
    from math import prod

    from torch import nn

    channel_axis = -1 if isinstance(layer, nn.Linear) else 1
    fan = prod(layer.weight.shape[1:])

    def forward_hook(_module, _inp, out):
        if not out.requires_grad:
            return
        act = out.detach()

        def grad_hook(grad):
            per_channel = (act * grad.detach()).movedim(channel_axis, -1)
            per_sample = per_channel.reshape(per_channel.shape[0], -1, per_channel.shape[-1]).sum(1)
            terms.append((0.5 * per_sample.pow(2).mean(0)).abs().sum() * fan)

        out.register_hook(grad_hook)

    return forward_hook


def _grasp(weights, grads) -> float | NotApplicable:
    import torch

    pairs = [(g.detach(), g) for g in grads if g is not None and g.requires_grad]
    if not pairs:
        return NotApplicable("grasp: the loss gradient has no second derivative through the weights")
    z = sum((const * g).sum() for const, g in pairs)
    try:
        hg = torch.autograd.grad(z, weights, allow_unused=True)
    except (RuntimeError, NotImplementedError) as e:
        if "not implemented" not in str(e).lower():
            raise
        return NotApplicable(f"grasp: a layer has no double backward ({str(e).splitlines()[0]})")
    return float(sum((-w.detach() * h).sum() for w, h in zip(weights, hg, strict=True) if h is not None))


def activation_proxies(net, inputs, want_naswot: bool = True, want_jacob: bool = True) -> dict:
    """naswot and jacob_cov from one forward pass (and, for jacob_cov, one backward to the input).

    naswot (Mellor et al. 2021): slogdet of K = Σ_ReLU [c cᵀ + (1−c)(1−c)ᵀ], c the binary codes
    (output > 0) of every ReLU unit for each sample; -inf when K is singular (identical codes).
    jacob_cov (Mellor et al., v1; reference `jacob_cov.py`): J = d(Σ outputs)/dx per sample,
    C = corrcoef(J) across the batch, score −Σ log(λ + k) + 1/(λ + k) over C's eigenvalues (k = 1e-5).
    """
    import torch

    out: dict = {}
    relus = [m for m in net.modules() if "ReLU" in type(m).__name__]  # the reference's test: ReLU, ReLU6, LeakyReLU
    if want_naswot and not relus:
        out["naswot"] = NotApplicable("naswot: the network has no ReLU module (it scores the on/off patterns of ReLU units)")
    jacob = _jacob_precheck(inputs) if want_jacob else None
    if want_jacob and jacob is not None:
        out["jacob_cov"] = jacob
    n = inputs.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64, device=inputs.device)

    def hook(_module, _inp, output):
        codes = output.detach().reshape(n, -1) > 0
        units = codes.shape[1]
        c = codes.to(torch.float32 if units < 2**24 else torch.float64)  # 0/1 products exact below 2**24
        active = c.sum(1, keepdim=True)
        # c cᵀ + (1-c)(1-c)ᵀ = units - r_i - r_j + 2 c cᵀ, r the count of active units
        kernel.add_((units - active - active.T + 2 * (c @ c.T)).to(torch.float64))

    count_codes = want_naswot and "naswot" not in out
    for p in net.parameters():  # only the input gradient is wanted: skip the weight gradients
        p.requires_grad_(False)
    handles = [m.register_forward_hook(hook) for m in relus] if count_codes else []
    x = inputs.detach().clone().requires_grad_("jacob_cov" not in out and want_jacob)
    try:
        with torch.set_grad_enabled(x.requires_grad):
            y = net(x)
    finally:
        for h in handles:
            h.remove()
    if count_codes:
        sign, logdet = torch.linalg.slogdet(kernel)
        out["naswot"] = float(logdet) if float(sign) > 0 else float("-inf")  # K is PSD: sign <= 0 is singular
    if x.requires_grad:
        out["jacob_cov"] = _jacob_score(x, y)
    return out


def _jacob_precheck(inputs) -> NotApplicable | None:
    if not inputs.is_floating_point():
        dtype = str(inputs.dtype).replace("torch.", "")
        return NotApplicable(f"jacob_cov: needs float inputs to differentiate, got {dtype}")
    if inputs.shape[0] < 2:
        return NotApplicable("jacob_cov: needs a batch of at least 2 samples")
    return None


def _jacob_score(x, y) -> float | NotApplicable:
    import torch

    if not y.requires_grad:
        return NotApplicable("jacob_cov: the output does not depend on the input")
    y.backward(torch.ones_like(y))
    if x.grad is None:
        return NotApplicable("jacob_cov: the output does not depend on the input")
    jac = x.grad.detach().reshape(x.shape[0], -1).double()
    if not torch.isfinite(jac).all():
        return NotApplicable("jacob_cov: the input gradient is not finite")
    if bool((jac.std(1) == 0).any()):
        return NotApplicable("jacob_cov: a sample's input gradient is constant (the output ignores the input)")
    # corrcoef is symmetric PSD: eigvalsh, with rounding below 0 clipped (log would be undefined)
    eig = torch.linalg.eigvalsh(torch.corrcoef(jac)).clamp_min(0.0)
    return float(-(torch.log(eig + JACOB_K) + 1.0 / (eig + JACOB_K)).sum())
