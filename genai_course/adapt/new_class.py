"""Room for one more class: a new column of a one-hot-fed layer, a new row of an embedding.

A conditional network that takes its label one-hot, ``[h, one_hot(y)] -> W [h, one_hot(y)] + b``,
gives class k the k-th label column of W: one vector of ``out`` numbers added when y = k. That
column *is* an embedding row (an ``nn.Embedding`` looks the same vector up). So teaching a trained
network a class it never saw starts with one more column (``NewClassInput``) or one more row
(``NewRowEmbedding``), initialised to the mean of the old ones: "an average class".

Both wrappers leave every old class's output unchanged, exactly: the new column is multiplied
by 0 for every old label, and the old rows are looked up as before. ``merge_classes`` folds a
wrapper back into the plain layer (one more input, one more row) with the same outputs.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

from ..text import GRULM
from ..vae import VAE
from .lora import LoRALinear

__all__ = ["NewClassInput", "NewRowEmbedding", "check_network", "add_class", "add_language", "merge_classes"]


class NewClassInput(nn.Module):
    """A layer fed ``[h, one_hot(y, K)]`` taught a class K: x (B, D + K + 1) -> (B, out).

    ``base`` is the trained layer (an ``nn.Linear`` of D + K inputs, or a ``LoRALinear`` around
    one); ``column`` (out,) is the new class's vector, added when the last input is 1.
    """

    def __init__(self, base: nn.Module, column: torch.Tensor) -> None:
        super().__init__()
        self.base = base
        self.column = nn.Parameter(column.detach().clone())  # (out,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x[..., :-1]) + x[..., -1:] * self.column  # (B, out)

    def merged(self) -> nn.Linear:
        """One ``nn.Linear`` of D + K + 1 inputs computing the same (merge any LoRA first)."""
        base = self.base.merged() if isinstance(self.base, LoRALinear) else self.base
        w = base.weight
        layer = nn.Linear(base.in_features + 1, base.out_features, bias=base.bias is not None).to(w.device, w.dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.cat([w, self.column[:, None]], dim=1))
            if base.bias is not None:
                layer.bias.copy_(base.bias)
        return layer


class NewRowEmbedding(nn.Module):
    """An embedding of K rows taught row K: indices (B,) in 0..K -> (B, E). ``row`` (E,) is new."""

    def __init__(self, base: nn.Embedding, row: torch.Tensor) -> None:
        super().__init__()
        self.base = base
        self.row = nn.Parameter(row.detach().clone())  # (E,)

    @property
    def num_embeddings(self) -> int:
        return self.base.num_embeddings + 1

    def forward(self, i: torch.Tensor) -> torch.Tensor:
        k = self.base.num_embeddings
        old = self.base(i.clamp(max=k - 1))  # (B, E): row K looks up a placeholder, replaced below
        return torch.where((i == k)[..., None], self.row.expand_as(old), old)

    def merged(self) -> nn.Embedding:
        w = self.base.weight
        table = nn.Embedding(self.num_embeddings, w.shape[1]).to(w.device, w.dtype)
        with torch.no_grad():
            table.weight.copy_(torch.cat([w, self.row[None]], dim=0))
        return table


def check_network(net: object, kind: type, who: str) -> None:
    """TypeError unless ``net`` is a ``kind`` network: a trained registry model (``models.train_model``)
    is not one, it holds its network (``.vae`` of a digits VAE, ``.model`` of the names model)."""
    if isinstance(net, kind):
        return
    inside = next((f"; this trained model holds it in .{a}" for a in ("vae", "model") if isinstance(getattr(net, a, None), kind)), "")
    raise TypeError(f"{who} takes the network itself, a {kind.__module__.split('.')[-2]}.{kind.__name__} "
                    f"(got {type(net).__name__}{inside})")


def add_class(vae: VAE) -> VAE:
    """A copy of a conditional VAE with one more class, K: the label columns of the encoder's and the
    decoder's first layers get a new column each (``NewClassInput``), the mean of the old ones.
    Old classes compute exactly what they did. The original ``vae`` is not touched."""
    check_network(vae, VAE, "add_class")
    k = vae.config.num_classes
    if k < 1:
        raise ValueError("this VAE is unconditional (num_classes=0): it has no classes to add one to")
    grown = copy.deepcopy(vae)
    config = dataclasses.replace(vae.config, num_classes=k + 1)
    grown.config = grown.encoder.config = grown.decoder.config = config
    for net in (grown.encoder.net, grown.decoder.net):
        first = net[0]
        net[0] = NewClassInput(first, first.weight[:, -k:].mean(dim=1))  # the average class's column
    return grown


def add_language(model: GRULM) -> GRULM:
    """A copy of a language-conditioned names model with one more language, K: a new row of the
    language embedding (``NewRowEmbedding``), the mean of the old rows."""
    check_network(model, GRULM, "add_language")
    if model.lang is None:
        raise ValueError("add_language takes a GRU names model conditioned on the language (text.GRULM with languages)")
    grown = copy.deepcopy(model)
    grown.lang = NewRowEmbedding(grown.lang, grown.lang.weight.mean(dim=0))
    grown.num_languages = model.num_languages + 1
    return grown


def merge_classes(module: nn.Module) -> nn.Module:
    """Fold every LoRA adapter, new column and new row inside ``module`` into plain layers (in
    place): the same outputs from an ordinary network. Returns ``module``."""
    for name, child in list(module.named_children()):
        if isinstance(child, (NewClassInput, NewRowEmbedding, LoRALinear)):
            setattr(module, name, child.merged())
        else:
            merge_classes(child)
    return module
