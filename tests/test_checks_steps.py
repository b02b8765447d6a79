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


def slope(D, x):
    """(D's logits at x, D's slope at x (B, 2) with its graph kept)."""
    logits = D(x)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return logits, grad


# --------------------------------------------------------------------------- reference solutions


def r1_d_step(G, D, real, opt_d, gamma, *, detach=True, penalty_of=None, loss_of=None, graph=True, track=True):
    """The R1 discriminator step; the keywords make the typical mistakes below."""
    fake = G(torch.randn(real.shape[0], 2))
    fake = fake.detach() if detach else fake
    x = real.detach().requires_grad_(True) if track else real
    real_logits = D(x)
    (grad,) = torch.autograd.grad(real_logits.sum(), x, create_graph=graph)
    penalty = (penalty_of or (lambda g: g.pow(2).sum(dim=1).mean()))(grad)
    loss = (loss_of or discriminator_loss)(real_logits, D(fake)) + gamma / 2 * penalty
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()


def d_step(G, D, real, opt_d, gamma):
    return r1_d_step(G, D, real, opt_d, gamma)


def d_step_two_passes_and_bce(G, D, real, opt_d, gamma):
    """Another right answer: the penalty from its own forward pass, the loss as binary cross-entropy with logits."""
    fake = G(torch.randn(real.shape[0], 2)).detach()
    _, grad = slope(D, real.clone().requires_grad_(True))
    real_logits, fake_logits = D(real), D(fake)
    loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            + 0.5 * gamma * (grad.norm(dim=1) ** 2).mean())
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return loss.item()


def g_step(G, D, batch_size, opt_g):
    D.requires_grad_(False)
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    D.requires_grad_(True)
    return loss.item()


def g_step_by_autograd_grad(G, D, batch_size, opt_g):
    """Another right answer: ask autograd for G's gradients only, and hand them to G's optimizer."""
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    params = list(G.parameters())
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = g
    opt_g.step()
    return loss.item()


def g_step_parameter_by_parameter(G, D, batch_size, opt_g):
    for p in D.parameters():
        p.requires_grad = False
    try:
        loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
    finally:
        for p in D.parameters():
            p.requires_grad = True
    return loss.item()


def train_loop(G, D, sample_real, steps, opt_g, opt_d, gamma, d_steps, *, g_first=False, one_batch=False, batch=128, k=None,
               g_every_d=False, pair=lambda d, g: (d, g), d_fn=d_step, g_fn=g_step):
    """The loop; the keywords make the typical mistakes below."""
    history = []
    for _ in range(steps):
        g_loss = g_fn(G, D, batch, opt_g) if g_first else None
        real = sample_real(batch) if one_batch else None
        for _ in range(d_steps if k is None else k):
            d_loss = d_fn(G, D, real if one_batch else sample_real(batch), opt_d, gamma)
            if g_every_d:
                g_loss = g_fn(G, D, batch, opt_g)
        g_loss = g_loss if g_first or g_every_d else g_fn(G, D, batch, opt_g)
        history.append(pair(d_loss, g_loss))
    return history


def train_loop_counting_d_steps(G, D, sample_real, steps, opt_g, opt_d, gamma, d_steps):
    """Another right answer: one loop over all D steps, a G step after every d_steps-th."""
    history = []
    for i in range(steps * d_steps):
        d_loss = d_step(G, D, sample_real(128), opt_d, gamma)
        if (i + 1) % d_steps == 0:
            history.append((d_loss, g_step(G, D, 128, opt_g)))
    return history


CORRECT = {
    "d_step": [d_step, d_step_two_passes_and_bce],
    "g_step": [g_step, g_step_by_autograd_grad, g_step_parameter_by_parameter],
    "train_loop": [train_loop, train_loop_counting_d_steps],
}


# --------------------------------------------------------------------------- typical mistakes


def d_step_never_zeroing(G, D, real, opt_d, gamma):
    x = real.detach().requires_grad_(True)
    logits, grad = slope(D, x)
    loss = discriminator_loss(logits, D(G(torch.randn(real.shape[0], 2)).detach())) + gamma / 2 * grad.pow(2).sum(1).mean()
    loss.backward()
    opt_d.step()
    return loss.item()


