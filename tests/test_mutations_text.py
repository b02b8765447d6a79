"""The mutation table of lesson 09's counts and nucleus sampling (genai_course.checks.text, 9.1 and 9.2): each
solution, mutated the ways learners go wrong, is judged failed with a message that names the mistake
(tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

ROWS = [
    # 9.1 the bigram table: padding counted, pairs counted once, alpha, START, normalising, the logarithm, dtype
    Mutant("bigram_log_probs", "bigram_log_probs", "counts.index_put_((inputs[keep], targets[keep]), torch.ones(int(keep.sum())), accumulate=True)",
           "counts.index_put_((inputs.flatten(), targets.flatten()), torch.ones(inputs.numel()), accumulate=True)",
           ["the padding was counted", "wraps around to column", "targets != -100"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "accumulate=True", "accumulate=False", ["each pair was counted at most once", "has count 1"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "smoothed = counts + alpha", "smoothed = counts + 0.0", ["alpha is missing"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "smoothed = counts + alpha", "smoothed = counts + 1.0", ["you used alpha = 1.0, not the alpha you were given (0.1)"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "    smoothed[:, START] = 0.0", "    pass", ["START has probability > 0", "never follows a character"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "smoothed.sum(dim=1, keepdim=True)", "smoothed.sum(dim=0, keepdim=True)", ["you normalised each column (dim=0)"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "return smoothed.log() - smoothed.sum(dim=1, keepdim=True).log()",
           "return smoothed / smoothed.sum(dim=1, keepdim=True)", ["the table holds probabilities", "return their logarithm"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "return smoothed.log() - smoothed.sum(dim=1, keepdim=True).log()",
           "return smoothed.log2() - smoothed.sum(dim=1, keepdim=True).log2()", ["the logarithm has base 2"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "return smoothed.log() - smoothed.sum(dim=1, keepdim=True).log()", "return smoothed.log()",
           ["the rows are not normalised"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "torch.ones(int(keep.sum())), accumulate=True)\n",
           "torch.ones(int(keep.sum())), accumulate=True)\n    counts = counts.double()\n", ["should have dtype torch.float32", "float64 counts make a float64 table"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "torch.ones(int(keep.sum())), accumulate=True)\n",
           "torch.ones(int(keep.sum())), accumulate=True)\n    return counts\n", ["the table holds the counts themselves"]),
    Mutant("bigram_log_probs", "bigram_log_probs", "keep = targets != -100", "keep = targets != -100\n    targets[~keep] = END",
           ["changed the inputs or targets you were given"]),
    # 9.2 nucleus sampling: the temperature multiplied, ignored or done in place, logits where probabilities are expected,
    # the softmax twice or down the batch, the ranking ascending, the token that reaches top_p dropped, the running total
    # down the batch, no cut at all, the generator, the returned shape
    Mutant("sample_next", "sample_next", "logits = logits / temperature", "logits = logits * temperature",
           ["at temperature 2.0 the draws move the wrong way", "multiplied by the temperature"]),
    Mutant("sample_next", "sample_next", "logits = logits / temperature", "logits = logits", ["the temperature has no effect"]),
    Mutant("sample_next", "sample_next", "logits = logits / temperature", "logits /= temperature", ["changed the logits you were given"]),
    Mutant("sample_next", "sample_next", "probs = logits.softmax(dim=1)", "probs = logits", ["raised RuntimeError", "where it needs probabilities"]),
    Mutant("sample_next", "sample_next", "probs = logits.softmax(dim=1)", "probs = logits.softmax(dim=1).softmax(dim=1)",
           ["the softmax was taken twice", "probabilities where logits are expected"]),
    Mutant("sample_next", "sample_next", "probs = logits.softmax(dim=1)", "probs = logits.softmax(dim=0)", ["normalised over the batch, down each column"]),
    Mutant("sample_next", "sample_next", "probs.sort(dim=1, descending=True)", "probs.sort(dim=1)", ["top_p = 0.62 kept the least likely tokens"]),
    Mutant("sample_next", "sample_next", "ranked.cumsum(dim=1) - ranked", "ranked.cumsum(dim=1)",
           ["top_p = 0.62 dropped the token that makes the total reach top_p"]),
    Mutant("sample_next", "sample_next", "ranked.cumsum(dim=1) - ranked", "ranked.cumsum(dim=0) - ranked",
           ["raised RuntimeError", "a row was left with nothing to draw", "on its own"]),
    Mutant("sample_next", "sample_next", "ranked = ranked.masked_fill(ahead >= top_p, 0.0)", "ranked = ranked", ["top_p = 0.62 has no effect"]),
    Mutant("sample_next", "sample_next", "generator=generator", "", ["two calls with generators seeded alike drew different tokens"]),
    Mutant("sample_next", "sample_next", "[:, 0]  # (B,)", "  # (B,)", ["has shape (20000, 1)", "drop the extra dimension"]),
    Mutant("sample_next", "sample_next", "return torch.multinomial(probs, 1, generator=generator)[:, 0]", "return probs.argmax(dim=1)",
           ["every call returns the most likely token"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
