"""genai_course.checks.text (lesson 09, 9.1 and 9.2): correct code passes, typical mistakes are named."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genai_course import checks, text
from genai_course.checks import text as text_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

INF = float("inf")

# --------------------------------------------------------------------------- reference solutions


def pair_counts(inputs, targets, V):
    keep = targets != -100  # (N, T) real pairs, not padding
    counts = torch.zeros(V, V)
    counts.index_put_((inputs[keep], targets[keep]), torch.ones(int(keep.sum())), accumulate=True)
    return counts


def smoothed_log_probs(counts, alpha, *, start_mass=False, dim=1):
    smoothed = counts + alpha
    if not start_mass:
        smoothed[:, text.START] = 0.0
    return smoothed.log() - smoothed.sum(dim=dim, keepdim=True).log()


def bigram_log_probs(inputs, targets, vocab_size, alpha):
    return smoothed_log_probs(pair_counts(inputs, targets, vocab_size), alpha)


def bigram_by_bincount(inputs, targets, vocab_size, alpha):
    keep = targets != -100
    counts = torch.bincount(inputs[keep] * vocab_size + targets[keep], minlength=vocab_size**2).view(vocab_size, vocab_size)
    smoothed = (counts + alpha).index_fill(1, torch.tensor([text.START]), 0.0)
    return torch.log(smoothed / smoothed.sum(dim=1, keepdim=True))


def bigram_by_loops(inputs, targets, vocab_size, alpha):
    counts = [[0.0] * vocab_size for _ in range(vocab_size)]
    for row_in, row_out in zip(inputs.tolist(), targets.tolist()):
        for prev, nxt in zip(row_in, row_out):
            if nxt != -100:
                counts[prev][nxt] += 1
    smoothed = torch.tensor(counts) + alpha
    smoothed[:, 0] = 0
    return (smoothed / smoothed.sum(1, keepdim=True)).log()


def bigram_by_one_hot(inputs, targets, vocab_size, alpha):
    keep = targets != -100
    counts = F.one_hot(inputs[keep], vocab_size).float().T @ F.one_hot(targets[keep], vocab_size).float()  # (V, V)
    logits = (counts + alpha).log()
    logits[:, text.START] = -INF
    return logits.log_softmax(dim=1)


def bigram_from_library(inputs, targets, vocab_size, alpha):
    return text.BigramLM(vocab_size, 0, alpha).fit(inputs, targets).log_probs[0]


def sample_next(logits, temperature, top_k, generator=None):
    logits = logits / temperature
    if top_k is not None:
        top = logits.topk(top_k, dim=1).indices  # (B, k): exactly k, whatever the ties
        logits = torch.full_like(logits, -INF).scatter(1, top, logits.gather(1, top))
    return torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0]


def sample_by_rank(logits, temperature, top_k, generator=None):
    """Exactly k by rank: a stable sort keeps the first of the tied tokens."""
    logits = logits / temperature
    if top_k is not None:
        rank = logits.argsort(dim=1, descending=True, stable=True).argsort(dim=1)  # (B, V): 0 for the largest
        logits = logits.masked_fill(rank >= top_k, -INF)
    return torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0]


def sample_by_powers(logits, temperature, top_k, generator=None):
    """p^(1/T), renormalised, is softmax(logits / T): temperature after the softmax is fine."""
    probs = logits.softmax(dim=-1) ** (1 / temperature)
    if top_k is not None:
        top = probs.topk(top_k, dim=-1)
        probs = torch.zeros_like(probs).scatter(-1, top.indices, top.values)  # multinomial renormalises
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def sample_by_sorting(logits, temperature, top_k, generator=None):
    order = logits.argsort(dim=1, descending=True)
    ranked = logits.gather(1, order) / temperature
    if top_k is not None:
        ranked[:, top_k:] = -INF
    picked = torch.multinomial(torch.exp(ranked - ranked.max(dim=1, keepdim=True).values), 1, generator=generator)  # unnormalised
    return order.gather(1, picked).view(-1)


def sample_by_library(logits, temperature, top_k, generator=None):
    return text.sampling._draw(logits, temperature, top_k, generator)[:, 0]


CORRECT = {
    "bigram_log_probs": [bigram_log_probs, bigram_by_bincount, bigram_by_loops, bigram_by_one_hot, bigram_from_library],
    "sample_next": [sample_next, sample_by_rank, sample_by_powers, sample_by_sorting, sample_by_library],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(text_checks, {
        "bigram_log_probs": "Exercise 9.1 (the bigram table)",
        "sample_next": "Exercise 9.2 (sampling with temperature and top-k)",
    })
    assert list(CORRECT) == text_checks.__all__


def test_the_reference_table_is_the_library_bigram():
    data = text.load_names(("it_IT", "el_GR"))
    inputs, targets = data.train.tensors(data.vocab)
    mine = bigram_log_probs(inputs, targets, len(data.vocab), 0.5)
    library = text.BigramLM(len(data.vocab), 0, 0.5).fit(inputs, targets).log_probs[0]
    assert torch.equal(mine.isinf(), library.isinf()) and torch.allclose(mine, library)


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


# --------------------------------------------------------------------------- typical mistakes: 9.1


def counted_with(make_counts, *, post=None, dtype=None, **smoothing):
    """A bigram table from counts made the learner's way, smoothed the right way (or as ``smoothing`` says)."""

    def table(inputs, targets, V, alpha):
        out = smoothed_log_probs(make_counts(inputs, targets, V), alpha, **smoothing)
        out = post(out) if post else out
        return out if dtype is None else out.to(dtype)

    return table


