"""The mutation table of lesson 11, 11.3-11.4 (genai_course.checks.audit): each solution, mutated the ways
learners go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_P = "return sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n"
_FLAGS = "return sample_dist < torch.quantile(heldout_dist, quantile)"

ROWS = [
    # 11.3 the exact p-value: > for >=, two-sided, the wrong tail, the sum cut short, a tensor where a float is asked
    Mutant("binomial_p_value", "binomial_p_value", "range(correct, n + 1)", "range(correct + 1, n + 1)",
           ["P(X > correct)", "counts the observed result too"]),
    Mutant("binomial_p_value", "binomial_p_value", "return sum(", "return 2 * sum(", ["two-sided", "one-sided P(X >= correct)"]),
    Mutant("binomial_p_value", "binomial_p_value", _P, "return min(1.0, 2 * sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n)",
           ["two-sided"]),
    Mutant("binomial_p_value", "binomial_p_value", "range(correct, n + 1)", "range(0, correct + 1)", ["the wrong tail, P(X <= correct)"]),
    Mutant("binomial_p_value", "binomial_p_value", "range(correct, n + 1)", "range(correct, n)", ["the sum stops at j = n - 1"]),
    Mutant("binomial_p_value", "binomial_p_value", _P, "return math.comb(n, correct) / 2**n", ["P(X = correct), the chance of exactly that many"]),
    Mutant("binomial_p_value", "binomial_p_value", _P, f"return torch.tensor({_P[len('return '):]})",
           ["should return a Python float, but returned a torch.Tensor", "float32 keeps only about 7 digits"]),
    Mutant("binomial_p_value", "binomial_p_value", _P, f"return torch.tensor({_P[len('return '):]}, dtype=torch.float64)",
           ["should return a Python float, but returned a torch.Tensor of dtype torch.float64", ".item()"]),
    Mutant("binomial_p_value", "binomial_p_value", _P, "return 0.5 * math.erfc((correct - n / 2) / math.sqrt(n / 4) / math.sqrt(2))",
           ["the normal approximation, close but not exact"]),
    Mutant("binomial_p_value", "binomial_p_value", "/ 2**n", "/ 2 * n", ["which is no probability"]),
    # 11.4 flagging possible copies: <= for <, the wrong direction, the quantile of the wrong set or the wrong share
    Mutant("flag_copies", "flag_copies", "sample_dist < torch", "sample_dist <= torch", ["a sample exactly at the threshold is not flagged"]),
    Mutant("flag_copies", "flag_copies", "sample_dist < torch", "sample_dist > torch", ["you flagged the samples *farther* than the threshold"]),
    Mutant("flag_copies", "flag_copies", "torch.quantile(heldout_dist,", "torch.quantile(sample_dist,",
           ["the threshold comes from the held-out distances", "not from the samples' own"]),
    Mutant("flag_copies", "flag_copies", "torch.quantile(heldout_dist,", "torch.quantile(torch.cat([sample_dist, heldout_dist]),",
           ["the threshold comes from the held-out distances alone", "mixing in the samples"]),
    Mutant("flag_copies", "flag_copies", ", quantile)", ", 1 - quantile)", ["you took the (1 - quantile) quantile"]),
    Mutant("flag_copies", "flag_copies", ", quantile)", ", 100 * quantile)", ["raised RuntimeError", "quantile is a share, 0.01 for 1%"]),
    Mutant("flag_copies", "flag_copies", "torch.quantile(heldout_dist, quantile)", "heldout_dist.sort().values[int(quantile * len(heldout_dist))]",
           ["not the quantile torch.quantile computes"]),
    Mutant("flag_copies", "flag_copies", _FLAGS, f"return ({_FLAGS[len('return '):]}).float().mean()", ["not the share of flagged samples"]),
    Mutant("flag_copies", "flag_copies", _FLAGS, f"return ({_FLAGS[len('return '):]}).float()", ["should be a boolean tensor", "torch.float32"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
