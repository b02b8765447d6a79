"""genai_course.train: each step touches only its own network, the schedule, the loop, checkpoints."""

from __future__ import annotations

import copy
import dataclasses
import math
import re

import pytest
import torch

from genai_course import checkpoints, models
from genai_course.gan import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from genai_course.train import (
    History,
    Snapshots,
    TrainConfig,
    d_step,
    g_step,
    load_checkpoint,
    lr_factor,
    make_grid,
    make_optimizers,
    save_checkpoint,
    train_gan,
)

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


@pytest.mark.parametrize(
    "decay, final, step, expected",
    [
        ("none", 0.0, 0, 1.0),
        ("none", 0.0, 50, 1.0),
        ("none", 0.0, 100, 1.0),
        ("linear", 0.0, 0, 1.0),
        ("linear", 0.0, 50, 0.5),
        ("linear", 0.0, 100, 0.0),
        ("linear", 0.1, 50, 0.55),
        ("linear", 0.1, 100, 0.1),
        ("linear", 0.1, 150, 0.1),  # past the end: stays at the final rate
        ("cosine", 0.0, 0, 1.0),
        ("cosine", 0.0, 25, 0.5 * (1 + math.cos(math.pi / 4))),
        ("cosine", 0.0, 50, 0.5),
        ("cosine", 0.0, 100, 0.0),
        ("cosine", 0.2, 50, 0.6),
        ("cosine", 0.2, 100, 0.2),
    ],
)
def test_lr_factor(decay, final, step, expected):
    assert lr_factor(step, TrainConfig(steps=100, lr_decay=decay, lr_final=final)) == pytest.approx(expected, abs=1e-12)


def test_lr_factor_bad_name_message():
    message = re.escape("lr_decay must be 'none', 'linear' or 'cosine' (got 'exponential')")
    with pytest.raises(ValueError, match=message):
        lr_factor(0, TrainConfig(lr_decay="exponential"))
    G, D = tiny_pair()
    with pytest.raises(ValueError, match=message):  # the loop fails before its first step
        train_gan(G, D, sample_ring, TrainConfig(steps=1, lr_decay="exponential"), progress=False)


def test_train_gan_bad_loss_message():
    G, D = tiny_pair()
    with pytest.raises(ValueError, match=re.escape("unknown loss 'wgan'")):
        train_gan(G, D, sample_ring, TrainConfig(steps=1, loss="wgan"), progress=False)


def test_make_grid_rows_are_y_columns_are_x():
    R = 5
    grid = make_grid(2.0, R)
    assert grid.shape == (R * R, 2)
    ticks = torch.linspace(-2.0, 2.0, R)
    image = (grid[:, 0] + 10 * grid[:, 1]).reshape(R, R)  # a value that tells x from y
    for iy in range(R):
        for ix in range(R):
            assert image[iy, ix].item() == pytest.approx(ticks[ix].item() + 10 * ticks[iy].item())
    assert grid[0].tolist() == [-2.0, -2.0] and grid[1].tolist() == [-1.0, -2.0] and grid[-1].tolist() == [2.0, 2.0]


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
    ckpt = load_checkpoint(str(path))
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
        load_checkpoint(str(path))


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


# ------------------------------------------------------------------ scaling (lesson 12): Plan, devices, precision

from genai_course import parallel, train  # noqa: E402
from genai_course.train import Plan, autocast, get_device  # noqa: E402


def test_get_device_is_the_cpu_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_device() == get_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device("auto").type in ("cpu", "mps")
    with pytest.raises(ValueError, match="device 'cuda' asked for, but this machine has no CUDA GPU"):
        get_device("cuda")
    with pytest.raises(ValueError, match=r"device must be None, 'cpu', 'auto', 'cuda' \(or 'cuda:N'\) or 'mps' \(got 'gpu'\)"):
        get_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device("auto") == torch.device("cuda") and get_device("cuda:1") == torch.device("cuda:1")


def test_models_are_built_on_the_device_asked_for() -> None:
    model = models.build("vae-digits", device="cpu")
    assert model.device == torch.device("cpu") and {p.device for p in model.vae.parameters()} == {torch.device("cpu")}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            models.build("gan-ring8", device="cuda")