def padding_as_end(inputs, targets, V):
    return pair_counts(inputs, targets.masked_fill(targets == -100, text.END), V)


def padding_as_index(inputs, targets, V):
    counts = torch.zeros(V, V)
    counts.index_put_((inputs.flatten(), targets.flatten()), torch.ones(inputs.numel()), accumulate=True)
    return counts


def padding_by_bincount(inputs, targets, V, alpha):
    counts = torch.bincount((inputs * V + targets).flatten(), minlength=V * V).view(V, V)
    return smoothed_log_probs(counts.float(), alpha)


def padding_by_one_hot(inputs, targets, V, alpha):
    counts = F.one_hot(inputs, V).flatten(0, 1).float().T @ F.one_hot(targets, V).flatten(0, 1).float()
    return smoothed_log_probs(counts, alpha)


def counted_once(inputs, targets, V):
    counts = torch.zeros(V, V)
    keep = targets != -100
    counts[inputs[keep], targets[keep]] += 1  # repeated pairs add 1 only once
    return counts


def without_alpha(inputs, targets, V, alpha):
    counts = pair_counts(inputs, targets, V)
    return (counts / counts.sum(dim=1, keepdim=True)).log()


def alpha_after_normalising(inputs, targets, V, alpha):
    counts = pair_counts(inputs, targets, V)
    p = counts / counts.sum(dim=1, keepdim=True) + alpha
    p[:, 0] = 0
    return (p / p.sum(dim=1, keepdim=True)).log()


def start_zeroed_after_normalising(inputs, targets, V, alpha):
    out = smoothed_log_probs(pair_counts(inputs, targets, V), alpha, start_mass=True)
    out[:, text.START] = -INF
    return out


def unnormalised(inputs, targets, V, alpha):
    smoothed = pair_counts(inputs, targets, V) + alpha
    smoothed[:, 0] = 0
    return smoothed.log()


def editing_targets(inputs, targets, V, alpha):
    targets[targets == -100] = text.END  # in place: the caller's targets change
    return bigram_log_probs(inputs, targets, V, alpha)


def with_nan(inputs, targets, V, alpha):
    out = bigram_log_probs(inputs, targets, V, alpha)
    out[3, 4] = float("nan")
    return out


def edited_table(edit):
    """The right table with one entry (or column) changed by ``edit(table)``."""

    def table(inputs, targets, V, alpha):
        out = bigram_log_probs(inputs, targets, V, alpha)
        edit(out)
        return out

    return table


def rounded_alpha(value):
    return lambda inputs, targets, V, alpha: bigram_log_probs(inputs, targets, V, value)


