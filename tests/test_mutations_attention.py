"""The mutation table of lesson 09's causal attention (genai_course.checks.attention, 9.3): the solution,
mutated the ways learners go wrong, is judged failed with a message that names the mistake
(tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_MASK = "torch.tril(torch.ones(T, T, dtype=torch.bool, device=q.device))"
_SCORES = "scores = q @ k.transpose(-2, -1) / d**0.5"
_FILL = 'scores = scores.masked_fill(~visible, float("-inf"))'
_RETURN = "return scores.softmax(dim=-1) @ v"

ROWS = [
    # the mask: none, the wrong triangle, off by one either way, filled with 0, applied after the softmax
    Mutant("causal_attention", "causal_attention", _FILL, "scores = scores", ["there is no mask", "the future leaks in"]),
    Mutant("causal_attention", "causal_attention", _MASK, _MASK.replace("tril", "triu"), ["the wrong triangle is masked", "and not the past"]),
    Mutant("causal_attention", "causal_attention", _MASK, _MASK[:-1] + ", diagonal=1)", ["the mask is off by one", "position i also sees position i + 1"]),
    Mutant("causal_attention", "causal_attention", _MASK, _MASK[:-1] + ", diagonal=-1)", ["position 0's output is NaN", "every position must see itself"]),
    Mutant("causal_attention", "causal_attention", 'float("-inf")', "0.0", ["set to 0, which still has weight exp(0)"]),
    Mutant("causal_attention", "causal_attention", _FILL + "  # no peeking at later characters\n    " + _RETURN,
           "return scores.softmax(dim=-1).masked_fill(~visible, 0.0) @ v", ["the mask was applied after the softmax", "no longer sum to 1"]),
    # the scale: missing, d instead of sqrt(d), after the softmax
    Mutant("causal_attention", "causal_attention", _SCORES, "scores = q @ k.transpose(-2, -1)", ["the scores are not scaled", "sqrt(d)"]),
    Mutant("causal_attention", "causal_attention", _SCORES, "scores = q @ k.transpose(-2, -1) / d", ["the scores were divided by d"]),
    Mutant("causal_attention", "causal_attention", _SCORES, "scores = q @ k.transpose(-2, -1) / T**0.5", ["divided by sqrt(T)"]),
    Mutant("causal_attention", "causal_attention", _SCORES + "  #", "scores = q @ k.transpose(-2, -1)  #\n    v = v / d**0.5  #",
           ["divided by sqrt(d) after the softmax"]),
    # the softmax's dim, q and k swapped, what is returned
    Mutant("causal_attention", "causal_attention", "softmax(dim=-1)", "softmax(dim=1)", ["the softmax ran over the queries (dim=1)", "do not sum to 1"]),
    Mutant("causal_attention", "causal_attention", "softmax(dim=-1)", "softmax(dim=0)", ["the softmax ran over the batch (dim=0)"]),
    Mutant("causal_attention", "causal_attention", "q @ k.transpose(-2, -1)", "k @ q.transpose(-2, -1)", ["q and k are swapped"]),
    Mutant("causal_attention", "causal_attention", _RETURN, "return scores.softmax(dim=-1)", ["the attention weights", "the weighted sum of the values"]),
    Mutant("causal_attention", "causal_attention", _RETURN, "return (scores.softmax(dim=-1) @ v).detach()", ["the output carries no gradient"]),
    # the window: ignored, one too wide or narrow
    Mutant("causal_attention", "causal_attention", "    if window is not None:\n", "    if False:\n", ["the window was ignored"]),
    Mutant("causal_attention", "causal_attention", "diagonal=-window)", "diagonal=-window - 1)", ["sees the last 4 positions", "one too many"]),
    Mutant("causal_attention", "causal_attention", "diagonal=-window)", "diagonal=-window + 1)", ["sees the last 2 positions", "one too few"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
