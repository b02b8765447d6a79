"""The VAE library: the ELBO's terms against independent formulas, gradients, bounds, training."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from genai_course import data, vae
from genai_course.vae import VAE, VAEConfig, VAETrainConfig


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def _small(num_classes: int = 0, latent_dim: int = 3, seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(VAEConfig(latent_dim=latent_dim, hidden=32, layers=2, num_classes=num_classes))


# ----------------------------------------------------------------- the pieces


def test_shapes_of_encoder_decoder_and_forward(digits):
    model = _small()
    x = digits.x_train[:5]
    mu, logvar = model.encoder(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert model.decoder(mu).shape == (5, 1, 8, 8)
    logits, mu2, logvar2 = model(x, generator=torch.Generator().manual_seed(0))
    assert logits.shape == (5, 1, 8, 8) and torch.equal(mu2, mu) and torch.equal(logvar2, logvar)
    samples = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (7, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    assert model.reconstruct(x).shape == (5, 1, 8, 8)


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
    model = _small()
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
    model = _small()
    x = digits.x_train[:8]
    noisy = x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    terms = vae.elbo(model, x, generator=torch.Generator().manual_seed(0), encoder_input=noisy)
    mu, logvar = model.encoder(noisy)
    z = vae.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    torch.testing.assert_close(terms.reconstruction, vae.bernoulli_nll(model.decoder(z), x))
    torch.testing.assert_close(terms.kl, vae.gaussian_kl(mu, logvar))
    with pytest.raises(ValueError, match="encoder_input must have the images' shape"):
        vae.elbo(model, x, encoder_input=noisy[:4])
    # training with and without the noise differ only through it
    runs = []
    for noise in (0.0, 0.2, 0.0):
        m = _small(seed=2)
        vae.train_vae(m, digits.x_train, None, VAETrainConfig(steps=5, input_noise=noise), progress=False)
        runs.append(m.decoder.net[0].weight.detach().clone())
    assert torch.equal(runs[0], runs[2]) and not torch.equal(runs[0], runs[1])


@pytest.fixture(scope="module")
def trained(digits):
    """A small VAE trained briefly: enough for the bounds to mean something."""
    model = _small(latent_dim=4)
    vae.train_vae(model, digits.x_train, None, VAETrainConfig(steps=600, batch_size=128), progress=False)
    return model


def test_elbo_below_iwae_below_zero_on_held_out_digits(trained, digits):
    x = digits.x_test
    with torch.no_grad():
        elbo = -vae.elbo(trained, x, draws=50, generator=torch.Generator().manual_seed(0)).neg_elbo  # (300,)
    iwae_10 = vae.iwae_bound(trained, x, k=10, generator=torch.Generator().manual_seed(1))
    iwae_200 = vae.iwae_bound(trained, x, k=200, generator=torch.Generator().manual_seed(2))
    assert iwae_200.shape == (300,)
    assert elbo.mean() < iwae_10.mean() < iwae_200.mean() < 0
    assert (iwae_200 < 0).all()
    # k = 1 is the ELBO in expectation
    iwae_1 = torch.stack([vae.iwae_bound(trained, x, k=1, generator=torch.Generator().manual_seed(s)) for s in range(20)]).mean()
    assert abs(iwae_1.item() - elbo.mean().item()) < 0.1


def test_evaluate_report(trained, digits):
    report = vae.evaluate(trained, digits.x_test, draws=5, k=50)
    assert report.n_images == 300 and report.k == 50
    assert report.neg_iwae < report.neg_elbo
    assert report.neg_elbo == pytest.approx(report.reconstruction + report.kl, abs=1e-4)
    assert "-ELBO" in str(report) and set(report.as_dict()) >= {"neg_elbo", "neg_iwae", "kl"}
    trained.train()
    vae.evaluate(trained, digits.x_test[:10], draws=1, k=2)
    assert trained.training  # evaluate restores the mode it found
    trained.eval()


def test_training_improves_the_held_out_elbo(trained, digits):
    fresh = _small(latent_dim=4)
    before = vae.evaluate(fresh, digits.x_test, draws=5, k=5).neg_elbo
    after = vae.evaluate(trained, digits.x_test, draws=5, k=5).neg_elbo
    assert after < before - 10  # from about 45 nats (random decoder) to about 25


def test_overfits_one_batch(digits):
    model = _small(latent_dim=4)
    x = digits.x_train[:16]
    config = VAETrainConfig(steps=300, batch_size=16, lr=3e-3, lr_decay="none")
    history = vae.train_vae(model, x, None, config, progress=False)
    assert history.step == list(range(1, 301))
    assert history.loss[-1] < 0.6 * history.loss[0]
    # the reconstructions now look like the batch (posterior means decoded)
    assert (model.reconstruct(x) - x).abs().mean() < 0.15


def test_same_seed_same_model_and_resume_is_exact(digits):
    x = digits.x_train
    config = VAETrainConfig(steps=40, batch_size=128, seed=5)

    def run(stops):
        model = _small(seed=1)
        opt = vae.make_optimizer(model, config)
        g = torch.Generator().manual_seed(5)
        history = None
        for stop in stops:
            history = vae.train_vae(model, x, None, config, progress=False, optimizer=opt, generator=g,
                                    start_step=history.step[-1] if history else 0, stop_at=stop, history=history)
        return model, history

    a, ha = run([40])
    b, hb = run([40])
    c, hc = run([13, 40])
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb) and torch.equal(pa, pc)
    assert ha.loss == hc.loss
    d = _small(seed=1)
    vae.train_vae(d, x, None, VAETrainConfig(steps=40, batch_size=128, seed=6), progress=False)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), d.parameters()))


def test_batches_visit_every_digit_once_per_pass():
    config = VAETrainConfig(batch_size=128, seed=0)
    n = 1497
    per_pass = -(-n // 128)
    seen = torch.cat([vae._batch_indices(s, n, config) for s in range(per_pass)])
    assert sorted(seen.tolist()) == list(range(n))
    second = torch.cat([vae._batch_indices(s, n, config) for s in range(per_pass, 2 * per_pass)])
    assert not torch.equal(seen, second)


def test_conditional_vae_uses_its_label(digits):
    model = _small(num_classes=10)
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
    model = _small(num_classes=10)
    G = model.as_generator()
    z = torch.randn(4, 3)
    y = torch.tensor([1, 2, 3, 4])
    torch.testing.assert_close(G(z, y), torch.sigmoid(model.decoder(z, y)))
    assert G.config.latent_dim == 3 and G.config.num_classes == 10
    assert G.sample(6, generator=torch.Generator().manual_seed(0)).shape == (6, 1, 8, 8)
    with torch.no_grad():
        model.decoder.net[0].weight.zero_()
    assert torch.equal(G.decoder.net[0].weight, model.decoder.net[0].weight)  # a view, not a copy


def test_sample_snapshots_record_fixed_noise(digits):
    model = _small()
    snaps = vae.SampleSnapshots(10, model.sample_latent(6, generator=torch.Generator().manual_seed(0)))
    history = vae.train_vae(model, digits.x_train, None, VAETrainConfig(steps=30), progress=False, callbacks=[snaps])
    assert [r["step"] for r in snaps.records] == [10, 20, 30]
    assert snaps.records[0]["samples"].shape == (6, 1, 8, 8)
    assert history.snapshots is snaps.records
    snaps.record(0, model)
    assert snaps.records[-1]["step"] == 0
    with pytest.raises(ValueError, match="every"):
        vae.SampleSnapshots(0, torch.zeros(1, 3))


# ----------------------------------------------------------------- learner errors


def test_errors_in_the_learners_terms(digits):
    model = _small()
    cmodel = _small(num_classes=10)
    x = digits.x_train[:4]
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\).*reshape"):
        model.encoder(x.flatten(1))
    with pytest.raises(ValueError, match=r"latents of shape \(batch, 3\)"):
        model.decoder(torch.zeros(4, 5))
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\].*divide"):
        vae.elbo(model, x * 16)
    with pytest.raises(ValueError, match="unconditional"):
        model.encoder(x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="conditional .*pass labels"):
        cmodel.decoder(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="draws"):
        vae.elbo(model, x, draws=0)
    with pytest.raises(ValueError, match="k must be"):
        vae.iwae_bound(model, x, k=0)
    with pytest.raises(ValueError, match="latent_dim must be a positive int"):
        VAE(VAEConfig(latent_dim=0))
    with pytest.raises(ValueError, match="lr_decay"):
        vae.train_vae(model, x, None, VAETrainConfig(steps=1, lr_decay="exp"), progress=False)
    with pytest.raises(ValueError, match="conditional .*pass labels"):
        vae.train_vae(cmodel, x, None, VAETrainConfig(steps=1), progress=False)
