"""Model inputs of a task, shared by the tasks: one float tensor for images, named numeric and
categorical tensors for tables, token ids and their attention mask for text (`input_ids` and
`attention_mask`, int64 `[N, L]`, dynamic batch and length; stored as the ids alone, pad id 0).

Tables are stored packed, `[N, F + K]` float32 (F numeric features, then K category codes as exact
small floats), so that training indexes one tensor per batch; the exported model takes them apart:
`numeric` float32 `[N, F]` and `categorical` int64 `[N, K]`, either absent when the table has none.
"""

from __future__ import annotations


def table_parts(spec) -> tuple[int, int]:
    """(F, K): numeric features and categorical columns of a table spec."""
    table = spec.table or {}
    return int(table.get("n_numeric", 0)), len(table.get("cardinalities") or [])


def input_specs(spec):
    """The exported model's inputs as TensorSpecs, in order."""
    from nas_cli.tasks import TensorSpec

    if getattr(spec, "text", None) is not None:
        return (TensorSpec("input_ids", "int64", ("batch", "length")),
                TensorSpec("attention_mask", "int64", ("batch", "length")))
    if spec.table is None:
        return (TensorSpec("input", "float32", ("batch", *spec.input_shape)),)
    f, k = table_parts(spec)
    out = []
    if f:
        out.append(TensorSpec("numeric", "float32", ("batch", f)))
    if k:
        out.append(TensorSpec("categorical", "int64", ("batch", k)))
    return tuple(out)


def split_inputs(spec, x) -> tuple:
    """Packed model input (torch) -> the exported model's inputs (a tuple of tensors)."""
    if getattr(spec, "text", None) is not None:
        return (x, (x != int(spec.text["pad_id"])).long())
    if spec.table is None:
        return (x,)
    f, k = table_parts(spec)
    parts = []
    if f:
        parts.append(x[:, :f])
    if k:
        parts.append(x[:, f:f + k].round().long())
    return tuple(p.contiguous() for p in parts)


def example_inputs(spec, batch_size: int = 1, random: bool = False) -> tuple:
    """Inputs of `batch_size` examples (CPU): zeros, or random ones from torch's global generator
    (valid category codes for tables)."""
    import torch

    if getattr(spec, "text", None) is not None:  # real tokens (never all padding), every position used
        shape, low = (int(batch_size), int(spec.text["max_length"])), int(spec.text["cls_id"]) + 1
        ids = torch.randint(low, max(low + 1, int(spec.text["vocab_size"])), shape) if random else \
            torch.full(shape, low, dtype=torch.long)
        return (ids, torch.ones_like(ids))
    if spec.table is None:
        return ((torch.randn if random else torch.zeros)((int(batch_size), *spec.input_shape)),)
    f, k = table_parts(spec)
    parts = []
    if f:
        parts.append((torch.randn if random else torch.zeros)((int(batch_size), f)))
    if k:
        cards = torch.tensor(spec.table["cardinalities"], dtype=torch.float32)
        codes = (torch.rand((int(batch_size), k)) * cards).floor().long() if random else torch.zeros(
            (int(batch_size), k), dtype=torch.long)
        parts.append(codes)
    return tuple(parts)


def onnx_feeds(spec, x, names: list[str]) -> dict:
    """Packed inputs (torch) -> {ONNX input name: numpy array} for an exported model."""
    return {name: t.detach().cpu().contiguous().numpy() for name, t in zip(names, split_inputs(spec, x), strict=True)}
