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


def sample_next(logits, temperature, top_p, generator=None):
    logits = logits / temperature
    probs = logits.softmax(dim=1)
    ranked, order = probs.sort(dim=1, descending=True)
    ahead = ranked.cumsum(dim=1) - ranked  # the probability ranked before each token
    ranked = ranked.masked_fill(ahead >= top_p, 0.0)
    return torch.multinomial(torch.zeros_like(probs).scatter(1, order, ranked), 1, generator=generator)[:, 0]


def sample_by_removal(logits, temperature, top_p, generator=None):
    """The usual library recipe: sort ascending, drop the tokens whose running total stays at most 1 - top_p."""
    ranked, order = (logits / temperature).sort(dim=-1)  # least likely first
    drop = ranked.softmax(dim=-1).cumsum(dim=-1) <= 1 - top_p
    drop[..., -1] = False  # the most likely token always stays
    masked = (logits / temperature).scatter(-1, order, ranked.masked_fill(drop, -INF))
    return torch.multinomial(masked.softmax(dim=-1), 1, generator=generator).squeeze(-1)


def sample_by_loops(logits, temperature, top_p, generator=None):
    """Row by row, adding tokens until the total reaches top_p; renormalised by hand."""
    weights = []
    for row in (logits / temperature).softmax(dim=1):
        keep, total = torch.zeros_like(row), 0.0
        for j in row.argsort(descending=True, stable=True).tolist():
            keep[j], total = row[j], total + row[j].item()
            if total >= top_p:
                break
        weights.append(keep / keep.sum())
    return torch.multinomial(torch.stack(weights), 1, generator=generator).view(-1)


def sample_by_powers(logits, temperature, top_p, generator=None):
    """p^(1/T), renormalised, is softmax(logits / T): the temperature after the softmax is fine, before the cut."""
    probs = logits.softmax(dim=-1) ** (1 / temperature)
    probs = probs / probs.sum(dim=-1, keepdim=True)
    ranked, order = probs.sort(dim=-1, descending=True, stable=True)
    total = ranked.cumsum(dim=-1)
    size = (total < top_p).sum(dim=-1, keepdim=True) + 1  # (B, 1): tokens until the total reaches top_p
    rank = torch.arange(probs.shape[-1]).expand_as(probs)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked * (rank < size))
    return torch.multinomial(kept, 1, generator=generator)[:, 0]


CORRECT = {
    "bigram_log_probs": [bigram_log_probs, bigram_by_bincount, bigram_by_loops, bigram_by_one_hot, bigram_from_library],
    "sample_next": [sample_next, sample_by_removal, sample_by_loops, sample_by_powers],
}



def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(text_checks, {
        "bigram_log_probs": "Exercise 9.1 (the bigram table)",
        "sample_next": "Exercise 9.2 (nucleus sampling)",
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


def nucleus_of(score_of=None, mass_of=None, *, temperature_first=True, ascending=False, strict=False, extra=0, fill=-INF, last=None):
    """A sampler whose nucleus is chosen one wrong way (the right way by default): ranked by score_of(scaled logits),
    adding up mass_of(scaled logits), the temperature before or after the cut, ..."""

    def sample(logits, temperature, top_p, generator=None):
        scaled = logits / temperature
        chooser = scaled if temperature_first else logits
        probs = chooser.softmax(dim=1)
        score = probs if score_of is None else score_of(chooser)
        mass = probs if mass_of is None else mass_of(chooser)
        order = score.argsort(dim=1, descending=not ascending, stable=True)
        ranked = mass.gather(1, order)
        total = ranked.cumsum(dim=1)
        keep = total < top_p if strict else total - ranked < top_p
        for _ in range(extra):
            keep[:, 1:] |= keep[:, :-1].clone()
        if last is not None:
            keep = last(keep, total, top_p)
        kept = torch.zeros_like(keep).scatter(1, order, keep)
        return torch.multinomial(scaled.masked_fill(~kept, fill).softmax(dim=1), 1, generator=generator)[:, 0]

    return sample


def first_reaching(keep, total, top_p):
    """Up to the first rank whose total reaches top_p, found by its index: none when rounding keeps the total below 1."""
    first = (total >= top_p).float().argmax(dim=1, keepdim=True)  # 0 where no total reaches top_p
    return torch.arange(keep.shape[1]).expand_as(keep) <= first


def sample_in_place(logits, temperature, top_p, generator=None):
    logits /= temperature
    return sample_next(logits, 1.0, top_p, generator)


def sample_by_categorical(logits, temperature, top_p, generator=None):
    probs = (logits / temperature).softmax(dim=1)
    ranked, order = probs.sort(dim=1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=1) - ranked >= top_p, 0.0)
    return torch.distributions.Categorical(probs=torch.zeros_like(probs).scatter(1, order, ranked)).sample()


def sample_one_cutoff(logits, temperature, top_p, generator=None):
    """One probability cutoff for the whole batch: boolean indexing flattens the batch."""
    probs = (logits / temperature).softmax(dim=1)
    ranked, _ = probs.sort(dim=1, descending=True)
    cutoff = ranked[ranked.cumsum(dim=1) - ranked < top_p].min()  # the smallest kept probability of ANY row
    return torch.multinomial(probs * (probs >= cutoff), 1, generator=generator)[:, 0]


def sample_keeping_ties(logits, temperature, top_p, generator=None):
    """Every token as likely as the last one of the nucleus stays: too many where several tie at the edge."""
    probs = (logits / temperature).softmax(dim=1)
    ranked, _ = probs.sort(dim=1, descending=True)
    edge = ranked.masked_fill(ranked.cumsum(dim=1) - ranked >= top_p, INF).min(dim=1, keepdim=True).values  # (B, 1)
    return torch.multinomial(probs * (probs >= edge), 1, generator=generator)[:, 0]


def sample_by_columns(logits, temperature, top_p, generator=None):
    """The solution with the softmax down the batch: every probability is tiny, so nothing is cut."""
    probs = (logits / temperature).softmax(dim=0)
    ranked, order = probs.sort(dim=1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=1) - ranked >= top_p, 0.0)
    return torch.multinomial(torch.zeros_like(probs).scatter(1, order, ranked), 1, generator=generator)[:, 0]


