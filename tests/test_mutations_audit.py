"""The mutation table of lesson 11, 11.3-11.4 (genai_course.checks.audit): each solution, mutated the ways
learners go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_P = "return sum(math.comb(n, j) for j in range(n + 1) if abs(2 * j - n) >= far) / 2**n"
_FLAGS = "return nearest[:, 0] < alpha * nearest.mean(dim=1)"

ROWS = [
    # 11.3 the two-sided p-value: the one-sided tail, doubled tails, > for >=, an approximation, a tensor where a float is asked
    Mutant("two_sided_p_value", "two_sided_p_value", _P, "return sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n",
           ["that is a one-sided p-value"]),
    Mutant("two_sided_p_value", "two_sided_p_value", _P, "return 2 * sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n",
           ["you doubled the upper tail whatever the count"]),
    Mutant("two_sided_p_value", "two_sided_p_value", _P,
           "return min(1.0, 2 * sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n)",
           ["doubled the upper tail and capped it at 1"]),
    Mutant("two_sided_p_value", "two_sided_p_value", ">= far", "> far", ["the observed count (and its mirror) included"]),
    Mutant("two_sided_p_value", "two_sided_p_value", _P, "return math.comb(n, correct) / 2**n", ["P(X = correct)"]),
    Mutant("two_sided_p_value", "two_sided_p_value", _P, "return math.erfc(abs(correct - n / 2) / math.sqrt(n / 4) / math.sqrt(2))",
           ["the normal approximation, close but not exact"]),
    Mutant("two_sided_p_value", "two_sided_p_value", _P, f"return torch.tensor({_P[len('return '):]})",
           ["should return a Python float, but returned a torch.Tensor", "float32 keeps only about 7 digits"]),
    Mutant("two_sided_p_value", "two_sided_p_value", "/ 2**n", "", ["which is no probability"]),
    # 11.4 the relative rule: <= for <, the wrong direction, the wrong neighbours in the mean, the n-th alone
    Mutant("flag_copies", "flag_copies", "nearest[:, 0] < alpha", "nearest[:, 0] <= alpha", ["equals the threshold exactly is not flagged"]),
    Mutant("flag_copies", "flag_copies", "nearest[:, 0] < alpha", "nearest[:, 0] > alpha", ["does *not* stand out"]),
    Mutant("flag_copies", "flag_copies", "alpha * nearest.mean(dim=1)", "alpha * dist.sort(dim=1).values[:, 1:n + 1].mean(dim=1)",
           ["the nearest one included, not over the n after it"]),
    Mutant("flag_copies", "flag_copies", "values[:, :n]", "values[:, :n + 1]", ["off by one", "n + 1 nearest"]),
    Mutant("flag_copies", "flag_copies", "values[:, :n]", "values", ["not over the whole training set"]),
    Mutant("flag_copies", "flag_copies", "nearest.mean(dim=1)", "nearest[:, -1]", ["the n-th nearest training example alone"]),
    Mutant("flag_copies", "flag_copies", _FLAGS, "return nearest[:, 0] / nearest.mean(dim=1)", ["should be a boolean tensor", "torch.float32"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
