"""LoRA: starts as the frozen layer, trains only A and B, merges exactly, counts r * (in + out),
and computes what Hugging Face's peft computes with the same A and B."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from genai_course.adapt import LoRALinear, add_lora, lora_parameter_count, merge_lora
from genai_course.utils import same


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 5), nn.Tanh()), nn.Linear(5, 3))


def test_a_fresh_adapter_leaves_the_output_unchanged_exactly() -> None:
    net, x = _net(), torch.randn(4, 6)
    before = net(x)
    add_lora(net, rank=2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(net(x), before)  # B = 0: the update is exactly zero


def test_the_parameter_count_matches_the_formula() -> None:
    net = _net()
    added = add_lora(net, rank=3)
    expected = 3 * (6 + 8) + 3 * (8 + 5) + 3 * (5 + 3)
    assert added == expected == sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert lora_parameter_count(6, 8, 3) == 42
    assert lora_parameter_count(256, 64, 4) < 256 * 64


def test_gradients_reach_the_adapters_and_never_the_frozen_weights() -> None:
    net, x = _net(), torch.randn(4, 6)
    add_lora(net, rank=2, generator=torch.Generator().manual_seed(1))
    net(x).pow(2).sum().backward()
    for name, p in net.named_parameters():
        if ".base." in name or name.startswith("base."):
            assert p.grad is None, name
        elif name.endswith(".B"):
            assert p.grad is not None and p.grad.abs().sum() > 0, name  # B's gradient is (A x)-shaped: not zero
        else:
            assert name.endswith(".A"), name
            assert p.grad is not None and torch.equal(p.grad, torch.zeros_like(p)), name  # dL/dA ∝ B = 0 at the start


def test_frozen_weights_do_not_move_bit_for_bit_under_adam() -> None:
    net, x = _net(), torch.randn(16, 6)
    add_lora(net, rank=2, generator=torch.Generator().manual_seed(1))
    frozen = {n: p.detach().clone() for n, p in net.named_parameters() if not p.requires_grad}
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(20):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    for n, p in net.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), n
    assert not torch.equal(net[0].B, torch.zeros_like(net[0].B))  # the adapters did train


def test_merged_equals_unmerged() -> None:
    net, x = _net(), torch.randn(5, 6)
    add_lora(net, rank=2, alpha=4.0, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, LoRALinear):
                m.B.normal_()
    adapted = net(x)
    merge_lora(net)
    assert not any(isinstance(m, LoRALinear) for m in net.modules())
    assert all(type(m) is nn.Linear for m in net.modules() if isinstance(m, nn.Linear))
    assert same(adapted, net(x))


def test_delta_has_the_rank_and_the_scale() -> None:
    layer = LoRALinear(nn.Linear(10, 12), rank=3, alpha=6.0, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        layer.B.normal_()
    assert layer.scale == 2.0
    assert torch.linalg.matrix_rank(layer.delta()) == 3
    x = torch.randn(2, 10)
    assert same(layer(x), layer.base(x) + x @ layer.delta().T)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LoRALinear(nn.Linear(4, 4), rank=0), "rank must be a positive whole number (got 0)"),
        (lambda: LoRALinear(nn.Linear(4, 4), rank=5), "rank 5 is more than this layer's smaller side (4)"),
        (lambda: LoRALinear(nn.Conv2d(1, 1, 3), rank=1), "LoRA wraps an nn.Linear (got Conv2d)"),
    ],
)
def test_bad_adapters_say_what_is_wrong(make, message) -> None:
    with pytest.raises((ValueError, TypeError)) as e:
        make()
    assert message in str(e.value)


def test_the_same_as_peft_given_the_same_a_and_b() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft = pytest.importorskip("peft")
        ours, theirs = _net(), _net()
        config = peft.LoraConfig(r=2, lora_alpha=4, target_modules=["0", "2.0", "3"], lora_dropout=0.0)
        reference = peft.get_peft_model(theirs, config)
    add_lora(ours, rank=2, alpha=4.0)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():  # give both the same nonzero A and B
        for name in ("0", "2.0", "3"):
            mine = ours.get_submodule(name)
            other = reference.base_model.model.get_submodule(name)
            mine.A.copy_(torch.randn(mine.A.shape, generator=g))
            mine.B.copy_(torch.randn(mine.B.shape, generator=g))
            other.lora_A["default"].weight.copy_(mine.A)
            other.lora_B["default"].weight.copy_(mine.B)
    x = torch.randn(7, 6, generator=g)
    assert same(ours(x), reference(x))
    trainable = sum(p.numel() for p in reference.parameters() if p.requires_grad)
    assert trainable == sum(p.numel() for p in ours.parameters() if p.requires_grad)