def sample_down_the_batch(logits, temperature, top_p, generator=None):
    """The running total runs down the batch: every row after the first few keeps nothing."""
    probs = (logits / temperature).softmax(dim=1)
    ranked, order = probs.sort(dim=1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=0) - ranked >= top_p, 0.0)
    return torch.multinomial(torch.zeros_like(probs).scatter(1, order, ranked), 1, generator=generator)[:, 0]


SAMPLING_MISTAKES = [
    (nucleus_of(temperature_first=False), ["at temperature 2.0 the kept tokens are those of temperature 1", "apply the temperature first"]),
    (lambda l, T, p, generator=None: sample_next(l * T, 1.0, p, generator), ["at temperature 2.0 the draws move the wrong way", "multiplied by the temperature"]),
    (lambda l, T, p, generator=None: sample_next(l, 1.0, p, generator), ["the temperature has no effect", "as at temperature 1"]),
    (nucleus_of(score_of=lambda s: s, mass_of=lambda s: s), ["top_p = 0.62 was compared with a running total of logits", "one of probabilities"]),
    (nucleus_of(strict=True), ["top_p = 0.62 dropped the token that makes the total reach top_p", "the token that crosses top_p is kept"]),
    (nucleus_of(extra=1), ["top_p = 0.62 kept one token more than needed", "the smallest one"]),
    (nucleus_of(ascending=True), ["top_p = 0.62 kept the least likely tokens", "from the most likely token down"]),
    (lambda l, T, p, generator=None: sample_next(l, T, 1.0, generator), ["top_p = 0.62 has no effect", "must never be drawn"]),
    (nucleus_of(fill=0.0), ["tokens outside the set were still drawn", "their logit was set to 0", "probability 0"]),
    (nucleus_of(last=first_reaching), ["with temperature 1.0 and top_p = 1.0, token", "was never drawn", "the set is every token",
                                       "a hair below 1"]),
    (sample_one_cutoff, ["a row drawn in a batch of copies of itself is right", "in a batch of different rows row 0 drew 4 different tokens where its own set has 3",
                         "choose it for each row on its own"]),
    (sample_down_the_batch, ["raised RuntimeError", "a row was left with nothing to draw", "on its own"]),
    (sample_keeping_ties, ["the tokens that tie at the edge of the set were all kept", "where 3 tokens already reach top_p",
                           "which of the tied ones stay does not matter"]),
    (sample_by_columns, ["normalised over the batch, down each column", "each row is one distribution"]),
    (lambda l, T, p, generator=None: (l / T).argmax(dim=1), ["every call returns the most likely token", "a draw is random"]),
    (lambda l, T, p, generator=None: sample_next(l, T, p), ["two calls with generators seeded alike drew different tokens", "ignore the generator you were given"]),
    (sample_by_categorical, ["two calls with generators seeded alike", "not given the generator uses the global one"]),
    (lambda l, T, p, generator=None: torch.zeros(len(l), dtype=torch.long) + 2, ["generators with different seeds drew the same tokens"]),
    (lambda l, T, p, generator=None: sample_next(l, T, p, generator)[:, None], ["has shape (20000, 1)", "shape (20000,)", "drop the extra dimension"]),
    (lambda l, T, p, generator=None: (l / T).softmax(1), ["returned (20000, 6) floats, probabilities?", "Draw one token id per row"]),
    (lambda l, T, p, generator=None: sample_next(l, T, p, generator).float(), ["has dtype torch.float32", "int64"]),
    (lambda l, T, p, generator=None: sample_next(l, T, p, generator) + 1, ["returned ids from 1 to 6", "0 to 5"]),
    (lambda l, T, p, generator=None: torch.multinomial(l / T, 1, generator=generator)[:, 0], ["raised RuntimeError", "where it needs probabilities"]),
    (sample_in_place, ["changed the logits you were given", "the caller's tensor holds other values"]),
    (lambda l, T, p, generator=None: sample_next(l.nan_to_num(neginf=-3.0), T, p, generator), ["a token whose logit is -inf was drawn"]),
    (lambda l, T, p, generator=None: torch.multinomial((l / T).softmax(1).softmax(1), 1, generator=generator)[:, 0],
     ["the softmax was taken twice", "probabilities where logits are expected"]),
    (lambda l, T, p, generator=None: sample_next(0.8 * l, T, p, generator), ["with temperature 1.0 and top_p 0.62, token", "was drawn"]),
]


MISTAKES = (
    [("bigram_log_probs", fn, fragments) for fn, fragments in BIGRAM_MISTAKES]
    + [("sample_next", fn, fragments) for fn, fragments in SAMPLING_MISTAKES]
)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_unrenormalised_weights_are_fine():
    """The draw renormalises: the nucleus's probabilities need not be divided by their total (the hint says so)."""
    checks.sample_next(sample_next)  # sample_next draws from the kept probabilities as they are


def test_a_bigram_table_that_raises_keeps_its_error():
    def broken(inputs, targets, V, alpha):
        raise KeyError("oops")

    with pytest.raises(checks.CheckFailed, match=r"raised KeyError: 'oops'$"):
        checks.bigram_log_probs(broken)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