BIGRAM_MISTAKES = [
    (counted_with(padding_as_end), ["the padding was counted as END -> END pairs", "targets != -100"]),
    (counted_with(padding_as_index), ["the padding was counted", "wraps around to column 103 - 100 = 3", "targets != -100"]),
    (padding_by_bincount, ["the padding was counted", "1 * 103 - 100 = 3, the pair (0, 3)", "targets != -100"]),
    (padding_by_one_hot, ["raised RuntimeError", "targets are -100 where a name is padded", "targets != -100"]),
    (lambda i, t, V, a: bigram_log_probs(i, t, V, a).T.contiguous(), ["the table is transposed", "each row sums to 1"]),
    (counted_with(lambda i, t, V: pair_counts(i, t, V).T), ["the counts are transposed"]),
    (counted_with(counted_once), ["each pair was counted at most once", "has count 1"]),
    (unnormalised, ["the rows are not normalised", "do not sum to 1"]),
    (lambda i, t, V, a: (pair_counts(i, t, V) + a).log(), ["the rows are not normalised, and START has counts"]),
    (counted_with(pair_counts, dim=0), ["you normalised each column (dim=0)", "row totals"]),
    (counted_with(pair_counts, dim=0, start_mass=True), ["you normalised each column (dim=0), and START has counts"]),
    (without_alpha, ["alpha is missing"]),
    (alpha_after_normalising, ["alpha was added after normalising"]),
    (lambda i, t, V, a: (pair_counts(i, t, V) / pair_counts(i, t, V).sum(1, keepdim=True) + a).log(), ["alpha was added after normalising"]),
    (lambda i, t, V, a: without_alpha(i, t, V, a).index_fill(1, torch.tensor([0]), -INF), ["row 1 (END: nothing follows END) is NaN", "add alpha to the counts before"]),
    (counted_with(pair_counts, post=lambda out: out.exp()), ["the table holds probabilities", "return their logarithm"]),
    (counted_with(pair_counts, start_mass=True), ["START has probability > 0", "never follows a character", "-inf"]),
    (start_zeroed_after_normalising, ["the rows sum to less than 1", "START's alpha is still in each row's total"]),
    (counted_with(pair_counts, post=lambda out: out / torch.log(torch.tensor(2.0))), ["the logarithm has base 2"]),
    (rounded_alpha(0.5), ["you used alpha = 0.5, not the alpha you were given (0.1)"]),
    (counted_with(pair_counts, dtype=torch.float64), ["should have dtype torch.float32", "float64 counts make a float64 table"]),
    (lambda i, t, V, a: pair_counts(i, t, V).long(), ["has dtype torch.int64", "not the counts"]),
    (lambda i, t, V, a: pair_counts(i, t, V), ["the table holds the counts themselves", "divide each row by its total"]),
    (lambda i, t, V, a: bigram_log_probs(i, t, V, a)[:, 1:], ["has shape (103, 102)", "START's too"]),
    (lambda i, t, V, a: bigram_log_probs(i, t, V, a)[None], ["should have shape (103, 103)", "row = previous token", "has shape (1, 103, 103)"]),
    (lambda i, t, V, a: bigram_log_probs(i, t, V, a).tolist(), ["should return a torch.Tensor, but returned list"]),
    (editing_targets, ["changed the inputs or targets you were given"]),
    (lambda i, t, V, a: bigram_log_probs(i, t, V, a) - 0.1, ["the probabilities of row 0 sum to 0.905, not 1"]),
    (with_nan, ["contains NaN (row 3, column 4)"]),
    (edited_table(lambda out: out.__setitem__((2, 3), INF)), ["contains +inf", "log-probabilities are <= 0"]),
    (edited_table(lambda out: out.__setitem__((2, 3), -INF)), ["the pair (2, 3) has log-prob -inf", "add alpha"]),
    (lambda i, t, V, a: bigram_log_probs(i, t, V, a) + 3.0, ["a log-probability is above 0"]),
    (lambda i, t, V, a: bigram_log_probs(i, t, V, a)[:, [0, 1, 3, 2, *range(4, V)]], ["differs from log((count + alpha)", "at row 0, column 2: got"]),
]


# --------------------------------------------------------------------------- typical mistakes: 9.2


def sampled(probs_of):
    """Draw from probs_of(logits, temperature, top_k) with the generator, the right way."""
    return lambda logits, T, k, generator=None: torch.multinomial(probs_of(logits, T, k), 1, generator=generator)[:, 0]


def top(logits, k, *, fill=-INF, largest=True, offset=0):
    if k is None:
        return logits
    kth = logits.topk(k + offset, dim=1, largest=largest).values[:, -1:]
    return logits.masked_fill(logits < kth if largest else logits > kth, fill)


def sample_in_place(logits, temperature, top_k, generator=None):
    logits /= temperature
    return sample_next(logits, 1.0, top_k, generator)


def sample_by_categorical(logits, temperature, top_k, generator=None):
    return torch.distributions.Categorical(logits=top(logits / temperature, top_k)).sample()


def sample_keeping_ties(logits, temperature, top_k, generator=None):
    """Every logit >= the k-th largest stays: more than k tokens where several tie with the k-th largest."""
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=1).values[:, -1:]  # (B, 1)
        logits = torch.where(logits >= kth, logits, -INF)
    return torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0]


