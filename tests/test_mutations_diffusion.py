"""The mutation table of lesson 10's forward process (genai_course.checks.diffusion, 10.1): the solution,
mutated the ways learners go wrong, is judged failed with a message that names the mistake
(tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_RETURN = "return abar.sqrt() * x0 + (1 - abar).sqrt() * noise"
_INDEX = "alpha_bars[t].view("

ROWS = [
    # a square root missing on alpha_bar, on 1 - alpha_bar, or on both
    Mutant("q_sample", "q_sample", _RETURN, "return abar * x0 + (1 - abar).sqrt() * noise", ["alpha_bar_t is not square-rooted"]),
    Mutant("q_sample", "q_sample", _RETURN, "return abar.sqrt() * x0 + (1 - abar) * noise", ["a variance where a standard deviation belongs"]),
    Mutant("q_sample", "q_sample", _RETURN, "return abar * x0 + (1 - abar) * noise", ["neither coefficient is square-rooted"]),
    Mutant("q_sample", "q_sample", _RETURN, "return abar.sqrt() * x0 + (1 - abar.sqrt()) * noise", ["before subtracting it from 1"]),
    # alpha_bar read at the wrong step
    Mutant("q_sample", "q_sample", _INDEX, "alpha_bars[t - 1].view(", ["off by one: you used alpha_bars[t - 1]", "0-based"]),
    Mutant("q_sample", "q_sample", _INDEX, "alpha_bars[(t - 1).clamp(min=0)].view(", ["off by one: you used alpha_bars[t - 1]"]),
    Mutant("q_sample", "q_sample", _INDEX, "alpha_bars[t + 1].view(", ["raised IndexError", "index alpha_bars with t itself"]),
    Mutant("q_sample", "q_sample", _INDEX, "alpha_bars[(t + 1).clamp(max=len(alpha_bars) - 1)].view(", ["off by one: you used alpha_bars[t + 1]"]),
    Mutant("q_sample", "q_sample", _INDEX, "torch.cumprod(alpha_bars, 0)[t].view(", ["without another torch.cumprod"]),
    # a flipped sign, swapped coefficients
    Mutant("q_sample", "q_sample", _RETURN, "return abar.sqrt() * x0 - (1 - abar).sqrt() * noise", ["the noise is subtracted"]),
    Mutant("q_sample", "q_sample", _RETURN, "return (1 - abar).sqrt() * x0 + abar.sqrt() * noise", ["the coefficients are swapped"]),
    # the shape of alpha_bars[t], the noise, a placeholder
    Mutant("q_sample", "q_sample", "alpha_bars[t].view(-1, *[1] * (x0.dim() - 1))", "alpha_bars[t]",
           ["raised RuntimeError", "one whole example of x0"]),
    Mutant("q_sample", "q_sample", "alpha_bars[t].view(-1, *[1] * (x0.dim() - 1))", "alpha_bars[t][:, None]", ["lined up with x0's last dims"]),
    Mutant("q_sample", "q_sample", _RETURN, "return abar.sqrt() * x0 + (1 - abar).sqrt() * torch.randn_like(x0)",
           ["two calls with the same x0, t and noise gave different x_t", "torch.randn_like"]),
    Mutant("q_sample", "q_sample", _RETURN, "return torch.zeros_like(x0)", ["x_t is 0 everywhere"]),
    Mutant("q_sample", "q_sample", _RETURN, "return (abar.sqrt() * x0 + (1 - abar).sqrt() * noise).double()", ["should have dtype torch.float32"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
