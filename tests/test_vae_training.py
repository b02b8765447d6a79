"""genai_course.vae.training: the loop (seeded, resumable, overfits a batch), its snapshots, and the
held-out bounds of a trained VAE."""

from __future__ import annotations

import pytest
import torch

from genai_course import vae
from genai_course.vae import VAETrainConfig
from genai_course.vae.training import _batch_indices
from shared import digits, small_vae  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def trained(digits):
    """A small VAE trained briefly: enough for the bounds to mean something."""
    model = small_vae(latent_dim=4)
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
    fresh = small_vae(latent_dim=4)
    before = vae.evaluate(fresh, digits.x_test, draws=5, k=5).neg_elbo
    after = vae.evaluate(trained, digits.x_test, draws=5, k=5).neg_elbo
    assert after < before - 10  # from about 45 nats (random decoder) to about 25


def test_overfits_one_batch(digits):
    model = small_vae(latent_dim=4)
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
        model = small_vae(seed=1)
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
    d = small_vae(seed=1)
    vae.train_vae(d, x, None, VAETrainConfig(steps=40, batch_size=128, seed=6), progress=False)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), d.parameters()))


def test_batches_visit_every_digit_once_per_pass():
    config = VAETrainConfig(batch_size=128, seed=0)
    n = 1497
    per_pass = -(-n // 128)
    seen = torch.cat([_batch_indices(s, n, config) for s in range(per_pass)])
    assert sorted(seen.tolist()) == list(range(n))
    second = torch.cat([_batch_indices(s, n, config) for s in range(per_pass, 2 * per_pass)])
    assert not torch.equal(seen, second)


def test_input_noise_changes_training_only_through_the_encoders_input(digits):
    """Training with and without the noise differ only through it."""
    runs = []
    for noise in (0.0, 0.2, 0.0):
        m = small_vae(seed=2)
        vae.train_vae(m, digits.x_train, None, VAETrainConfig(steps=5, input_noise=noise), progress=False)
        runs.append(m.decoder.net[0].weight.detach().clone())
    assert torch.equal(runs[0], runs[2]) and not torch.equal(runs[0], runs[1])


def test_sample_snapshots_record_fixed_noise(digits):
    model = small_vae()
    snaps = vae.SampleSnapshots(10, model.sample_latent(6, generator=torch.Generator().manual_seed(0)))
    history = vae.train_vae(model, digits.x_train, None, VAETrainConfig(steps=30), progress=False, callbacks=[snaps])
    assert [r["step"] for r in snaps.records] == [10, 20, 30]
    assert snaps.records[0]["samples"].shape == (6, 1, 8, 8)
    assert history.snapshots is snaps.records
    snaps.record(0, model)
    assert snaps.records[-1]["step"] == 0
    with pytest.raises(ValueError, match="every"):
        vae.SampleSnapshots(0, torch.zeros(1, 3))


def test_training_errors_in_the_learners_terms(digits):
    model = small_vae()
    cmodel = small_vae(num_classes=10)
    x = digits.x_train[:4]
    with pytest.raises(ValueError, match="lr_decay"):
        vae.train_vae(model, x, None, VAETrainConfig(steps=1, lr_decay="exp"), progress=False)
    with pytest.raises(ValueError, match="conditional .*pass labels"):
        vae.train_vae(cmodel, x, None, VAETrainConfig(steps=1), progress=False)
