"""Exercise checks for lesson 09 (character-level models of names): counts and sampling.

9.1 the bigram table ``bigram_log_probs``, 9.2 sampling with temperature and top-k
``sample_next``. Lessons call them through ``genai_course.checks``: ``checks.bigram_log_probs(fn)``.
(9.3, the causal attention mask, is in ``attention``.)

Each check compares the learner's output with the truth computed here in float64, and when it
differs, with the same formula written the usual wrong ways, to say which slip it is. Tables are
compared to 1e-4 with NaN matching NaN, so that a slip that makes NaN is still recognised.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..text import END, START, NameSplit, Vocab
from ..utils import same
from ._protocol import CheckFailed, _call, _exercise, _tensor

__all__ = ["bigram_log_probs", "sample_next"]

_INF = float("inf")


# --------------------------------------------------------------------------- 9.1 the bigram table


def _names_case(chars: str, names: list[str]) -> tuple[int, torch.Tensor, torch.Tensor]:
    vocab = Vocab(chars)
    inputs, targets = NameSplit(tuple(names), torch.zeros(len(names), dtype=torch.long)).tensors(vocab)
    return len(vocab), inputs, targets


def _bigram_cases() -> list[tuple[int, torch.Tensor, torch.Tensor, float]]:
    """(V, inputs, targets, alpha): 103 tokens (so that a target of -100 used as an index wraps
    around to column V - 100 instead of failing, as in the names' vocabulary), then 7 tokens."""
    small = _names_case("abcde", ["abca", "b", "cab", "ddd", "ae", "bead", "cc", "a", "abcab", "eb"])
    g = torch.Generator().manual_seed(9)
    chars = "".join(chr(0x100 + i) for i in range(101))
    lengths = torch.randint(1, 9, (40,), generator=g).tolist()
    names = ["".join(chars[i] for i in torch.randint(12, (n,), generator=g).tolist()) for n in lengths]
    large = _names_case(chars, names)
    return [(*large, 0.1), (*small, 0.5)]


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
        (truth.exp(), "the table holds probabilities: return their logarithm, log p (torch.log), the log-probabilities"),
        (truth / torch.log(torch.tensor(2.0, dtype=torch.float64)), "the logarithm has base 2: use the natural logarithm, torch.log"),
        (truth / torch.log(torch.tensor(10.0, dtype=torch.float64)), "the logarithm has base 10: use the natural logarithm, torch.log"),
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
         "each pair was counted at most once: counts[inputs, targets] += 1 adds 1 only once for a repeated (previous, next) pair; "
         "use counts.index_put_((prev, next), ones, accumulate=True) or torch.bincount"),
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
        (unnormalised, "the rows are not normalised: divide each row by its total, log(smoothed) - log(smoothed.sum(dim=1, keepdim=True))"),
        ((counts + alpha).log(), "the rows are not normalised, and START has counts: zero START's column, then divide each row by its total (dim=1)"),
        (_smoothed_table(counts, alpha, dim=0),
         "you normalised each column (dim=0): each row is the distribution of the next token after one previous token; "
         "divide by the row totals, .sum(dim=1, keepdim=True)"),
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


def _bigram_table(what: str, out: Any, V: int) -> torch.Tensor:
    """The learner's table, or a failure naming its type, shape or dtype (-inf entries are expected)."""
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{what} should return a torch.Tensor, but returned {type(out).__name__}")
    if tuple(out.shape) == (V, V - 1):
        raise CheckFailed(f"{what} has shape {tuple(out.shape)}: keep a column for every token, START's too (its log-prob is -inf), shape ({V}, {V})")
    if tuple(out.shape) != (V, V):
        raise CheckFailed(f"{what} should have shape ({V}, {V}), row = previous token, column = next token, but has shape {tuple(out.shape)}")
    if not out.is_floating_point():
        raise CheckFailed(f"{what} has dtype {out.dtype}: return the log-probabilities as floats (float32), not the counts")
    if out.dtype != torch.float32:
        raise CheckFailed(f"{what} should have dtype torch.float32, but has dtype {out.dtype}: make the counts with torch.zeros(V, V) (float32 by default)")
    return out


