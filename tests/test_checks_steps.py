"""genai_course.checks.steps (lesson 05): correct steps and loops pass, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genai_course.checks import steps as step_checks

from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests


def discriminator_loss(real_logits, fake_logits):
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits):
    return F.softplus(-fake_logits).mean()


# --------------------------------------------------------------------------- reference solutions


def d_step(G, D, real, opt_d):
    fake = G(torch.randn(real.shape[0], 2)).detach()
    loss = discriminator_loss(D(real), D(fake))
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()


def g_step(G, D, batch_size, opt_g):
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss.item()


def train_loop(G, D, sample_real, steps, opt_g, opt_d):
    return [(d_step(G, D, sample_real(64), opt_d), g_step(G, D, 64, opt_g)) for _ in range(steps)]


CORRECT = {"d_step": [d_step], "g_step": [g_step], "train_loop": [train_loop]}


# --------------------------------------------------------------------------- typical mistakes


def d_step_without_detach(G, D, real, opt_d):
    fake = G(torch.randn(real.shape[0], 2))
    loss = discriminator_loss(D(real), D(fake))
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()


def d_step_ascending(G, D, real, opt_d):
    fake = G(torch.randn(real.shape[0], 2)).detach()
    loss = -discriminator_loss(D(real), D(fake))
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()


def g_step_also_stepping_d(G, D, batch_size, opt_g):
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    torch.optim.SGD(D.parameters(), lr=0.1).step()  # D's gradients from G's loss get applied too
    return loss.item()


def g_step_with_detached_fakes(G, D, batch_size, opt_g):
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2)).detach()))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss.item()


def g_step_flipped(G, D, batch_size, opt_g):
    loss = -nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss.item()


def train_loop_never_stepping_g(G, D, sample_real, steps, opt_g, opt_d):
    history = []
    for _ in range(steps):
        d_loss = d_step(G, D, sample_real(64), opt_d)
        g_loss = nonsaturating_g_loss(D(G(torch.randn(64, 2)))).item()  # computed, never applied
        history.append((d_loss, g_loss))
    return history


def train_loop_never_stepping_d(G, D, sample_real, steps, opt_g, opt_d):
    history = []
    for _ in range(steps):
        d_loss = discriminator_loss(D(sample_real(64)), D(G(torch.randn(64, 2)).detach())).item()  # never applied
        history.append((d_loss, g_step(G, D, 64, opt_g)))
    return history


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("d_step", d_step_without_detach, ["gradients reached G", "detach"]),
    ("d_step", d_step_ascending, ["raised D's binary cross-entropy", "not maximise it"]),
    ("d_step", lambda G, D, real, opt_d: torch.tensor(d_step(G, D, real, opt_d)), ["as a Python float (use .item())", "got Tensor"]),
    ("d_step", lambda G, D, real, opt_d: discriminator_loss(D(real), D(G(torch.randn(64, 2)).detach())).item(), ["D's weights did not change"]),
    ("g_step", g_step_also_stepping_d, ["D's weights changed during the generator's step"]),
    ("g_step", g_step_with_detached_fakes, ["G's weights did not change", "do not detach the fakes"]),
    ("g_step", g_step_flipped, ["the loss's sign"]),
    ("train_loop", train_loop_never_stepping_g, ["G's weights never changed in 600 steps", "call g_step"]),
    ("train_loop", train_loop_never_stepping_d, ["D's weights never changed in 600 steps", "call d_step"]),
    ("train_loop", lambda G, D, s, n, og, od: train_loop(G, D, s, n, og, od)[:-1], ["a list of 600, got list of 599"]),
]


def test_the_checks_are_registered():
    assert_registered(step_checks, {
        "d_step": "Exercise 5.1 (a discriminator step)",
        "g_step": "Exercise 5.2 (a generator step)",
        "train_loop": "Exercise 5.3 (the training loop)",
    })


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
