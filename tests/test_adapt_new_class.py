"""One more class: old classes compute exactly what they did, the new column starts as the
average class, and merging gives an ordinary network with the same outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genai_course import text, vae
from genai_course.adapt import (
    NewClassInput, NewRowEmbedding, add_class, add_language, add_lora, merge_classes, prepare,
)
from genai_course.utils import same


def _vae9() -> vae.VAE:
    torch.manual_seed(0)
    return vae.VAE(vae.VAEConfig(num_classes=9, hidden=32)).eval()


def _grulm() -> text.GRULM:
    torch.manual_seed(0)
    return text.GRULM(vocab_size=12, num_languages=3, embed=8, hidden=16).eval()


def test_old_classes_are_unchanged_bit_for_bit() -> None:
    base, z = _vae9(), torch.randn(18, 4)
    y = torch.arange(9).repeat(2)
    grown = add_class(base)
    assert grown.config.num_classes == 10 and base.config.num_classes == 9  # the base is not touched
    assert torch.equal(grown.decoder(z, y), base.decoder(z, y))
    x = torch.rand(18, 1, 8, 8)
    for a, b in zip(grown.encoder(x, y), base.encoder(x, y)):
        assert torch.equal(a, b)


def test_the_new_column_is_the_mean_of_the_old_ones() -> None:
    base = _vae9()
    grown = add_class(base)
    first = grown.decoder.net[0]
    assert isinstance(first, NewClassInput)
    w = base.decoder.net[0].weight  # (hidden, 4 + 9)
    assert same(first.column, w[:, 4:].mean(dim=1))
    z = torch.randn(3, 4)
    nine = grown.decoder(z, torch.full((3,), 9))
    h = torch.cat([z, torch.full((3, 9), 1 / 9)], dim=1)  # the average one-hot
    expected = base.decoder.net[1:](base.decoder.net[0](h)).view(-1, 1, 8, 8)
    assert same(nine, expected)


def test_merged_grown_vae_is_an_ordinary_vae_with_the_same_outputs() -> None:
    grown = add_class(_vae9())
    prepare(grown, "lora", rank=2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for p in grown.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))
    z, y = torch.randn(20, 4), torch.arange(10).repeat(2)
    before = grown.decoder(z, y)
    merge_classes(grown)
    assert all(type(m) in (nn.Linear, nn.ReLU, nn.Sequential) for m in grown.decoder.net.modules())
    plain = vae.VAE(grown.config)
    plain.load_state_dict(grown.state_dict())  # the merged state is an ordinary VAE's
    assert same(plain.decoder(z, y), before)


def test_a_new_language_row() -> None:
    base = _grulm()
    grown = add_language(base)
    assert grown.num_languages == 4 and isinstance(grown.lang, NewRowEmbedding)
    idx = torch.randint(2, 12, (6, 5))
    lang = torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.equal(grown(idx, lang), base(idx, lang))
    assert same(grown.lang(torch.tensor([3])), base.lang.weight.mean(0, keepdim=True))
    with torch.no_grad():
        grown.lang.row.add_(1.0)
    new = grown(idx, torch.full((6,), 3))
    merge_classes(grown)
    assert type(grown.lang) is nn.Embedding and grown.lang.num_embeddings == 4
    assert same(grown(idx, torch.full((6,), 3)), new)


def test_lora_inside_the_new_column_layer_merges_too() -> None:
    grown = add_class(_vae9())
    add_lora(grown, rank=2)
    assert isinstance(grown.decoder.net[0], NewClassInput)  # the LoRA sits inside, on the old inputs
    with torch.no_grad():
        grown.decoder.net[0].base.B.normal_()
    z, y = torch.randn(4, 4), torch.tensor([0, 3, 8, 9])
    before = grown.decoder(z, y)
    merge_classes(grown)
    assert same(grown.decoder(z, y), before)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: add_class(vae.VAE(vae.VAEConfig())), "this VAE is unconditional (num_classes=0)"),
        (lambda: add_language(text.GRULM(10, 0)), "add_language takes a GRU names model conditioned on the language"),
        (lambda: prepare(_vae9(), "lora"), "this network has no new class to train: grow it first"),
        (lambda: prepare(add_class(_vae9()), "distill"), "unknown adaptation method 'distill': choose one of finetune, replay, lora, embedding"),
    ],
)
def test_bad_calls_say_what_is_wrong(call, message) -> None:
    with pytest.raises(ValueError) as e:
        call()
    assert message in str(e.value)


def test_a_trained_registry_model_instead_of_its_network_says_where_the_network_is() -> None:
    from genai_course import adapt, models

    digits, names = models.build("digits-0to8"), models.build("charlm-names")
    for call, message in [
        (lambda: adapt.adapt_vae(digits, adapt.few_shot(5)), "adapt_vae takes the network itself, a vae.VAE (got TrainedVAE; this trained model holds it in .vae)"),
        (lambda: adapt.judge_adaptation(digits, adapt.few_shot(5)), "judge_adaptation takes the network itself, a vae.VAE (got TrainedVAE;"),
        (lambda: adapt.replay_set(digits, 9), "replay_set takes the network itself"),
        (lambda: add_class("a VAE"), "add_class takes the network itself, a vae.VAE (got str)"),
        (lambda: adapt.adapt_names(names, names.data.vocab, adapt.few_names(names.data.vocab, 8, 5)),
         "adapt_names takes the network itself, a text.GRULM (got TrainedCharLM; this trained model holds it in .model)"),
    ]:
        with pytest.raises(TypeError) as e:
            call()
        assert message in str(e.value)