def test_bf16_autocast_computes_in_bfloat16_and_keeps_float32_weights() -> None:
    layer = torch.nn.Linear(4, 3)
    with autocast("cpu", "bf16"):
        out = layer(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32
    with autocast("cpu", "fp32"):
        assert layer(torch.randn(2, 4)).dtype == torch.float32
    with pytest.raises(ValueError, match=r"precision must be one of fp32, bf16 \(got 'fp16'\)"):
        autocast("cpu", "fp16")


def test_bf16_training_learns() -> None:
    plain = models.train_model("vae-digits", steps=150, progress=False)
    bf16 = models.train_model("vae-digits", steps=150, progress=False, plan=Plan(precision="bf16"))
    untrained = models.build("vae-digits").evaluate(draws=2, k=10).neg_elbo
    a, b = plain.evaluate(draws=2, k=10).neg_elbo, bf16.evaluate(draws=2, k=10).neg_elbo
    assert b < untrained - 5 and abs(a - b) < 1.0  # it trains, and as well as float32
    assert not torch.equal(parallel.flat_parameters(plain), parallel.flat_parameters(bf16))  # it really ran in bf16


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"accumulate": 0}, "accumulate must be a whole number >= 1 (got 0)"),
        ({"world": 2, "rank": 2}, "rank must lie in 0..1 for world=2 (got 2)"),
        ({"precision": "fp8"}, "precision must be one of fp32, bf16 (got 'fp8')"),
    ],
)
def test_plan_refuses_impossible_layouts(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Plan(**kwargs)


def test_micro_batch_says_what_divides() -> None:
    assert Plan(accumulate=2, world=2).micro_batch(256) == 64
    with pytest.raises(ValueError, match=re.escape("batch_size 100 cannot be cut into 2 process(es) x 4 micro-batch(es): it must be a multiple of 8")):
        Plan(accumulate=4, world=2).micro_batch(100)
    with pytest.raises(ValueError, match=re.escape("a multiple of 16 (each share a multiple of D's pack=4)")):
        Plan(accumulate=2, world=2).micro_batch(72, multiple=4)


def test_accumulated_gradient_is_the_full_batch_gradient() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 1))
    x, y = torch.randn(24, 5), torch.randn(24, 1)
    torch.nn.functional.mse_loss(net(x), y).backward()
    full = [p.grad.clone() for p in net.parameters()]
    for k in (1, 2, 3, 4):
        plan = Plan(accumulate=k)
        streams = plan.make_streams(0, torch.Generator().manual_seed(0), plan.micro_batch(24))
        net.zero_grad()

        def loss_of(s: train.Stream) -> tuple[torch.Tensor, dict[str, float]]:
            loss = torch.nn.functional.mse_loss(net(x.chunk(s.count)[s.index]), y.chunk(s.count)[s.index])
            return loss, {"loss": loss.item()}

        logs = plan.accumulate_grads(net, torch.device("cpu"), streams, loss_of)
        assert all(torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(net.parameters(), full)), k  # not k times too big
        assert logs["loss"] == pytest.approx(torch.nn.functional.mse_loss(net(x), y).item(), rel=1e-5)


def test_streams_are_the_same_however_the_micro_batches_are_spread() -> None:
    """Stream s draws the same numbers whether it is micro-batch s of one process or of another rank."""
    def draws(plan: Plan) -> dict[int, float]:
        streams = plan.make_streams(7, torch.Generator().manual_seed(7), 8)
        out = {}
        for s in streams:
            with s.active():  # its own copy of torch's global random state, for dropout
                out[s.index] = (torch.rand(1, generator=s.generator).item(), torch.rand(1).item())
        return out

    torch.manual_seed(123)
    one = draws(Plan(accumulate=4))
    torch.manual_seed(123)
    spread = {**draws(Plan(accumulate=2, world=2, rank=0)), **draws(Plan(accumulate=2, world=2, rank=1))}
    assert one == spread and len(set(one.values())) == 4
    outside = torch.get_rng_state()
    draws(Plan(accumulate=2))
    assert torch.equal(outside, torch.get_rng_state())  # the streams leave the process's own random state alone


def test_accumulating_run_resumes_exactly_from_its_checkpoint(tmp_path) -> None:
    whole = models.train_model("ddpm-ring8", steps=20, progress=False, plan=Plan(accumulate=2))
    part = models.build("ddpm-ring8")
    part.fit(steps=20, stop_at=10, progress=False, plan=Plan(accumulate=2))
    part.save(str(tmp_path / "part.pt"))
    resumed = models.load_model(str(tmp_path / "part.pt"))
    assert resumed.plan.accumulate == 2 and resumed.step == 10
    resumed.fit(steps=20, progress=False)
    assert torch.equal(parallel.flat_parameters(whole), parallel.flat_parameters(resumed))
    fresh_streams = models.load_model(str(tmp_path / "part.pt"))
    fresh_streams.plan = Plan(accumulate=2)  # the streams start again from the seed: another run
    fresh_streams.fit(steps=20, progress=False)
    assert not torch.equal(parallel.flat_parameters(whole), parallel.flat_parameters(fresh_streams))
