"""The bigram table of exercise 9.1 (``checks.text``): the truth in float64 and the usual wrong ways.

``_pair_counts`` and ``_smoothed_table`` compute the table the exercise asks for;
``_bigram_advice`` says which slip a learner's table is (the judge's message), by comparing it with
the table written each usual wrong way (``_bigram_slips``), then by what is wrong in it (NaN,
+inf, START's column, unseen pairs, rows that do not sum to 1).
"""

from __future__ import annotations

import torch

from ..text import END, START
from ..utils import same

_INF = float("inf")


def _pair_counts(inputs: torch.Tensor, targets: torch.Tensor, V: int, keep: torch.Tensor | None = None) -> torch.Tensor:
    """(V, V) float64 counts of (inputs, targets) pairs at the positions ``keep`` (default: targets != -100)."""
    keep = targets != -100 if keep is None else keep
    counts = torch.zeros(V, V, dtype=torch.float64)
    ones = torch.ones(int(keep.sum()), dtype=torch.float64)
    counts.index_put_((inputs[keep], targets[keep] % V), ones, accumulate=True)  # % V: -100 wraps as an index would
    return counts


def _smoothed_table(counts: torch.Tensor, alpha: float, *, start_mass: bool = False, dim: int = 1) -> torch.Tensor:
    """log (counts + alpha) normalised over ``dim``, START's column zeroed first unless ``start_mass``."""
    smoothed = counts + alpha
    if not start_mass:
        smoothed[:, START] = 0.0
    return smoothed.log() - smoothed.sum(dim=dim, keepdim=True).log()


def _bigram_slips(counts: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, alpha: float) -> list[tuple[torch.Tensor, str]]:
    """The table written the usual wrong ways, and what to say about each."""
    V = counts.shape[0]
    padding = targets == -100
    as_end_end = counts + _pair_counts(inputs, torch.full_like(targets, END), V, keep=padding)
    wrapped = counts + _pair_counts(inputs, targets, V, keep=padding)  # (END, -100) lands in column V - 100
    flat = (inputs * V + targets)[padding & (inputs * V + targets >= 0)]  # what bincount(inputs * V + targets) counts
    in_flat_index = counts + torch.bincount(flat, minlength=V * V).view(V, V)
    truth = _smoothed_table(counts, alpha)
    norm_by_start = counts + alpha
    total_with_start = norm_by_start.sum(dim=1, keepdim=True)
    norm_by_start[:, START] = 0.0
    unnormalised = (counts + alpha).log()
    unnormalised[:, START] = -_INF
    p = counts / counts.sum(dim=1, keepdim=True)  # NaN in rows without pairs (END's)
    slips = [
        (counts, "the table holds the counts themselves: add alpha to them (but START's column), divide each row by its total, then take the log"),
        (truth.exp(), "the table holds probabilities: return their logarithm, the log-probabilities"),
        (truth / torch.log(torch.tensor(2.0, dtype=torch.float64)), "the logarithm has base 2: log-probabilities are in nats, the natural logarithm"),
        (truth / torch.log(torch.tensor(10.0, dtype=torch.float64)), "the logarithm has base 10: log-probabilities are in nats, the natural logarithm"),
        (truth.T, "the table is transposed: row i is the previous token, column j the next one, and each row sums to 1"),
        (_smoothed_table(counts.T.clone(), alpha),
         "the counts are transposed: row = the previous token (inputs), column = the next token (targets), counts[inputs, targets]"),
        (_smoothed_table(as_end_end, alpha),
         "the padding was counted as END -> END pairs: count only the positions where targets != -100 (after END nothing is predicted)"),
        (_smoothed_table(wrapped, alpha),
         f"the padding was counted: a target of -100 used as an index wraps around to column {V} - 100 = {V - 100}; "
         "keep only the positions where targets != -100 before counting"),
        (_smoothed_table(in_flat_index, alpha),
         f"the padding was counted: in a flat index inputs * V + targets, END followed by -100 becomes {END} * {V} - 100 = {END * V - 100}, "
         f"the pair ({(END * V - 100) // V}, {(END * V - 100) % V}); keep only the positions where targets != -100 before counting"),
        (_smoothed_table((counts > 0).double(), alpha),
         "each pair was counted at most once: a pair that occurs several times has count 1 "
         "(indexed in-place addition, counts[inputs, targets] += 1, adds 1 only once for a repeated index)"),
        (p.log(),
         "alpha is missing: add it to every count (but START's column) before normalising, or unseen pairs get probability 0"),
        ((p + alpha).log(), "alpha was added after normalising: add it to the counts, then divide each row by its total"),
        ((p + alpha).log() - (p + alpha).sum(dim=1, keepdim=True).log(),
         "alpha was added after normalising: add it to the counts, then divide each row by its total"),
        (_smoothed_table(p, alpha), "alpha was added after normalising: add it to the counts, then divide each row by its total"),
        (norm_by_start.log() - total_with_start.log(),
         "the rows sum to less than 1: START's alpha is still in each row's total; zero START's column before summing the row "
         "(the total is n_i + alpha (V - 1))"),
        (_smoothed_table(counts, alpha, start_mass=True),
         "START has probability > 0 as a next token: START begins a name and never follows a character; "
         "set START's column (index 0) to 0 after adding alpha and before normalising, so its log-prob is -inf"),
        (unnormalised, "the rows are not normalised: the probabilities of a row do not sum to 1"),
        ((counts + alpha).log(), "the rows are not normalised, and START has counts: zero START's column, then divide each row by its total (dim=1)"),
        (_smoothed_table(counts, alpha, dim=0),
         "you normalised each column (dim=0): each row is the distribution of the next token after one previous token, "
         "so the row totals must be the ones divided by"),
        (_smoothed_table(counts, alpha, start_mass=True, dim=0),
         "you normalised each column (dim=0), and START has counts: zero START's column, then divide by the row totals (dim=1)"),
    ]
    for other in (0.01, 0.1, 0.5, 1.0):
        if other != alpha:
            slips.append((_smoothed_table(counts, other), f"you used alpha = {other}, not the alpha you were given ({alpha})"))
    return slips


