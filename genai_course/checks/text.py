"""Exercise checks for lesson 09 (character-level models of names): counts and sampling.

9.1 the bigram table ``bigram_log_probs``, 9.2 nucleus (top-p) sampling with a temperature
``sample_next`` (a variation on the lesson's top-k sampler; its cases and slips are in ``_nucleus``). Lessons call them through ``genai_course.checks``: ``checks.bigram_log_probs(fn)``.
(9.3, the causal attention mask, is in ``attention``.)

Each check's probe calls the learner's function and records what it returned; its judge compares
that with the truth computed here in float64 and, when it differs, with the same formula written
the usual wrong ways, to say which slip it is (see ``_protocol``). Tables are compared to 1e-4
with NaN matching NaN, so that a slip that makes NaN is still recognised; draws are compared by
their frequencies over 5,000 copies of each row.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..text import NameSplit, Vocab
from ..utils import same
from ._bigram import _bigram_advice, _pair_counts, _smoothed_table
from ._nucleus import ALONE, DRAWS, FIRST, SETTINGS, TIES, frequencies, judge_ties, matches, nucleus, sampling_logits, slips, tied_logits
from ._protocol import CheckFailed, Observed, _call, _edited, _exercise, _tensor, _with_advice
from .observations import observe

__all__ = ["bigram_log_probs", "sample_next"]

_FLOATS = ("torch.float16", "torch.bfloat16", "torch.float32", "torch.float64")


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


def _bigram_table(what: str, rec: Any, V: int) -> torch.Tensor:
    """The learner's table (a record), or a failure naming its type, shape or dtype (-inf entries are expected)."""
    if rec["type"] != "Tensor":
        raise CheckFailed(f"{what} should return a torch.Tensor, but returned {rec['type']}")
    shape = tuple(rec["shape"])
    if shape == (V, V - 1):
        raise CheckFailed(f"{what} has shape {shape}: keep a column for every token, START's too (its log-prob is -inf), shape ({V}, {V})")
    if shape != (V, V):
        raise CheckFailed(f"{what} should have shape ({V}, {V}), row = previous token, column = next token, but has shape {shape}")
    if rec["dtype"] not in _FLOATS:
        raise CheckFailed(f"{what} has dtype {rec['dtype']}: return the log-probabilities as floats (float32), not the counts")
    if rec["dtype"] != str(torch.float32):
        raise CheckFailed(f"{what} should have dtype torch.float32, but has dtype {rec['dtype']}: the table is asked for in float32, and float64 counts make a float64 table")
    out = rec["value"]
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape:
        raise TypeError(f"{what}: the record's value does not match its shape")
    return out  # not _tensor: the table's -inf entries are expected


def _bigram_what(V: int, alpha: float) -> str:
    return f"bigram_log_probs(inputs, targets, {V}, {alpha})"


