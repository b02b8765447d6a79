"""genai_course.gan.training: each GAN step touches only its own network, the loop, snapshots, checkpoints."""

from __future__ import annotations

import copy
import dataclasses
import math
import re

import pytest
import torch

from genai_course import checkpoints, models
from genai_course.data import make_grid
from genai_course.gan import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    History,
    Snapshots,
    TrainConfig,
    d_step,
    g_step,
    make_optimizers,
    save_checkpoint,
    train_gan,
)
from genai_course.loop import lr_factor

TARGET = torch.tensor([0.8, -0.6])


def tiny_pair(seed: int = 0, pack: int = 1) -> tuple[Generator, Discriminator]:
    torch.manual_seed(seed)
    return Generator(GeneratorConfig(hidden=16, layers=2)), Discriminator(DiscriminatorConfig(hidden=16, layers=2, pack=pack))


def params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def unchanged(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return all(torch.equal(b, p) for b, p in zip(before, module.parameters()))


def ring_batch(n: int = 64, seed: int = 0) -> torch.Tensor:
    angles = 2 * math.pi * torch.randint(8, (n,), generator=torch.Generator().manual_seed(seed)) / 8
    return torch.stack([angles.cos(), angles.sin()], dim=1)


def sample_ring(n: int, generator: torch.Generator) -> torch.Tensor:
    angles = 2 * math.pi * torch.randint(8, (n,), generator=generator) / 8
    return torch.stack([angles.cos(), angles.sin()], dim=1) + 0.01 * torch.randn(n, 2, generator=generator)


# --------------------------------------------------------------------------- the two steps


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "least_squares", "wasserstein", "hinge"])
def test_d_step_changes_d_only(loss):
    G, D = tiny_pair()
    _, opt_d = make_optimizers(G, D, TrainConfig())
    g_before, d_before = params(G), params(D)
    logs = d_step(G, D, ring_batch(), opt_d, loss, generator=torch.Generator().manual_seed(0))
    assert set(logs) == {"d_loss"} and isinstance(logs["d_loss"], float) and math.isfinite(logs["d_loss"])
    assert not unchanged(d_before, D)
    assert unchanged(g_before, G)
    assert all(p.grad is None for p in G.parameters()), "gradients reached G: the fakes must be detached"


@pytest.mark.parametrize(
    "kwargs, keys",
    [({"r1_gamma": 1.0}, {"d_loss", "r1"}), ({"gp_weight": 10.0}, {"d_loss", "gp"}), ({"r1_gamma": 1.0, "gp_weight": 10.0}, {"d_loss", "r1", "gp"})],
)
def test_d_step_penalties_are_logged_and_leave_g_alone(kwargs, keys):
    G, D = tiny_pair()
    _, opt_d = make_optimizers(G, D, TrainConfig())
    g_before = params(G)
    logs = d_step(G, D, ring_batch(), opt_d, "wasserstein", generator=torch.Generator().manual_seed(0), **kwargs)
    assert set(logs) == keys
    assert all(math.isfinite(v) and v >= 0 for k, v in logs.items() if k != "d_loss")
    assert unchanged(g_before, G) and all(p.grad is None for p in G.parameters())


def test_d_step_penalty_changes_the_update():
    updates = []
    for r1_gamma in (0.0, 10.0):
        G, D = tiny_pair()
        _, opt_d = make_optimizers(G, D, TrainConfig())
        d_step(G, D, ring_batch(), opt_d, r1_gamma=r1_gamma, generator=torch.Generator().manual_seed(0))
        updates.append(params(D))
    assert not all(torch.equal(a, b) for a, b in zip(*updates))


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "least_squares", "wasserstein", "hinge"])
def test_g_step_changes_g_only(loss):
    G, D = tiny_pair()
    opt_g, _ = make_optimizers(G, D, TrainConfig())
    g_before, d_before = params(G), params(D)
    logs = g_step(G, D, 64, opt_g, loss, generator=torch.Generator().manual_seed(0))
    assert set(logs) == {"g_loss"} and math.isfinite(logs["g_loss"])
    assert not unchanged(g_before, G)
    assert unchanged(d_before, D)


