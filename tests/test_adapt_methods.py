"""What each method trains, counts and stores."""

from __future__ import annotations

import pytest
import torch

from genai_course import vae
from genai_course.adapt import AdaptConfig, add_class, adapter_state, lora_parameter_count, prepare, state_bytes, trainable_parameters


def _grown(method: str, rank: int = 4) -> vae.VAE:
    torch.manual_seed(0)
    base = vae.VAE(vae.VAEConfig(num_classes=9, hidden=32))
    return prepare(add_class(base), method, rank, torch.Generator().manual_seed(0))


def test_trainable_counts_follow_the_formulas() -> None:
    hidden, pixels, latent = 32, 64, 4
    total = sum(p.numel() for p in _grown("finetune").parameters())
    assert trainable_parameters(_grown("finetune")) == trainable_parameters(_grown("replay")) == total
    assert trainable_parameters(_grown("embedding")) == 2 * hidden  # one new column in the encoder, one in the decoder
    # LoRA: the two new columns plus r * (in + out) for every linear layer of both MLPs (2 hidden layers each)
    shapes = [(pixels + 9, hidden), (hidden, hidden), (hidden, 2 * latent), (latent + 9, hidden), (hidden, hidden), (hidden, pixels)]
    assert trainable_parameters(_grown("lora", rank=3)) == 2 * hidden + sum(lora_parameter_count(i, o, 3) for i, o in shapes)


def test_the_adapter_state_holds_only_what_trained() -> None:
    state = adapter_state(_grown("embedding"))
    assert sorted(state) == ["decoder.net.0.column", "encoder.net.0.column"]
    assert state_bytes(state) == 2 * 32 * 4  # float32
    lora = adapter_state(_grown("lora"))
    assert all(k.endswith((".A", ".B", ".column")) for k in lora)
    whole = adapter_state(_grown("finetune"))
    assert state_bytes(whole) == 4 * sum(p.numel() for p in _grown("finetune").parameters())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "freeze"}, "unknown adaptation method 'freeze'"),
        ({"steps": 0}, "steps must be a positive whole number (got 0)"),
        ({"rank": 1.5}, "rank must be a positive whole number (got 1.5)"),
        ({"lr": 0.0}, "lr must be positive (got 0.0)"),
    ],
)
def test_bad_configs_say_what_is_wrong(kwargs, message) -> None:
    with pytest.raises(ValueError) as e:
        AdaptConfig(**kwargs)
    assert message in str(e.value)
