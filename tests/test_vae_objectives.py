"""genai_course.vae.objectives: the ELBO's terms against independent formulas, and beta."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from genai_course import vae
from shared import digits, small_vae  # noqa: F401 (fixtures)


def test_analytic_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 4, generator=g) * 2, torch.randn(6, 4, generator=g)
    ours = vae.gaussian_kl(mu, logvar)
    q, p = Normal(mu, torch.exp(0.5 * logvar)), Normal(torch.zeros(6, 4), torch.ones(6, 4))
    reference = kl_divergence(q, p).sum(dim=1)
    assert ours.shape == (6,)
    torch.testing.assert_close(ours, reference)
    assert (ours >= 0).all()
    assert torch.allclose(vae.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))  # q = p


def test_bernoulli_nll_is_the_summed_cross_entropy_with_its_entropy_floor(digits):
    x = digits.x_test[:8]
    logits = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    p = torch.sigmoid(logits)
    by_hand = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)
    torch.testing.assert_close(vae.bernoulli_nll(logits, x), by_hand)
    # the minimum over logits is at sigmoid(logits) = x: the pixels' binary entropy, not 0
    xc = x.clamp(1e-4, 1 - 1e-4)
    floor = vae.bernoulli_nll(torch.logit(xc), xc)
    entropy = -(xc * xc.log() + (1 - xc) * (1 - xc).log()).flatten(1).sum(1)
    torch.testing.assert_close(floor, entropy)
    assert (vae.bernoulli_nll(logits, xc) > floor).all()
    with pytest.raises(ValueError, match="same shape"):
        vae.bernoulli_nll(logits.flatten(1), x)


def test_elbo_terms_and_beta(digits):
    model = small_vae()
    x = digits.x_train[:16]
    terms = vae.elbo(model, x, beta=2.0, generator=torch.Generator().manual_seed(0))
    assert terms.reconstruction.shape == terms.kl.shape == (16,)
    torch.testing.assert_close(terms.loss, (terms.reconstruction + 2.0 * terms.kl).mean())
    torch.testing.assert_close(terms.neg_elbo, terms.reconstruction + terms.kl)
    # one draw by hand with the same generator
    mu, logvar = model.encoder(x)
    z = vae.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    torch.testing.assert_close(terms.reconstruction, vae.bernoulli_nll(model.decoder(z), x))
    torch.testing.assert_close(terms.kl, vae.gaussian_kl(mu, logvar))


def test_encoder_input_is_what_the_encoder_sees_and_the_decoder_still_explains_x(digits):
    model = small_vae()
    x = digits.x_train[:8]
    noisy = x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    terms = vae.elbo(model, x, generator=torch.Generator().manual_seed(0), encoder_input=noisy)
    mu, logvar = model.encoder(noisy)
    z = vae.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    torch.testing.assert_close(terms.reconstruction, vae.bernoulli_nll(model.decoder(z), x))
    torch.testing.assert_close(terms.kl, vae.gaussian_kl(mu, logvar))
    with pytest.raises(ValueError, match="encoder_input must have the images' shape"):
        vae.elbo(model, x, encoder_input=noisy[:4])


def test_objective_errors_in_the_learners_terms(digits):
    model = small_vae()
    x = digits.x_train[:4]
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\].*divide"):
        vae.elbo(model, x * 16)
    with pytest.raises(ValueError, match="draws"):
        vae.elbo(model, x, draws=0)
    with pytest.raises(ValueError, match="k must be"):
        vae.iwae_bound(model, x, k=0)