def test_d_step_ignores_stale_gradients_left_by_g_step():
    """g_step leaves gradients on D; D's next step must clear them before its backward."""
    G, D = tiny_pair()
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    frozen_g = torch.optim.Adam(G.parameters(), lr=0.0)  # G keeps its weights, D gets stale gradients
    g_step(G, D, 64, frozen_g)
    assert any(p.grad is not None for p in D.parameters())
    for g, d in ((G, D), (G2, D2)):
        _, opt_d = make_optimizers(g, d, TrainConfig())
        d_step(g, d, ring_batch(), opt_d, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(D.parameters(), D2.parameters()))


# --------------------------------------------------------------------------- schedule and grid


def test_train_gan_bad_loss_message():
    G, D = tiny_pair()
    with pytest.raises(ValueError, match=re.escape("unknown loss 'wgan'")):
        train_gan(G, D, sample_ring, TrainConfig(steps=1, loss="wgan"), progress=False)


# --------------------------------------------------------------------------- the loop


def test_overfit_a_single_point():
    G, D = tiny_pair()

    def distance() -> float:  # mean distance of samples from fixed noise to the target
        return (G.sample(500, generator=torch.Generator().manual_seed(0)) - TARGET).norm(dim=1).mean().item()

    before = distance()
    config = TrainConfig(steps=200, batch_size=32, lr_g=5e-3, lr_d=5e-3, r1_gamma=3.0, lr_decay="cosine", seed=0)
    history = train_gan(G, D, lambda n, generator: TARGET.expand(n, 2).clone(), config, progress=False)
    after = distance()
    assert history.step == list(range(1, 201))
    assert after < 0.1 and after < 0.1 * before, (before, after)


def test_same_seed_same_history_and_weights():
    runs = []
    for _ in range(2):
        G, D = tiny_pair(seed=2)
        history = train_gan(G, D, sample_ring, TrainConfig(steps=50, batch_size=32, seed=7, r1_gamma=0.3, r1_every=4), progress=False)
        runs.append((history, G, D))
    (h1, G1, D1), (h2, G2, D2) = runs
    assert (h1.step, h1.d_loss, h1.g_loss) == (h2.step, h2.d_loss, h2.g_loss)
    for a, b in zip(list(G1.parameters()) + list(D1.parameters()), list(G2.parameters()) + list(D2.parameters())):
        assert torch.equal(a, b)
    G3, D3 = tiny_pair(seed=2)
    h3 = train_gan(G3, D3, sample_ring, TrainConfig(steps=50, batch_size=32, seed=8, r1_gamma=0.3, r1_every=4), progress=False)
    assert h3.d_loss != h1.d_loss


def test_callbacks_get_every_step_from_one():
    seen = []
    G, D = tiny_pair()
    train_gan(G, D, sample_ring, TrainConfig(steps=5, batch_size=16, r1_gamma=1.0), progress=False,
              callbacks=[lambda step, g, d, logs: seen.append((step, g is G, d is D, sorted(logs)))])
    assert seen == [(s, True, True, ["d_loss", "g_loss", "r1"]) for s in range(1, 6)]


@pytest.mark.parametrize("pack", [1, 2])
def test_snapshots_every_k_steps(pack):
    G, D = tiny_pair(pack=pack)
    z = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    snaps = Snapshots(10, z, make_grid(1.5, 4), transform=lambda x: 3 * x, inverse=lambda x: x / 3)
    history = train_gan(G, D, sample_ring, TrainConfig(steps=30, batch_size=16), callbacks=[snaps], progress=False)
    assert history.snapshots is snaps.records
    assert [r["step"] for r in snaps.records] == [10, 20, 30]
    for record in snaps.records:
        assert set(record) == ({"step", "samples", "d_logits"} if pack == 1 else {"step", "samples"})
        assert record["samples"].shape == (6, 2) and not record["samples"].requires_grad
        if pack == 1:
            assert record["d_logits"].shape == (16,)
    with torch.no_grad():
        torch.testing.assert_close(snaps.records[-1]["samples"], 3 * G(z))  # the last one is the trained G
        if pack == 1:
            torch.testing.assert_close(snaps.records[-1]["d_logits"], D(make_grid(1.5, 4) / 3))


