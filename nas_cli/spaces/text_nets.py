"""Networks of the text spaces. Each takes `input_ids` int64 `[N, L]` (pad id 0) and optionally
`attention_mask` `[N, L]` (1 for tokens; derived from the pad id when absent), any L up to the
data's max_length, and returns logits `[N, classes]`."""

from __future__ import annotations

import torch
from torch import nn


def masked_pool(h, mask, how: str):
    """Pool `h` [N, T, D] over the positions where `mask` [N, T] is true: max or mean."""
    m = mask.unsqueeze(-1)
    if how == "max":
        return h.masked_fill(~m, torch.finfo(h.dtype).min).amax(dim=1)
    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)


class _TextNet(nn.Module):
    def __init__(self, spec) -> None:
        super().__init__()
        text = spec.text
        self.pad_id, self.max_length = int(text["pad_id"]), int(text["max_length"])
        self.vocab_size = int(text["vocab_size"])

    def mask_of(self, input_ids, attention_mask):
        return (input_ids != self.pad_id) if attention_mask is None else attention_mask.bool()


class TextCNN(_TextNet):
    """Kim 2014: embeddings, parallel 1-D convolutions of several widths, pooling over time, a linear head."""

    def __init__(self, arch: dict, spec) -> None:
        super().__init__(spec)
        dim, filters = int(arch["embedding_dim"]), int(arch["filters"])
        self.kernels = [int(k) for k in str(arch["kernels"]).split(",")]
        self.embedding = nn.Embedding(self.vocab_size, dim, padding_idx=self.pad_id)
        # "Same" padding on the right and left, so every window width yields L positions (any L >= 1).
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, k, padding="same") for k in self.kernels)
        self.pool, self.dropout = arch["pool"], nn.Dropout(float(arch["dropout"]))
        self.head = nn.Linear(filters * len(self.kernels), spec.num_classes)

    def forward(self, input_ids, attention_mask=None):
        mask = self.mask_of(input_ids, attention_mask)
        x = (self.embedding(input_ids) * mask.unsqueeze(-1)).transpose(1, 2)
        pooled = [masked_pool(torch.relu(conv(x)).transpose(1, 2), mask, self.pool) for conv in self.convs]
        return self.head(self.dropout(torch.cat(pooled, dim=1)))


class RecurrentNet(_TextNet):
    """GRU or LSTM over embeddings; the sequence pooled by its last real step, max or mean."""

    def __init__(self, arch: dict, spec) -> None:
        super().__init__(spec)
        dim, hidden, layers = int(arch["embedding_dim"]), int(arch["hidden"]), int(arch["n_layers"])
        self.embedding = nn.Embedding(self.vocab_size, dim, padding_idx=self.pad_id)
        cell = nn.GRU if arch["cell"] == "gru" else nn.LSTM
        dropout = float(arch["dropout"])
        self.rnn = cell(dim, hidden, num_layers=layers, batch_first=True, bidirectional=bool(arch["bidirectional"]),
                        dropout=dropout if layers > 1 else 0.0)
        self.bidirectional, self.hidden, self.pool = bool(arch["bidirectional"]), hidden, arch["pool"]
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden * (2 if self.bidirectional else 1), spec.num_classes)

    def forward(self, input_ids, attention_mask=None):
        mask = self.mask_of(input_ids, attention_mask)
        out, _ = self.rnn(self.embedding(input_ids))
        if self.pool == "last":
            last = (mask.sum(dim=1) - 1).clamp(min=0)
            idx = last.view(-1, 1, 1).expand(-1, 1, out.shape[-1])
            pooled = out.gather(1, idx).squeeze(1)
            if self.bidirectional:  # the backward direction has read the whole sequence at step 0
                pooled = torch.cat([pooled[:, :self.hidden], out[:, 0, self.hidden:]], dim=1)
        else:
            pooled = masked_pool(out, mask, self.pool)
        return self.head(self.dropout(pooled))


class TransformerNet(_TextNet):
    """A small pre-norm encoder with learned positions, pooled by the first token ([CLS]) or the mean."""

    def __init__(self, arch: dict, spec) -> None:
        super().__init__(spec)
        width, layers = int(arch["width"]), int(arch["n_layers"])
        self.embedding = nn.Embedding(self.vocab_size, width, padding_idx=self.pad_id)
        self.positions = nn.Embedding(self.max_length, width)
        block = nn.TransformerEncoderLayer(width, int(arch["heads"]), width * int(arch["ff_factor"]),
                                           float(arch["dropout"]), batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm, self.pool = nn.LayerNorm(width), arch["pool"]
        self.head = nn.Linear(width, spec.num_classes)

    def forward(self, input_ids, attention_mask=None):
        mask = self.mask_of(input_ids, attention_mask)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        h = self.embedding(input_ids) + self.positions(positions)
        # An additive float mask (0 or -inf per key) rather than a bool one: the same graph in eager
        # mode, torch.export and ONNX (the bool fast path of nn.Transformer does not export).
        key_bias = torch.zeros(mask.shape, dtype=h.dtype, device=h.device).masked_fill(~mask, float("-inf"))
        h = self.norm(self.encoder(h, src_key_padding_mask=key_bias))
        pooled = h[:, 0] if self.pool == "first" else masked_pool(h, mask, "mean")
        return self.head(pooled)


NETS = {"textcnn": TextCNN, "rnn": RecurrentNet, "transformer": TransformerNet}


def build_text_net(space: str, arch: dict, spec) -> nn.Module:
    return NETS[space](arch, spec)