@_exercise("9.1", "the bigram table")
def bigram_log_probs(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(inputs (N, T) int64, targets (N, T) int64, vocab_size V, alpha) -> (V, V) float32:
    table[i, j] = log (n_ij + alpha) / (n_i + alpha (V - 1)) for j != START, -inf for j = START,
    where n_ij counts the positions with inputs == i and targets == j (targets of -100 are padding)."""
    for c, (V, inputs, targets, alpha) in enumerate(_bigram_cases()):
        given = (inputs.clone(), targets.clone())
        seen[f"table{c}"] = observe(_call(_bigram_what(V, alpha), fn, *given, V, alpha))
        seen[f"table{c}.edited"] = _edited(zip(("inputs", "targets"), given, (inputs, targets)))


@bigram_log_probs.judge
def _judge_bigram_log_probs(seen: Observed) -> str:
    for c, (V, inputs, targets, alpha) in enumerate(_bigram_cases()):
        what = _bigram_what(V, alpha)
        try:
            rec = seen[f"table{c}"]
        except CheckFailed as failure:
            raise _with_advice(failure, [(("-100", "non-negative", "out of bounds"),
                                          "targets are -100 where a name is padded: count only the positions where targets != -100")]) from None
        if seen[f"table{c}.edited"]:
            raise CheckFailed(f"{what} changed the inputs or targets you were given (an in-place edit): work on new tensors")
        out = _bigram_table(what, rec, V)
        counts = _pair_counts(inputs, targets, V)
        if not same(out, _smoothed_table(counts, alpha), 1e-4, equal_nan=True):
            raise CheckFailed(_bigram_advice(out, counts, inputs, targets, alpha, what))
    return "counts + alpha, START never next, rows sum to 1, as text.BigramLM"


# --------------------------------------------------------------------------- 9.2 nucleus sampling


def _sampling_calls() -> list[tuple[str, str, torch.Tensor, float, float, int]]:
    """(key, what, base logits (rows, V), temperature, top_p, seed) of every call the check makes; each call
    gets the base logits tiled DRAWS times. "first", "again" and "other" test the generator, "alone<r>" draws
    row r of the first setting in a batch of copies of itself, "ties" has ties at the edge of the nucleus. In the
    order the judge reads them: a call that raises ends the probe, and the calls before it are still judged."""
    base = sampling_logits()
    T, p = SETTINGS[FIRST]
    what = f"sample_next(logits of shape {(len(base) * DRAWS, base.shape[1])}, {T}, {p}, generator)"
    calls = [("first", what, base, T, p, 0), ("again", what, base, T, p, 0), ("other", what, base, T, p, 1)]
    T, p = SETTINGS[ALONE]
    calls += [(f"alone{r}", f"sample_next(copies of one row, {T}, {p}, generator)", base[r:r + 1], T, p, 4) for r in range(1, len(base))]
    calls += [(f"setting{n}", f"sample_next(logits, {T}, {p}, generator)", base, T, p, 2) for n, (T, p) in enumerate(SETTINGS) if n != FIRST]
    T, p = TIES
    return calls + [("ties", f"sample_next(logits with ties, {T}, {p}, generator)", tied_logits(), T, p, 3)]


_NO_ROW = ("a row was left with nothing to draw: every row's set must reach top_p on its own, so it holds at least that row's "
           "most likely token")
_NOT_PROBS = "the draw was given logits or log-probabilities where it needs probabilities: non-negative, each row summing to 1"


def _sampled_ids(seen: Observed, key: str, what: str, base: torch.Tensor) -> torch.Tensor:
    """The ids one call drew, (rows * DRAWS,) int64 in 0..V-1, or the failure that says why not."""
    try:
        rec = seen[key]
    except CheckFailed as failure:
        raise _with_advice(failure, [(("sum of probabilities <= 0",), _NO_ROW), (("< 0", "nan"), _NOT_PROBS)]) from None
    if seen[f"{key}.edited"]:
        raise CheckFailed(f"{what} changed the logits you were given: after the call the caller's tensor holds other values (an in-place edit); leave it as it was")
    B, V = len(base) * DRAWS, base.shape[1]
    if rec["type"] == "Tensor":
        shape, floating = tuple(rec["shape"]), rec["dtype"] in _FLOATS
        if shape == (B, 1):
            raise CheckFailed(f"{what} has shape ({B}, 1), return one id per row, shape ({B},): drop the extra dimension")
        if shape == (B, V) and floating:
            raise CheckFailed(f"{what} returned ({B}, {V}) floats, probabilities? Draw one token id per row from them, with the generator you were given")
        if shape == (B,) and floating:
            raise CheckFailed(f"{what} has dtype {rec['dtype']}: token ids are whole numbers, int64")
    ids = _tensor(what, rec, (B,), torch.long)
    if ids.min() < 0 or ids.max() >= V:
        raise CheckFailed(f"{what} returned ids from {ids.min().item()} to {ids.max().item()}: ids index the vocabulary, 0 to {V - 1}")
    return ids


@_exercise("9.2", "nucleus sampling")
def sample_next(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(logits (B, V), temperature > 0, top_p in (0, 1], generator) -> (B,) int64 token ids, one draw per row from
    softmax(logits / temperature) restricted to the nucleus: the smallest set of most likely tokens whose probabilities
    reach top_p (the token that crosses top_p included; on ties at the edge, only as many as needed), renormalised,
    drawn with the generator given."""
    for key, what, base, T, p, seed in _sampling_calls():
        logits = base.repeat(DRAWS, 1)  # (rows * DRAWS, V): each distribution DRAWS times
        given = logits.clone()
        seen[key] = observe(_call(what, fn, given, T, p, torch.Generator().manual_seed(seed)))
        seen[f"{key}.edited"] = not torch.equal(given, logits)


def _judge_alone(seen: Observed, calls: dict, base: torch.Tensor) -> None:
    """Rows 1 to 3, each drawn in a batch of copies of itself, follow their nucleus while in the batch of different rows
    some row draws other tokens than its own set: one set for the whole batch."""
    rows, V = base.shape
    T, p = SETTINGS[ALONE]
    for r in range(1, rows):
        freq = frequencies(_sampled_ids(seen, f"alone{r}", calls[f"alone{r}"][0], base[r:r + 1]), 1, V)
        if not matches(freq, nucleus(base[r:r + 1], T, p)):
            return
    freq = frequencies(_sampled_ids(seen, f"setting{ALONE}", calls[f"setting{ALONE}"][0], base), rows, V)
    truth = nucleus(base, T, p)
    other = ((freq > 0) != (truth > 0)).any(dim=1)  # (rows,): rows whose drawn tokens are not their own set
    if other.any():
        r = int(other.nonzero()[0])
        raise CheckFailed(
            f"with temperature {T} and top_p {p} a row drawn in a batch of copies of itself is right, but in a batch of different "
            f"rows row {r} drew {int((freq[r] > 0).sum())} different tokens where its own set has {int((truth[r] > 0).sum())}: the set "
            "was chosen over the whole batch; choose it for each row on its own"
        )


@sample_next.judge
def _judge_sample_next(seen: Observed) -> str:
    base = sampling_logits()
    rows, V = base.shape
    calls = {key: (what, T, p) for key, what, _, T, p, _ in _sampling_calls()}
    first = _sampled_ids(seen, "first", calls["first"][0], base)
    if not torch.equal(first, _sampled_ids(seen, "again", calls["again"][0], base)):
        raise CheckFailed(
            "two calls with generators seeded alike drew different tokens: the draws ignore the generator you were given, so a seed "
            "does not give the same names twice (a sampler that is not given the generator uses the global one)"
        )
    if torch.equal(first, _sampled_ids(seen, "other", calls["other"][0], base)):
        if torch.equal(first, base.repeat(DRAWS, 1).argmax(dim=1)):
            raise CheckFailed("every call returns the most likely token: a draw is random, each token as often as its probability")
        raise CheckFailed("generators with different seeds drew the same tokens: the draws do not depend on the generator you were given")
    if (first.view(-1, rows)[:, 0] == 0).any():
        if matches(frequencies(first, rows, V), base.double().softmax(dim=1).softmax(dim=1)):
            raise CheckFailed(
                "the softmax was taken twice, the second time over probabilities where logits are expected: a token whose logit is -inf "
                "(probability 0) got a weight back and was drawn"
            )
        raise CheckFailed("a token whose logit is -inf was drawn: it has probability 0 and must never be drawn")
    _judge_alone(seen, calls, base)
    for n, (T, p) in enumerate(SETTINGS):
        ids = first if n == FIRST else _sampled_ids(seen, f"setting{n}", calls[f"setting{n}"][0], base)
        freq = frequencies(ids, rows, V)
        truth = nucleus(base, T, p)
        if matches(freq, truth):
            continue
        for probs, advice in slips(base, T, p):
            if matches(freq, probs):
                raise CheckFailed(advice)
        missed = (freq == 0) & (truth > 0.02)
        if p == 1.0 and missed.any():
            r, j = (int(x) for x in missed.nonzero()[0])
            raise CheckFailed(
                f"with temperature {T} and top_p = 1.0, token {j} of row {r} was never drawn, though its probability is "
                f"{truth[r, j].item():.1%}: at top_p = 1.0 the set is every token, even where rounding leaves the running total a hair below 1"
            )
        r, j = divmod(int((freq - truth).abs().argmax()), V)
        raise CheckFailed(
            f"with temperature {T} and top_p {p}, token {j} was drawn {freq[r, j].item():.1%} of the time from row {r}, "
            f"to which the distribution asked for gives it {truth[r, j].item():.1%}"
        )
    what, T, p = calls["ties"]
    judge_ties(frequencies(_sampled_ids(seen, "ties", what, tied_logits()), rows, V), tied_logits(), T, p)
    return (f"frequencies match the nucleus after the temperature at {len(SETTINGS)} settings, row by row, "
            "the smallest set on ties; same seed, same draws")