def test_snapshots_every_must_be_positive():
    with pytest.raises(ValueError, match=re.escape("every must be a positive number of steps (got 0)")):
        Snapshots(0, torch.randn(3, 2))


@pytest.mark.parametrize("pack, batch", [(4, 30), (2, 17)])
def test_batch_size_not_a_multiple_of_pack_message(pack, batch):
    G, D = tiny_pair(pack=pack)
    with pytest.raises(ValueError, match=re.escape(f"batch_size {batch} must be a multiple of D's pack={pack}")):
        train_gan(G, D, sample_ring, TrainConfig(steps=1, batch_size=batch), progress=False)


# --------------------------------------------------------------------------- checkpoints


def test_save_and_load_checkpoint_round_trip(tmp_path):
    config = TrainConfig(steps=5, batch_size=16)
    G, D = tiny_pair()
    optimizers = make_optimizers(G, D, config)
    generator = torch.Generator().manual_seed(3)
    train_gan(G, D, sample_ring, config, optimizers=optimizers, generator=generator, progress=False)
    path = tmp_path / "run.pt"
    save_checkpoint(str(path), model="tiny", config=dataclasses.asdict(config), G=G, D=D, optimizers=optimizers,
                    step=5, generator=generator, extra={"note": "hi"})
    ckpt = checkpoints.load_run(str(path))
    assert (ckpt["model"], ckpt["step"], ckpt["extra"]) == ("tiny", 5, {"note": "hi"})
    assert ckpt["config"] == dataclasses.asdict(config)
    assert torch.equal(ckpt["rng"]["generator"], generator.get_state())
    assert ckpt["rng"]["torch"].dtype == torch.uint8

    G2, D2 = tiny_pair(seed=99)
    G2.load_state_dict(ckpt["weights"]["G"])
    D2.load_state_dict(ckpt["weights"]["D"])
    for a, b in zip(list(G.parameters()) + list(D.parameters()), list(G2.parameters()) + list(D2.parameters())):
        assert torch.equal(a, b)
    for name, opt in zip("GD", optimizers):
        saved, live = ckpt["optimizers"][name], opt.state_dict()
        assert saved["param_groups"] == live["param_groups"]
        assert saved["state"].keys() == live["state"].keys()
        for key, state in live["state"].items():
            for field, value in state.items():
                assert torch.equal(saved["state"][key][field], value), (name, key, field)


def test_load_checkpoint_wants_a_training_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    checkpoints.save(path, {"model": "x"})
    with pytest.raises(checkpoints.CheckpointError, match=re.escape(f"{path} is missing config, step, weights: not a course training checkpoint")):
        checkpoints.load_run(str(path))


def test_resumed_run_equals_uninterrupted_run(tmp_path, tiny_recipe):
    whole = models.TrainedGAN(copy.deepcopy(tiny_recipe), name="tiny", seed=3)
    whole.fit(progress=False)

    first = models.TrainedGAN(copy.deepcopy(tiny_recipe), name="tiny", seed=3)
    first.fit(progress=False, stop_at=20)
    assert first.step == 20
    first.save(str(tmp_path / "half.pt"))
    resumed = models.load_model(str(tmp_path / "half.pt"))
    assert resumed.step == 20
    resumed.fit(progress=False)

    assert resumed.step == whole.step == 40
    assert resumed.history.step == list(range(21, 41))
    assert resumed.history.d_loss == whole.history.d_loss[20:]
    assert resumed.history.g_loss == whole.history.g_loss[20:]
    for a, b in zip(list(whole.G.parameters()) + list(whole.D.parameters()), list(resumed.G.parameters()) + list(resumed.D.parameters())):
        assert torch.equal(a, b)
    assert torch.equal(whole.generator.get_state(), resumed.generator.get_state())


def test_history_defaults():
    h = History()
    assert (h.step, h.d_loss, h.g_loss, h.snapshots, h.seconds) == ([], [], [], [], 0.0)


# --------------------------------------------------------------------- conditional (lesson 07)


def conv_pair(num_classes: int = 10, seed: int = 0):
    from genai_course import gan

    torch.manual_seed(seed)
    return (
        gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=8, channels=8, num_classes=num_classes)),
        gan.ConvDiscriminator(gan.ConvDiscriminatorConfig(channels=8, num_classes=num_classes)),
    )