def _bigram_advice(out: torch.Tensor, counts: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, alpha: float, what: str) -> str:
    """Why ``out`` differs from the smoothed table of ``counts``."""
    for table, advice in _bigram_slips(counts, inputs, targets, alpha):
        if same(out, table, 1e-4, equal_nan=True):
            return advice
    out = out.double()
    empty = counts.sum(dim=1) == 0  # (V,) rows without a single pair: END's at least
    if torch.isnan(out).any() and torch.isnan(out).any(dim=1).le(empty).all():
        i = int(torch.isnan(out).any(dim=1).nonzero()[0])
        name = " (END: nothing follows END)" if i == END else ""
        return (
            f"row {i}{name} is NaN: its counts are all 0, and 0 / 0 = NaN; add alpha to the counts before you divide by the row total "
            "(without alpha, or with alpha added after normalising, a row without pairs has no probabilities)"
        )
    if torch.isnan(out).any():
        i, j = (int(x) for x in torch.isnan(out).nonzero()[0])
        return (
            f"{what} contains NaN (row {i}, column {j}): 0 / 0 or log 0 - log 0 from a row or column with no counts; "
            "add alpha to every count (but START's column) and divide each row by its total"
        )
    if (out == _INF).any():
        return f"{what} contains +inf: log-probabilities are <= 0"
    if torch.isfinite(out[:, START]).any():
        return (
            "START's column (index 0) should be -inf in every row (probability 0): START begins a name and never follows "
            "a character; set its smoothed count to 0 before normalising"
        )
    unseen = torch.isinf(out[:, START + 1:])
    if unseen.any():
        i, j = (int(x) for x in unseen.nonzero()[0])
        return f"the pair ({i}, {j + 1}) has log-prob -inf: add alpha to every count (but START's column) so that unseen pairs keep some probability"
    if out.max() > 1e-6:
        return f"a log-probability is above 0 ({out.max().item():.3f}): return log p, with each row of p summing to 1"
    sums = out.exp().sum(dim=1)  # (V,)
    if ((sums - 1).abs() > 1e-3).any():
        i = int(((sums - 1).abs() > 1e-3).nonzero()[0])
        return f"the probabilities of row {i} sum to {sums[i].item():.3f}, not 1: divide each row by its total (dim=1)"
    truth = _smoothed_table(counts, alpha)
    i, j = (int(x) for x in ((out - truth).abs().nan_to_num(0.0) > 1e-4).nonzero()[0])
    return (
        f"{what} differs from log((count + alpha) / (row total + alpha (V - 1))) at row {i}, column {j}: "
        f"got {out[i, j].item():.4f}, expected {truth[i, j].item():.4f}"
    )