SAMPLING_MISTAKES = [
    (sampled(lambda l, T, k: top(l * T, k).softmax(1)), ["at temperature 0.5 the draws follow softmax(logits * temperature)", "the temperature multiplied the logits"]),
    (sampled(lambda l, T, k: top(l, k).softmax(1) ** T), ["at temperature 0.5 the draws follow softmax(logits * temperature)"]),
    (sampled(lambda l, T, k: top(l, k).softmax(1)), ["the temperature has no effect", "as at temperature 1"]),
    (sampled(lambda l, T, k: top(l, k).softmax(1) / T), ["the temperature has no effect", "changes nothing once they are renormalised"]),
    (sampled(lambda l, T, k: top(l / T, k, largest=False).softmax(1)), ["top_k = 3 kept the 3 smallest logits", "keep the largest"]),
    (sampled(lambda l, T, k: top(l / T, k, offset=1).softmax(1)), ["top_k = 3 kept 4 tokens (off by one)"]),
    (sampled(lambda l, T, k: top(l / T, k, offset=-1).softmax(1)), ["top_k = 3 kept 2 tokens (off by one)"]),
    (sampled(lambda l, T, k: top(l / T, k, fill=0.0).softmax(1)), ["set to 0, which still has weight exp(0)", "exponential is 0"]),
    (sampled(lambda l, T, k: (l / T).softmax(1)), ["top_k = 3 has no effect"]),
    (sampled(lambda l, T, k: top(l / T, k).softmax(0)), ["the softmax ran over the batch (dim=0)", "each row is one distribution over the vocabulary"]),
    (lambda logits, T, k, generator=None: top(logits / T, k).argmax(dim=1), ["every call returns the most likely token (the argmax)", "a draw is random"]),
    (lambda logits, T, k, generator=None: sample_next(logits, T, k), ["two calls with generators seeded alike drew different tokens", "ignore the generator you were given"]),
    (sample_by_categorical, ["two calls with generators seeded alike", "Categorical(...).sample(), uses the global one"]),
    (lambda logits, T, k, generator=None: torch.zeros(len(logits), dtype=torch.long) + 2, ["generators with different seeds drew the same tokens"]),
    (lambda logits, T, k, generator=None: sample_next(logits, T, k, generator)[:, None], ["has shape (20000, 1)", "shape (20000,)", "drop the extra dimension"]),
    (lambda logits, T, k, generator=None: top(logits / T, k).softmax(1), ["returned (20000, 6) floats, probabilities?", "Draw one token id per row"]),
    (lambda logits, T, k, generator=None: sample_next(logits, T, k, generator).float(), ["has dtype torch.float32", "int64"]),
    (lambda logits, T, k, generator=None: sample_next(logits, T, k, generator) + 1, ["returned ids from 1 to 6", "0 to 5"]),
    (lambda logits, T, k, generator=None: torch.multinomial(logits / T, 1, generator=generator)[:, 0],
     ["raised RuntimeError", "where it needs probabilities"]),
    (sample_in_place, ["changed the logits you were given", "the caller's tensor holds other values"]),
    (sampled(lambda l, T, k: (top(l / T, k).nan_to_num(neginf=-3.0)).softmax(1)), ["a token whose logit is -inf was drawn"]),
    (sampled(lambda l, T, k: (0.8 * top(l / T, k)).softmax(1)), ["with temperature 1.0 and top_k None, token", "was drawn"]),
    # top-k keeps exactly k tokens: keeping every token tied with the k-th largest is the slip the tied logits show
    (sampled(lambda l, T, k: top(l / T, k).softmax(1)), ["top_k = 2 kept 4 tokens", "tie with the k-th largest", "exactly top_k tokens"]),
    (sample_keeping_ties, ["all of them were kept", "exactly top_k tokens", "whatever the ties"]),
    (sampled(lambda l, T, k: top(l / T, k).softmax(1).softmax(1)), ["the softmax was taken twice", "probabilities where logits are expected"]),
]


MISTAKES = (
    [("bigram_log_probs", fn, fragments) for fn, fragments in BIGRAM_MISTAKES]
    + [("sample_next", fn, fragments) for fn, fragments in SAMPLING_MISTAKES]
)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_a_bigram_table_that_raises_keeps_its_error():
    def broken(inputs, targets, V, alpha):
        raise KeyError("oops")

    with pytest.raises(checks.CheckFailed, match=r"raised KeyError: 'oops'$"):
        checks.bigram_log_probs(broken)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