def d_step_penalty_at_the_fakes(G, D, real, opt_d, gamma):
    fake = G(torch.randn(real.shape[0], 2)).detach()
    _, grad = slope(D, fake.clone().requires_grad_(True))
    loss = discriminator_loss(D(real), D(fake)) + gamma / 2 * grad.pow(2).sum(1).mean()
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()


def d_step_penalty_without_its_graph(G, D, real, opt_d, gamma):
    fake = G(torch.randn(real.shape[0], 2)).detach()
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x)  # a constant to backward(): no graph back to D's weights
    loss = discriminator_loss(D(real), D(fake)) + gamma / 2 * grad.pow(2).sum(1).mean()
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()


def d_step_returning_the_loss_alone(G, D, real, opt_d, gamma):
    x = real.detach().requires_grad_(True)
    logits, grad = slope(D, x)
    loss = discriminator_loss(logits, D(G(torch.randn(real.shape[0], 2)).detach()))
    opt_d.zero_grad()
    (loss + gamma / 2 * grad.pow(2).sum(1).mean()).backward()
    opt_d.step()
    return loss.item()


def one_mean_over_both(real_logits, fake_logits):
    logits = torch.cat([real_logits, fake_logits])
    labels = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])
    return F.binary_cross_entropy_with_logits(logits, labels)


def g_step_like_the_library(G, D, batch_size, opt_g):
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss.item()


def g_step_leaving_d_frozen(G, D, batch_size, opt_g):
    D.requires_grad_(False)
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss.item()


def g_step_under_no_grad(G, D, batch_size, opt_g):
    fake = G(torch.randn(batch_size, 2))
    with torch.no_grad():
        logits = D(fake)
    loss = nonsaturating_g_loss(logits)
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss.item()


def g_step_never_zeroing(G, D, batch_size, opt_g):
    D.requires_grad_(False)
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    loss.backward()
    opt_g.step()
    D.requires_grad_(True)
    return loss.item()


def g_step_with_detached_fakes(G, D, batch_size, opt_g):
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2)).detach()))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss.item()


def g_step_freezing_g(G, D, batch_size, opt_g):
    G.requires_grad_(False)
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    loss.backward()
    return loss.item()


def g_step_also_stepping_d(G, D, batch_size, opt_g):
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    torch.optim.SGD(D.parameters(), lr=0.1).step()  # D's gradients from G's loss get applied too
    return loss.item()


def g_step_never_stepping(G, D, batch_size, opt_g):
    D.requires_grad_(False)
    loss = nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    opt_g.zero_grad()
    loss.backward()
    D.requires_grad_(True)
    return loss.item()


def g_step_flipped(G, D, batch_size, opt_g):
    D.requires_grad_(False)
    loss = -nonsaturating_g_loss(D(G(torch.randn(batch_size, 2))))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    D.requires_grad_(True)
    return loss.item()


