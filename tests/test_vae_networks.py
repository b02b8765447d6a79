"""genai_course.vae.networks: encoder, decoder, the reparameterized draw, conditioning on a label."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course import vae
from genai_course.vae import VAE, VAEConfig, VAETrainConfig
from shared import digits, small_vae  # noqa: F401 (fixtures)


def test_shapes_of_encoder_decoder_and_forward(digits):
    model = small_vae()
    x = digits.x_train[:5]
    mu, logvar = model.encoder(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert model.decoder(mu).shape == (5, 1, 8, 8)
    logits, mu2, logvar2 = model(x, generator=torch.Generator().manual_seed(0))
    assert logits.shape == (5, 1, 8, 8) and torch.equal(mu2, mu) and torch.equal(logvar2, logvar)
    samples = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (7, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    assert model.reconstruct(x).shape == (5, 1, 8, 8)


def test_reparameterized_sample_is_differentiable_in_mu_and_logvar():
    mu = torch.randn(5, 3, requires_grad=True)
    logvar = torch.randn(5, 3, requires_grad=True)
    z = vae.reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    z.pow(2).sum().backward()
    assert mu.grad is not None and mu.grad.abs().sum() > 0
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0
    # dz/dmu = 1 and dz/dlogvar = eps * std / 2 for each coordinate
    eps = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    std = torch.exp(0.5 * logvar.detach())
    torch.testing.assert_close(mu.grad, 2 * z.detach())
    torch.testing.assert_close(logvar.grad, 2 * z.detach() * eps * std / 2)


def test_reparameterize_draws_from_the_right_gaussian_and_follows_the_seed():
    mu, logvar = torch.full((200_000, 1), 1.5), torch.full((200_000, 1), math.log(0.25))  # std 0.5
    z = vae.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert abs(z.mean().item() - 1.5) < 0.01 and abs(z.std().item() - 0.5) < 0.01
    a = vae.reparameterize(mu[:10], logvar[:10], torch.Generator().manual_seed(3))
    b = vae.reparameterize(mu[:10], logvar[:10], torch.Generator().manual_seed(3))
    c = vae.reparameterize(mu[:10], logvar[:10], torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="same shape"):
        vae.reparameterize(mu[:3], logvar[:4])


def test_conditional_vae_uses_its_label(digits):
    model = small_vae(num_classes=10)
    x, y = digits.x_train[:10], digits.y_train[:10]
    mu_a, _ = model.encoder(x, y)
    mu_b, _ = model.encoder(x, (y + 1) % 10)
    assert not torch.allclose(mu_a, mu_b)
    z = torch.zeros(10, 3)
    assert model.decode(z, torch.arange(10)).std(0).max() > 0  # same z, different labels
    terms = vae.elbo(model, x, y)
    assert terms.neg_elbo.shape == (10,)
    history = vae.train_vae(model, digits.x_train, digits.y_train, VAETrainConfig(steps=5), progress=False)
    assert len(history.loss) == 5


def test_decoder_means_is_a_generator_sharing_the_weights():
    model = small_vae(num_classes=10)
    G = model.as_generator()
    z = torch.randn(4, 3)
    y = torch.tensor([1, 2, 3, 4])
    torch.testing.assert_close(G(z, y), torch.sigmoid(model.decoder(z, y)))
    assert G.config.latent_dim == 3 and G.config.num_classes == 10
    assert G.sample(6, generator=torch.Generator().manual_seed(0)).shape == (6, 1, 8, 8)
    with torch.no_grad():
        model.decoder.net[0].weight.zero_()
    assert torch.equal(G.decoder.net[0].weight, model.decoder.net[0].weight)  # a view, not a copy


def test_network_errors_in_the_learners_terms(digits):
    model = small_vae()
    cmodel = small_vae(num_classes=10)
    x = digits.x_train[:4]
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\).*reshape"):
        model.encoder(x.flatten(1))
    with pytest.raises(ValueError, match=r"latents of shape \(batch, 3\)"):
        model.decoder(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="unconditional"):
        model.encoder(x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="conditional .*pass labels"):
        cmodel.decoder(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="latent_dim must be a positive int"):
        VAE(VAEConfig(latent_dim=0))
