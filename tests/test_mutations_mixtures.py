"""The mutation table of lesson 01 (genai_course.checks.mixtures): each solution, mutated the ways learners go wrong, is judged
failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

ROWS = [
    # 1.1, 1.2: the ring with unequal weights, sampled and its log density
    Mutant("sample_ring8", "sample_ring8", ", generator=generator)  # (n,)", ")  # (n,)", ["generators seeded alike gave different points"]),
    Mutant("sample_ring8", "sample_ring8", "torch.multinomial(weights, n, replacement=True, generator=generator)", "torch.randint(8, (n,), generator=generator)",
           ["about 1/8 of the points whatever the weights"]),
    Mutant("sample_ring8", "sample_ring8", "replacement=True", "replacement=False", ["one mode can be picked many times"]),
    Mutant("sample_ring8", "sample_ring8", "[angles.cos(), angles.sin()]", "[angles.sin(), angles.cos()]", ["on the wrong modes"]),
    Mutant("sample_ring8", "sample_ring8", "return means[k] + 0.01 * noise", "return means[k] + noise", ["within 3 std (0.03) of a mode"]),
    Mutant("mixture_log_prob", "mixture_log_prob", "torch.logsumexp(weights.log() - d2 / (2 * std**2), dim=1)",
           "torch.logsumexp(-d2 / (2 * std**2), dim=1) - math.log(len(means))", ["those of the equal-weight mixture"]),
    Mutant("mixture_log_prob", "mixture_log_prob", " - math.log(2 * math.pi * std**2)", "", ["off by the same amount"]),
    Mutant("mixture_log_prob", "mixture_log_prob", "torch.logsumexp(weights.log() - d2 / (2 * std**2), dim=1)",
           "torch.log((weights * torch.exp(-d2 / (2 * std**2))).sum(1))", ["NaN or infinite", "underflows to 0"]),
    Mutant("mixture_log_prob", "mixture_log_prob", "return torch.logsumexp(weights.log() - d2 / (2 * std**2), dim=1) - math.log(2 * math.pi * std**2)",
           "return (torch.logsumexp(weights.log() - d2 / (2 * std**2), dim=1) - math.log(2 * math.pi * std**2)).exp()", ["returned the density itself"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