class LabelSpy(torch.nn.Module):
    """Wraps a conditional network and records the labels it is called with."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net, self.calls = net, []
        self.config = net.config
        if hasattr(net, "sample_latent"):
            self.sample_latent, self.sample_labels = net.sample_latent, net.sample_labels

    def forward(self, x, y):
        self.calls.append(y.clone())
        return self.net(x, y)


def test_conditional_d_step_fakes_share_the_real_labels_and_g_is_untouched():
    G, D = conv_pair()
    spy_g, spy_d = LabelSpy(G), LabelSpy(D)
    opt_g, opt_d = make_optimizers(G, D, TrainConfig())
    real, labels = torch.rand(16, 1, 8, 8), torch.arange(16) % 10
    before_g, before_d = params(G), params(D)
    logs = d_step(spy_g, spy_d, real, opt_d, labels=labels, r1_gamma=1.0, generator=torch.Generator().manual_seed(0))
    assert unchanged(before_g, G) and not unchanged(before_d, D)
    assert set(logs) == {"d_loss", "r1"}
    assert torch.equal(spy_g.calls[0], labels)  # fakes drawn for the real batch's classes
    assert torch.equal(spy_d.calls[0], torch.cat([labels, labels]))  # D judges both halves against those classes
    assert all(torch.equal(c, labels) for c in spy_d.calls[1:])  # R1 at the real images with their labels


def test_conditional_g_step_judges_each_fake_against_its_own_label():
    G, D = conv_pair()
    spy_g, spy_d = LabelSpy(G), LabelSpy(D)
    opt_g, _ = make_optimizers(G, D, TrainConfig())
    before_g, before_d = params(G), params(D)
    g_step(spy_g, spy_d, 200, opt_g, generator=torch.Generator().manual_seed(0))
    assert not unchanged(before_g, G) and unchanged(before_d, D)
    (asked,), (judged,) = spy_g.calls, spy_d.calls
    assert torch.equal(asked, judged)
    assert asked.min() >= 0 and asked.max() <= 9 and len(asked.unique()) == 10  # uniform over the classes


def test_conditional_train_gan_runs_from_labelled_batches():
    G, D = conv_pair()
    digits = __import__("genai_course.data", fromlist=["load_digits"]).load_digits()
    history = train_gan(G, D, digits.sample, TrainConfig(steps=5, batch_size=16, r1_gamma=1.0, r1_every=2), progress=False)
    assert history.step == [1, 2, 3, 4, 5] and all(math.isfinite(v) for v in history.d_loss + history.g_loss)


def test_unconditional_networks_refuse_labelled_batches():
    G, D = conv_pair(num_classes=0)
    digits = __import__("genai_course.data", fromlist=["load_digits"]).load_digits()
    with pytest.raises(ValueError, match="this generator is unconditional"):
        train_gan(G, D, digits.sample, TrainConfig(steps=1, batch_size=8), progress=False)


def test_snapshots_sample_in_eval_mode_and_leave_batch_norm_alone():
    G, D = conv_pair()
    G.train()
    stats = [b.clone() for b in G.buffers()]
    snaps = Snapshots(1, torch.randn(20, 8), labels=torch.arange(20) % 10)
    snaps(1, G, D, {})
    assert G.training  # put back in the mode it was in
    assert all(torch.equal(a, b) for a, b in zip(stats, G.buffers()))  # running statistics untouched
    G.eval()
    assert torch.equal(snaps.records[0]["samples"], G(snaps.z, snaps.labels))
    assert snaps.records[0]["samples"].shape == (20, 1, 8, 8) and "d_logits" not in snaps.records[0]


def test_lr_factor_bad_name_message():
    message = re.escape("lr_decay must be 'none', 'linear' or 'cosine' (got 'exponential')")
    with pytest.raises(ValueError, match=message):
        lr_factor(0, TrainConfig(lr_decay="exponential"))
    G, D = tiny_pair()
    with pytest.raises(ValueError, match=message):  # the loop fails before its first step
        train_gan(G, D, sample_ring, TrainConfig(steps=1, lr_decay="exponential"), progress=False)
