"""genai_course.loop and the device helpers of genai_course.utils: the learning-rate schedule,
plans that cut a batch into micro-batches and processes, bf16 autocast, the device."""

from __future__ import annotations

import math
import re

import pytest
import torch

from genai_course import models, parallel
from genai_course.gan import TrainConfig
from genai_course.loop import Plan, Stream, lr_factor
from genai_course.utils import autocast, get_device


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

        def loss_of(s: Stream) -> tuple[torch.Tensor, dict[str, float]]:
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