@_exercise("9.1", "the bigram table")
def bigram_log_probs(fn: Callable[..., torch.Tensor]) -> str:
    """fn(inputs (N, T) int64, targets (N, T) int64, vocab_size V, alpha) -> (V, V) float32:
    table[i, j] = log (n_ij + alpha) / (n_i + alpha (V - 1)) for j != START, -inf for j = START,
    where n_ij counts the positions with inputs == i and targets == j (targets of -100 are padding)."""
    for V, inputs, targets, alpha in _bigram_cases():
        what = f"bigram_log_probs(inputs, targets, {V}, {alpha})"
        given = (inputs.clone(), targets.clone())
        try:
            out = _call(what, fn, *given, V, alpha)
        except CheckFailed as failure:
            if any(s in str(failure) for s in ("-100", "non-negative", "out of bounds")):
                raise CheckFailed(f"{failure} (targets are -100 where a name is padded: count only the positions where targets != -100)") from None
            raise
        if not (torch.equal(given[0], inputs) and torch.equal(given[1], targets)):
            raise CheckFailed(f"{what} changed the inputs or targets you were given (an in-place edit): work on new tensors")
        out = _bigram_table(what, out, V)
        counts = _pair_counts(inputs, targets, V)
        if not same(out.detach(), _smoothed_table(counts, alpha), 1e-4, equal_nan=True):
            raise CheckFailed(_bigram_advice(out.detach(), counts, inputs, targets, alpha, what))
    return "counts + alpha, START never next, rows sum to 1, as text.BigramLM"


# --------------------------------------------------------------------------- 9.2 sampling


_DRAWS = 5000  # draws per distribution: frequencies within about 0.007 of the probabilities


def _sampling_logits() -> torch.Tensor:
    """(4, 6) logits without ties; token 0 has logit -inf in the first row (as START in a bigram table)."""
    return torch.tensor([
        [-_INF, 1.0, 2.5, 0.0, -1.0, 1.7],
        [0.3, -0.5, 1.2, 2.0, 0.8, -1.5],
        [2.0, 1.1, 0.0, -1.0, -2.0, 0.5],
        [-1.0, 3.0, 0.2, 0.6, 1.4, -0.3],
    ])


def _keep_top(logits: torch.Tensor, k: int | None, *, fill: float = -_INF, smallest: bool = False) -> torch.Tensor:
    if k is None:
        return logits
    if k <= 0:
        return torch.full_like(logits, fill)
    if smallest:
        kth = (-logits).topk(k, dim=1).values[:, -1:]
        return logits.masked_fill(-logits < kth, fill)
    kth = logits.topk(min(k, logits.shape[1]), dim=1).values[:, -1:]
    return logits.masked_fill(logits < kth, fill)


def _sampling_slips(logits: torch.Tensor, T: float, k: int | None) -> list[tuple[torch.Tensor, str]]:
    """(probabilities (4, V), advice) for the usual wrong ways at temperature T and top-k k."""
    soft = lambda x: x.double().softmax(dim=1)  # noqa: E731
    slips = [
        (soft(_keep_top(logits * T, k)),
         f"at temperature {T} the draws follow softmax(logits * T): divide the logits by the temperature, logits / temperature "
         "(T < 1 sharpens the distribution, T > 1 flattens it)"),
        (soft(_keep_top(logits, k)),
         f"the temperature has no effect (at T = {T} the draws follow softmax(logits)): divide the logits by it before the softmax "
         "(dividing the probabilities by T changes nothing once they are renormalised)"),
    ]
    if k is not None:
        slips += [
            (soft(_keep_top(logits / T, k, smallest=True)),
             f"top_k = {k} kept the {k} smallest logits: keep the largest, logits.topk(top_k, dim=1) (largest=True by default)"),
            (soft(_keep_top(logits / T, k + 1)),
             f"top_k = {k} kept {k + 1} tokens (off by one): the threshold is the k-th largest logit, logits.topk(top_k, dim=1).values[:, -1:], "
             "and only logits below it are removed"),
            (soft(_keep_top(logits / T, k - 1)),
             f"top_k = {k} kept {k - 1} token{'s' if k != 2 else ''} (off by one): keep logits >= the k-th largest, logits.topk(top_k, dim=1).values[:, -1:]"),
            (soft(_keep_top(logits / T, k, fill=0.0)),
             "the logits outside the top k were set to 0, which still has weight exp(0) after the softmax: set them to float('-inf')"),
            (soft(logits / T), f"top_k = {k} has no effect: set every logit below the k-th largest to float('-inf') before the softmax"),
        ]
    by_column = _keep_top(logits / T, k).double().softmax(dim=0)  # (4, V): the softmax over the batch
    slips.append((by_column / by_column.sum(dim=1, keepdim=True),
                  "the softmax ran over the batch (dim=0): each row is one distribution over the vocabulary, softmax(dim=1) (or dim=-1)"))
    return slips


def _frequencies(ids: torch.Tensor, rows: int, V: int) -> torch.Tensor:
    """(rows, V) share of each token among the draws of each of the ``rows`` distributions (tiled)."""
    return torch.nn.functional.one_hot(ids, V).view(-1, rows, V).double().mean(dim=0)


def _matches(freq: torch.Tensor, probs: torch.Tensor, n: int) -> bool:
    """Frequencies within 5 standard errors (+ 0.003) of probabilities, everywhere."""
    if torch.isnan(probs).any():
        return False
    tol = 5 * (probs * (1 - probs) / n).sqrt() + 0.003
    return bool(((freq - probs).abs() <= tol).all())


