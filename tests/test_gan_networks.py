"""genai_course.gan: shapes, errors, where gradients go, seeding."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from genai_course import gan, losses
from genai_course.gan import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, mlp

# (latent_dim, data_dim, hidden, layers, G activation, D activation, pack)
CONFIGS = [
    (2, 2, 16, 2, "relu", "leaky_relu", 1),
    (5, 3, 8, 1, "tanh", "relu", 1),
    (2, 2, 16, 3, "leaky_relu", "tanh", 2),
    (4, 64, 8, 2, "relu", "leaky_relu", 4),
]


def make_pair(latent_dim, data_dim, hidden, layers, g_act, d_act, pack, seed=0):
    torch.manual_seed(seed)
    G = Generator(GeneratorConfig(latent_dim=latent_dim, data_dim=data_dim, hidden=hidden, layers=layers, activation=g_act))
    D = Discriminator(DiscriminatorConfig(data_dim=data_dim, hidden=hidden, layers=layers, pack=pack, activation=d_act))
    return G, D


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"z{c[0]}-x{c[1]}-h{c[2]}-l{c[3]}-pack{c[6]}")
def test_shapes(config):
    latent_dim, data_dim, *_, pack = config
    G, D = make_pair(*config)
    z = torch.randn(8, latent_dim)
    x = G(z)
    assert x.shape == (8, data_dim) and x.dtype == torch.float32
    logits = D(x)
    assert logits.shape == (8 // pack,) and logits.dtype == torch.float32
    assert G.sample_latent(6).shape == (6, latent_dim)
    assert G.sample(6).shape == (6, data_dim)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_mlp_has_the_configured_layers(layers):
    net = mlp(3, 1, 8, layers, "relu")
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert len(linears) == layers + 1
    assert (linears[0].in_features, linears[-1].out_features) == (3, 1)
    assert all(m.out_features == 8 for m in linears[:-1])


def test_packing_joins_consecutive_examples():
    _, D = make_pair(2, 2, 8, 1, "relu", "leaky_relu", pack=2)
    x = torch.randn(4, 2)
    expected = D.net(torch.stack([torch.cat([x[0], x[1]]), torch.cat([x[2], x[3]])])).squeeze(1)
    torch.testing.assert_close(D(x), expected)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((4, 3), "Generator expects noise of shape (batch, 2) (got (4, 3))"),
        ((2,), "Generator expects noise of shape (batch, 2) (got (2,))"),
        ((4, 2, 1), "Generator expects noise of shape (batch, 2) (got (4, 2, 1))"),
    ],
)
def test_generator_wrong_input_shape_message(shape, message):
    G, _ = make_pair(*CONFIGS[0])
    with pytest.raises(ValueError, match=re.escape(message)):
        G(torch.randn(*shape))


@pytest.mark.parametrize(
    "shape, message",
    [
        ((4, 3), "Discriminator expects inputs of shape (batch, 2) (got (4, 3))"),
        ((4,), "Discriminator expects inputs of shape (batch, 2) (got (4,))"),
        ((4, 1, 2), "Discriminator expects inputs of shape (batch, 2) (got (4, 1, 2))"),
    ],
)
def test_discriminator_wrong_input_shape_message(shape, message):
    _, D = make_pair(*CONFIGS[0])
    with pytest.raises(ValueError, match=re.escape(message)):
        D(torch.randn(*shape))


@pytest.mark.parametrize("pack, batch", [(2, 3), (4, 6), (4, 1)])
def test_batch_not_a_multiple_of_pack_message(pack, batch):
    _, D = make_pair(2, 2, 8, 1, "relu", "leaky_relu", pack)
    with pytest.raises(ValueError, match=re.escape(f"batch size {batch} is not a multiple of pack={pack}")):
        D(torch.randn(batch, 2))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Discriminator(DiscriminatorConfig(pack=0)), "pack must be a positive int (got 0)"),
        (lambda: Discriminator(DiscriminatorConfig(pack=1.5)), "pack must be a positive int (got 1.5)"),
        (lambda: Generator(GeneratorConfig(activation="gelu")), "activation must be one of ['leaky_relu', 'relu', 'tanh'] (got 'gelu')"),
        (lambda: Generator(GeneratorConfig(hidden=0)), "hidden must be a positive int (got 0)"),
        (lambda: Discriminator(DiscriminatorConfig(layers=-1)), "layers must be a positive int (got -1)"),
        (lambda: Generator(GeneratorConfig(latent_dim=2.0)), "d_in must be a positive int (got 2.0)"),
    ],
)
def test_bad_config_message(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_generator_loss_reaches_every_generator_parameter(pack):
    G, D = make_pair(2, 2, 16, 2, "relu", "leaky_relu", pack)
    losses.nonsaturating_g(D(G(torch.randn(8, 2)))).backward()
    for name, p in G.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_discriminator_loss_on_detached_fakes_leaves_generator_alone(pack):
    G, D = make_pair(2, 2, 16, 2, "relu", "leaky_relu", pack)
    real, fake = torch.randn(8, 2), G(torch.randn(8, 2)).detach()
    losses.minimax_d(D(real), D(fake)).backward()
    assert all(p.grad is None for p in G.parameters())
    for name, p in D.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_same_seed_same_weights_and_samples():
    G1, D1 = make_pair(*CONFIGS[2], seed=5)
    G2, D2 = make_pair(*CONFIGS[2], seed=5)
    G3, _ = make_pair(*CONFIGS[2], seed=6)
    for a, b in zip(list(G1.state_dict().values()) + list(D1.state_dict().values()), list(G2.state_dict().values()) + list(D2.state_dict().values())):
        assert torch.equal(a, b)
    assert not torch.equal(G1.net[0].weight, G3.net[0].weight)
    s1 = G1.sample(50, generator=torch.Generator().manual_seed(9))
    assert torch.equal(s1, G2.sample(50, generator=torch.Generator().manual_seed(9)))
    assert not torch.equal(s1, G1.sample(50, generator=torch.Generator().manual_seed(10)))


def test_sample_is_g_of_seeded_noise_without_gradients():
    G, _ = make_pair(*CONFIGS[0])
    out = G.sample(20, generator=torch.Generator().manual_seed(1))
    assert not out.requires_grad and out.grad_fn is None
    torch.testing.assert_close(out, G(torch.randn(20, 2, generator=torch.Generator().manual_seed(1))).detach())
    assert torch.is_grad_enabled()  # no_grad did not leak out of sample


# ------------------------------------------------------------------------- convolutional GANs


def conv_pair(num_classes: int = 0, seed: int = 0):
    torch.manual_seed(seed)
    return (
        gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=8, channels=8, num_classes=num_classes)),
        gan.ConvDiscriminator(gan.ConvDiscriminatorConfig(channels=8, num_classes=num_classes)),
    )


@pytest.mark.parametrize("num_classes", [0, 10])
def test_conv_shapes_and_pixel_range(num_classes):
    G, D = conv_pair(num_classes)
    y = torch.arange(6) % 10 if num_classes else None
    x = G(torch.randn(6, 8), y).detach()
    assert x.shape == (6, 1, 8, 8)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert D(x, y).shape == (6,)
    # the transposed convolutions double the size: 2x2 -> 4x4 -> 8x8
    h = G.project(torch.randn(6, 8 + num_classes)).view(6, 16, 2, 2)
    assert G.up[0](h).shape == (6, 8, 4, 4)


def test_conditional_generator_uses_its_label():
    G, _ = conv_pair(10)
    G.eval()
    z = torch.randn(10, 8)
    x = G(z.expand(10, 8).contiguous(), torch.arange(10))  # the same z, ten labels
    assert (x[1:] - x[:1]).abs().flatten(1).amax(1).min() > 1e-4
    # the label goes in as a one-hot vector appended to z
    manual = G.up(G.project(torch.cat([z, torch.eye(10)], 1)).view(10, 16, 2, 2))
    assert torch.allclose(G(z, torch.arange(10)), manual)


def test_projection_discriminator_formula():
    _, D = conv_pair(10)
    x, y = torch.rand(5, 1, 8, 8), torch.tensor([0, 3, 3, 9, 1])
    h = D.features(x)
    assert torch.allclose(D(x, y), D.head(h).squeeze(1) + (D.embed(y) * h).sum(1))
    assert not torch.allclose(D(x, y), D(x, (y + 1) % 10))


def test_conv_gradients_reach_every_parameter():
    G, D = conv_pair(10)
    y = torch.arange(8) % 10
    D(G(torch.randn(8, 8), y), y).sum().backward()
    for name, p in [*G.named_parameters(), *D.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_conv_sample_same_seed_same_images():
    G, _ = conv_pair(10)
    a = G.sample(12, generator=torch.Generator().manual_seed(1))
    b = G.sample(12, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (12, 1, 8, 8) and not a.requires_grad
    seven = G.sample(4, torch.full((4,), 7), generator=torch.Generator().manual_seed(1))
    assert seven.shape == (4, 1, 8, 8)


@pytest.mark.parametrize(
    "num_classes, call, message",
    [
        (0, lambda G, D: G(torch.randn(3, 7)), "ConvGenerator expects noise of shape (batch, 8) (got (3, 7))"),
        (0, lambda G, D: G(torch.randn(3, 8), torch.zeros(3, dtype=torch.long)), "this generator is unconditional (num_classes=0): call it without labels"),
        (10, lambda G, D: G(torch.randn(3, 8)), "this generator is conditional (num_classes=10): pass labels y of shape (3,)"),
        (10, lambda G, D: G(torch.randn(3, 8), torch.tensor([0, 5, 10])), "labels must lie in 0..9 (got values from 0 to 10)"),
        (10, lambda G, D: G(torch.randn(3, 8), torch.zeros(3)), "labels must be whole numbers of shape (3,), one per example (got torch.float32 of shape (3,))"),
        (10, lambda G, D: D(torch.rand(3, 1, 8, 8)), "this discriminator is conditional (num_classes=10): pass labels y of shape (3,)"),
        (0, lambda G, D: D(torch.rand(3, 64)), "ConvDiscriminator expects images of shape (batch, 1, 8, 8) (got (3, 64))"),
        (0, lambda G, D: D(torch.rand(3, 1, 16, 16)), "ConvDiscriminator expects images of shape (batch, 1, 8, 8) (got (3, 1, 16, 16))"),
    ],
)
def test_conv_bad_input_messages(num_classes, call, message):
    G, D = conv_pair(num_classes)
    with pytest.raises(ValueError, match=re.escape(message)):
        call(G, D)


def test_conv_bad_config_messages():
    with pytest.raises(ValueError, match=re.escape("channels must be a positive int (got 0)")):
        gan.ConvGenerator(gan.ConvGeneratorConfig(channels=0))
    with pytest.raises(ValueError, match=re.escape("num_classes must be 0 (unconditional) or a positive int (got -1)")):
        gan.ConvDiscriminator(gan.ConvDiscriminatorConfig(num_classes=-1))


def test_discrete_code_in_the_latent():
    torch.manual_seed(0)
    G = gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=9, channels=8, codes=4))
    z = G.sample_latent(400, generator=torch.Generator().manual_seed(0))
    assert z.shape == (400, 13) and G.z_dim == 13
    gaussian, code = z[:, :9], z[:, 9:]
    assert abs(float(gaussian.mean())) < 0.1 and abs(float(gaussian.std()) - 1) < 0.1
    # one entry of the code is on, scaled to sqrt(latent_dim) = 3 so it weighs like the Gaussian part
    assert torch.equal((code > 0).sum(1), torch.ones(400, dtype=torch.long)) and set(code.unique().tolist()) == {0.0, 3.0}
    assert (code > 0).float().mean(0).min() > 0.15  # every code value is drawn
    assert G(z).shape == (400, 1, 8, 8)
    with pytest.raises(ValueError, match=re.escape("expects noise of shape (batch, 13): 9 Gaussian numbers, then a one-hot code of 4 (got (2, 9))")):
        G(torch.randn(2, 9))
    with pytest.raises(ValueError, match=re.escape("codes must be 0 (no discrete code) or a positive int (got -2)")):
        gan.ConvGenerator(gan.ConvGeneratorConfig(codes=-2))