def train_loop_total_steps(G, D, sample_real, steps, opt_g, opt_d, gamma, d_steps):
    """steps read as the number of D steps: a G step after every d_steps-th of them."""
    return train_loop(G, D, sample_real, steps // d_steps, opt_g, opt_d, gamma, d_steps)


def loop(**mistake):
    return lambda G, D, s, n, og, od, gamma, k: train_loop(G, D, s, n, og, od, gamma, k, **mistake)


def penalty_summed(grad):
    return grad.pow(2).sum()


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, gamma, detach=False), ["gradients reached G", "fixed data"]),
    ("d_step", d_step_penalty_without_its_graph, ["the penalty added nothing to D's gradient", "carry a graph back to D's weights"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, gamma, graph=False),
     ["raised RuntimeError", "the slope must keep its graph"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, -gamma), ["steeper at the real data", "sign"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, 2 * gamma), ["twice what it should", "gamma / 2, not gamma"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, gamma, penalty_of=lambda g: g.pow(2).mean()),
     ["half what it should", "summed over its two coordinates"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, gamma, penalty_of=penalty_summed),
     ["the penalty is 64 times too large", "sum over the batch"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, gamma, penalty_of=lambda g: g.norm(dim=1).mean()),
     ["the length of D's slope", "its square"]),
    ("d_step", d_step_penalty_at_the_fakes, ["measured at the fakes"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, gamma, loss_of=lambda r, f: -discriminator_loss(r, f)),
     ["climbed its own loss", "sign"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, gamma, loss_of=one_mean_over_both),
     ["half of D's loss", "one mean over all 2B logits"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, 4.0), ["the same way with gamma=4 and gamma=12", "use the gamma"]),
    ("d_step", lambda G, D, real, opt_d, gamma: r1_d_step(G, D, real, opt_d, gamma, track=False),
     ["raised RuntimeError", "an input it tracks"]),
    ("d_step", d_step_never_zeroing, ["D's step followed gradients left over in .grad from an earlier step"]),
    ("d_step", d_step_returning_the_loss_alone, ["without the penalty"]),
    ("d_step", lambda G, D, real, opt_d, gamma: torch.tensor(d_step(G, D, real, opt_d, gamma)), ["as a Python float (use .item())", "got Tensor"]),
    ("d_step", lambda G, D, real, opt_d, gamma: discriminator_loss(D(real), D(G(torch.randn(64, 2)).detach())).item(), ["D's weights did not change"]),
    ("g_step", g_step_like_the_library, ["computed a gradient for D's weights", "work nothing uses"]),
    ("g_step", g_step_leaving_d_frozen, ["D's weights no longer take gradients", "D's own next step could not learn"]),
    ("g_step", g_step_under_no_grad, ["raised RuntimeError", "must still let the gradient flow through D into G"]),
    ("g_step", g_step_with_detached_fakes, ["no gradient reached G's weights", "was cut"]),
    ("g_step", g_step_freezing_g, ["G's weights no longer take gradients"]),
    ("g_step", g_step_also_stepping_d, ["D's weights changed during the generator's step"]),
    ("g_step", g_step_never_stepping, ["G's gradient was computed, but opt_g never stepped"]),
    ("g_step", g_step_flipped, ["the loss's sign"]),
    ("train_loop", loop(k=1), ["with steps=4 and d_steps=3, your loop took 1 D step before each G step"]),
    ("train_loop", loop(k=3), ["with steps=300 and d_steps=2, your loop took 3 D steps before each G step"]),
    ("train_loop", train_loop_total_steps, ["took 1 G step:", "`steps` counts G's updates"]),
    ("train_loop", loop(g_every_d=True), ["took 12 G steps"]),
    ("train_loop", loop(g_first=True), ["a G step before any D step"]),
    ("train_loop", loop(one_batch=True), ["drew 4 real batches for its 12 D steps", "fresh batch"]),
    ("train_loop", loop(batch=64), ["asked sample_real for [64] examples", "batch of 128"]),
    ("train_loop", loop(g_fn=lambda G, D, n, opt_g: nonsaturating_g_loss(D(G(torch.randn(n, 2)))).item()),  # computed, never applied
     ["never stepped opt_g"]),
    ("train_loop", loop(d_fn=lambda G, D, real, opt_d, gamma: discriminator_loss(D(real), D(G(torch.randn(128, 2)).detach())).item()),
     ["never stepped opt_d"]),
    ("train_loop", lambda *args: train_loop(*args)[:-1], ["a list of 300, got list of 299"]),
    ("train_loop", loop(pair=lambda d, g: (g, d)), ["wrong way round"]),
    ("train_loop", loop(pair=lambda d, g: (0.0, 0.0)), ["never change"]),
    ("train_loop", loop(d_fn=d_step_never_zeroing), ["the first D step of your loop followed gradients left over", "how d_step treats"]),
    ("train_loop", loop(g_fn=g_step_never_zeroing), ["the first G step of your loop followed gradients left over", "how g_step treats"]),
]


def test_the_checks_are_registered():
    assert_registered(step_checks, {
        "d_step": "Exercise 5.1 (a discriminator step with the R1 penalty)",
        "g_step": "Exercise 5.2 (a generator step that spares D's weights)",
        "train_loop": "Exercise 5.3 (several D steps per G step)",
    })


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