def _sampled_ids(what: str, fn: Callable[..., Any], logits: torch.Tensor, T: float, k: int | None, seed: int) -> torch.Tensor:
    given = logits.clone()
    try:
        out = _call(what, fn, given, T, k, torch.Generator().manual_seed(seed))
    except CheckFailed as failure:
        if "probability" in str(failure) and "< 0" in str(failure):
            raise CheckFailed(f"{failure} (torch.multinomial needs probabilities, softmax(logits / temperature), not logits or log-probabilities)") from None
        raise
    if not torch.equal(given, logits):
        raise CheckFailed(f"{what} changed the logits you were given (an in-place /= or masked_fill_): work on new tensors, logits = logits / temperature")
    B, V = logits.shape
    if isinstance(out, torch.Tensor):
        if tuple(out.shape) == (B, 1):
            raise CheckFailed(f"{what} has shape ({B}, 1), as torch.multinomial(probs, 1) returns: return one id per row, shape ({B},), with [:, 0] or .squeeze(1)")
        if tuple(out.shape) == (B, V) and out.is_floating_point():
            raise CheckFailed(f"{what} returned ({B}, {V}) floats, probabilities? Draw one token id per row from them: torch.multinomial(probs, 1, generator=generator)")
        if tuple(out.shape) == (B,) and out.is_floating_point():
            raise CheckFailed(f"{what} has dtype {out.dtype}: token ids are whole numbers, int64, as torch.multinomial returns them")
    ids = _tensor(what, out, (B,), torch.long)
    if ids.min() < 0 or ids.max() >= V:
        raise CheckFailed(f"{what} returned ids from {ids.min().item()} to {ids.max().item()}: ids index the vocabulary, 0 to {V - 1}")
    return ids


@_exercise("9.2", "sampling with temperature and top-k")
def sample_next(fn: Callable[..., torch.Tensor]) -> str:
    """fn(logits (B, V), temperature > 0, top_k int or None, generator) -> (B,) int64 token ids, one draw per row from
    softmax(logits / temperature) restricted to the top_k largest logits, with torch.multinomial(probs, 1, generator=generator)."""
    base = _sampling_logits()
    rows, V = base.shape
    logits = base.repeat(_DRAWS, 1)  # (rows * _DRAWS, V): each distribution _DRAWS times
    what = f"sample_next(logits of shape {tuple(logits.shape)}, 1.0, None, generator)"
    first = _sampled_ids(what, fn, logits, 1.0, None, seed=0)
    if not torch.equal(first, _sampled_ids(what, fn, logits, 1.0, None, seed=0)):
        raise CheckFailed(
            "two calls with generators seeded alike drew different tokens: pass the generator to torch.multinomial(probs, 1, generator=generator) "
            "(torch.distributions.Categorical(...).sample() cannot take one)"
        )
    if torch.equal(first, _sampled_ids(what, fn, logits, 1.0, None, seed=1)):
        if torch.equal(first, logits.argmax(dim=1)):
            raise CheckFailed("every call returns the most likely token (the argmax): draw at random from softmax(logits / temperature) with torch.multinomial")
        raise CheckFailed("generators with different seeds drew the same tokens: draw at random with torch.multinomial(probs, 1, generator=generator)")
    if (first.view(-1, rows)[:, 0] == 0).any():
        raise CheckFailed("a token whose logit is -inf was drawn: it has probability 0, exp(-inf) = 0 after the softmax")
    settings = [(1.0, None), (0.5, None), (2.0, None), (1.0, 3), (2.0, 2), (0.7, 4)]
    for T, k in settings:
        ids = first if (T, k) == (1.0, None) else _sampled_ids(f"sample_next(logits, {T}, {k}, generator)", fn, logits, T, k, seed=2)
        freq = _frequencies(ids, rows, V)
        truth = _keep_top(base / T, k).double().softmax(dim=1)
        if _matches(freq, truth, _DRAWS):
            continue
        for probs, advice in _sampling_slips(base, T, k):
            if _matches(freq, probs, _DRAWS):
                raise CheckFailed(advice)
        r, j = divmod(int((freq - truth).abs().argmax()), V)
        raise CheckFailed(
            f"with temperature {T} and top_k {k}, token {j} was drawn {freq[r, j].item():.1%} of the time from a row where softmax(logits / T) "
            f"(top-k kept) gives it {truth[r, j].item():.1%}: divide by T, keep the top_k largest logits (others -inf), softmax over dim=1, torch.multinomial"
        )
    return f"frequencies match softmax(logits / T) with top-k at {len(settings)} settings; same seed, same draws"
