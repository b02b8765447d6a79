"""The mutation table of lesson 09's counts and sampling (genai_course.checks.text, 9.1 and 9.2): each
solution, mutated the ways learners go wrong, is judged failed with a message that names the mistake
(tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_TOP_K = "    if top_k is not None:\n"
_KEEP_TIES = (  # the top-k block that keeps every logit >= the k-th largest (ties too), whatever the solution's block is
    "    if top_k is not None:\n"
    "        kth = logits.topk(top_k, dim=1).values[:, -1:]\n"
    "        logits = torch.where(logits >= kth, logits, float('-inf'))\n"
    "    if False:\n"
)

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
    # 9.2 sampling: temperature multiplied or ignored, logits where probabilities are expected (and the reverse),
    # top-k off by one or keeping ties, the softmax's dim, the generator, the returned shape
    Mutant("sample_next", "sample_next", "logits = logits / temperature", "logits = logits * temperature",
           ["the draws follow softmax(logits * temperature)", "the temperature multiplied the logits"]),
    Mutant("sample_next", "sample_next", "logits = logits / temperature", "logits = logits", ["the temperature has no effect"]),
    Mutant("sample_next", "sample_next", "logits = logits / temperature", "logits /= temperature", ["changed the logits you were given"]),
    Mutant("sample_next", "sample_next", "probs = logits.softmax(dim=1)", "probs = logits", ["raised RuntimeError", "where it needs probabilities"]),
    Mutant("sample_next", "sample_next", "probs = logits.softmax(dim=1)", "probs = logits.log_softmax(dim=1)", ["where it needs probabilities"]),
    Mutant("sample_next", "sample_next", "probs = logits.softmax(dim=1)", "probs = logits.softmax(dim=1).softmax(dim=1)",
           ["the softmax was taken twice", "probabilities where logits are expected"]),
    Mutant("sample_next", "sample_next", "probs = logits.softmax(dim=1)", "probs = logits.softmax(dim=0)", ["the softmax ran over the batch (dim=0)"]),
    Mutant("sample_next", "sample_next", "logits.topk(top_k, dim=1)", "logits.topk(top_k + 1, dim=1)", ["top_k = 3 kept 4 tokens (off by one)"]),
    Mutant("sample_next", "sample_next", _TOP_K, _TOP_K.replace("top_k is not None", "False"), ["top_k = 3 has no effect"]),
    Mutant("sample_next", "sample_next", _TOP_K, _KEEP_TIES, ["top_k = 2 kept 4 tokens", "3 tokens tie with the k-th largest logit (1.0)", "all of them were kept", "exactly top_k tokens"]),
    Mutant("sample_next", "sample_next", "generator=generator", "", ["two calls with generators seeded alike drew different tokens"]),
    Mutant("sample_next", "sample_next", "[:, 0]  # (B,)", "  # (B, 1)", ["has shape (20000, 1)", "drop the extra dimension"]),
    Mutant("sample_next", "sample_next", "return torch.multinomial(probs, 1, generator=generator)[:, 0]", "return probs.argmax(dim=1)",
           ["the most likely token (the argmax)"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
