"""The mutation table of lesson 10's sampling (genai_course.checks.denoising, 10.2 and 10.3): each solution,
mutated the ways learners go wrong, is judged failed with a message that names the mistake
(tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_MEAN = "mean = (xt - betas[t] / (1 - alpha_bars[t]).sqrt() * eps) / alphas[t].sqrt()"
_LAST = "    if t == 0:\n        return mean  # the last step adds no noise\n"
_NOISY = "return mean + betas[t].sqrt() * noise"
_BATCH = "both = net(torch.cat([xt, xt]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_label)]))"
_GUIDED = "return eps_cond + w * (eps_cond - eps_uncond)"

ROWS = [
    # 10.2 noise at the last step (t = 0), or missing at t = 1
    Mutant("reverse_step", "reverse_step", _LAST, "", ["noise was added at t = 0", "the mean alone"]),
    Mutant("reverse_step", "reverse_step", "if t == 0:", "if t <= 1:", ["no noise was added at t = 1", "0-based"]),
    # a square root missing on 1 - alpha_bar or on alpha, the variance where the standard deviation belongs
    Mutant("reverse_step", "reverse_step", _MEAN, "mean = (xt - betas[t] / (1 - alpha_bars[t]) * eps) / alphas[t].sqrt()",
           ["you divided by 1 - alpha_bar_t, without the square root"]),
    Mutant("reverse_step", "reverse_step", _MEAN, "mean = (xt - betas[t] / (1 - alpha_bars[t]).sqrt() * eps) / alphas[t]",
           ["the mean is divided by alpha_t, a factor of the variance"]),
    Mutant("reverse_step", "reverse_step", _NOISY, "return mean + betas[t] * noise", ["the noise is scaled by beta_t, the variance"]),
    Mutant("reverse_step", "reverse_step", _MEAN, "mean = (xt - betas[t] / (1 - alpha_bars[t]).sqrt() * eps) / alpha_bars[t].sqrt()",
           ["the mean is divided by sqrt(alpha_bar_t)"]),
    # alpha_bar read at the wrong step
    Mutant("reverse_step", "reverse_step", "(1 - alpha_bars[t])", "(1 - alpha_bars[t - 1])", ["alpha_bar is read at t - 1", "alpha_bars[t]"]),
    Mutant("reverse_step", "reverse_step", "(1 - alpha_bars[t])", "(1 - alpha_bars[max(t - 1, 0)])", ["alpha_bar is read at t - 1"]),
    Mutant("reverse_step", "reverse_step", "(1 - alpha_bars[t])", "(1 - alpha_bars[t + 1])", ["raised IndexError", "read the schedule at t itself"]),
    # flipped signs
    Mutant("reverse_step", "reverse_step", "(xt - betas[t]", "(xt + betas[t]", ["the eps term has the wrong sign"]),
    Mutant("reverse_step", "reverse_step", _NOISY, "return mean - betas[t].sqrt() * noise", ["the noise is subtracted"]),
    # the noise, a placeholder
    Mutant("reverse_step", "reverse_step", _NOISY, "return mean + betas[t].sqrt() * torch.randn_like(xt)",
           ["two calls with the same x_t, eps and noise gave different x_{t-1}"]),
    Mutant("reverse_step", "reverse_step", _LAST + "    " + _NOISY, "    return torch.zeros_like(xt)", ["x_{t-1} is 0 everywhere"]),
    # 10.3 the batch the network gets: two calls, the steps not doubled, the null label hard-coded or missing
    Mutant("guided_eps", "guided_eps", _BATCH, "both = torch.cat([net(xt, t, y), net(xt, t, torch.full_like(y, null_label))])",
           ["net was called 2 times for one guided prediction"]),
    Mutant("guided_eps", "guided_eps", "torch.cat([t, t])", "t", ["net got 6 inputs x but steps t of shape (3,)"]),
    Mutant("guided_eps", "guided_eps", "torch.cat([t, t])", "t.repeat_interleave(2)", ["carries the step", "not in the same order as the inputs"]),
    Mutant("guided_eps", "guided_eps", "torch.full_like(y, null_label)", "torch.full_like(y, 10)", ["'no label' index is the null_label it was given"]),
    Mutant("guided_eps", "guided_eps", "torch.full_like(y, null_label)", "y", ["no row of the batch asks about x_t's example 0 with null_label"]),
    Mutant("guided_eps", "guided_eps", "torch.cat([xt, xt])", "torch.stack([xt, xt])", ["net takes x of shape (N, 2)", "(2, 3, 2)"]),
    # splitting the output the other way round, the other convention, flipped signs, a placeholder
    Mutant("guided_eps", "guided_eps", "eps_cond, eps_uncond = both.chunk(2)", "eps_uncond, eps_cond = both.chunk(2)", ["play each other's part"]),
    Mutant("guided_eps", "guided_eps", "eps_cond, eps_uncond = both.chunk(2)", "eps_cond, eps_uncond = both[0::2], both[1::2]",
           ["not a weighting of that example's two predictions"]),
    Mutant("guided_eps", "guided_eps", _GUIDED, "return eps_uncond + w * (eps_cond - eps_uncond)", ["the other convention", "w = 0"]),
    Mutant("guided_eps", "guided_eps", _GUIDED, "return eps_cond + w * (eps_uncond - eps_cond)", ["towards the unconditional prediction"]),
    Mutant("guided_eps", "guided_eps", _GUIDED, "return (1 + w) * eps_cond + w * eps_uncond", ["add up to 3, not 1"]),
    Mutant("guided_eps", "guided_eps", _GUIDED, "return eps_cond - w * eps_uncond", ["add up to 0, not 1"]),
    Mutant("guided_eps", "guided_eps", _GUIDED, "return torch.zeros_like(xt)", ["the guided prediction is 0 everywhere"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
