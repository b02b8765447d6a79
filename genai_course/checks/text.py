"""Exercise checks for lesson 09 (character-level models of names): counts and sampling.

9.1 the bigram table ``bigram_log_probs``, 9.2 sampling with temperature and top-k
``sample_next``. Lessons call them through ``genai_course.checks``: ``checks.bigram_log_probs(fn)``.
(9.3, the causal attention mask, is in ``attention``.)

Each check's probe calls the learner's function and records what it returned; its judge compares
that with the truth computed here in float64 and, when it differs, with the same formula written
the usual wrong ways, to say which slip it is (see ``_protocol``). Tables are compared to 1e-4
with NaN matching NaN, so that a slip that makes NaN is still recognised. Top-k keeps exactly k
tokens, as ``text.sample_names`` does: the check also samples logits with ties at the k-th largest.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..text import NameSplit, Vocab
from ..utils import same
from ._bigram import _bigram_advice, _pair_counts, _smoothed_table
from ._protocol import CheckFailed, Observed, _call, _edited, _exercise, _tensor, _with_advice
from .observations import observe

__all__ = ["bigram_log_probs", "sample_next"]

_INF = float("inf")
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
         f"at temperature {T} the draws follow softmax(logits * temperature): the temperature multiplied the logits, "
         "so a temperature below 1 flattens the distribution where it should sharpen it"),
        (soft(_keep_top(logits, k)),
         f"the temperature has no effect: at temperature {T} the draws follow softmax(logits), as at temperature 1 "
         "(dividing the probabilities by the temperature changes nothing once they are renormalised)"),
    ]
    if k is not None:
        slips += [
            (soft(_keep_top(logits / T, k, smallest=True)),
             f"top_k = {k} kept the {k} smallest logits: keep the largest"),
            (soft(_keep_top(logits / T, k + 1)),
             f"top_k = {k} kept {k + 1} tokens (off by one): keep exactly the top_k largest"),
            (soft(_keep_top(logits / T, k - 1)),
             f"top_k = {k} kept {k - 1} token{'s' if k != 2 else ''} (off by one): keep exactly the top_k largest"),
            (soft(_keep_top(logits / T, k, fill=0.0)),
             "the logits outside the top k were set to 0, which still has weight exp(0) after the softmax: give them a logit whose exponential is 0"),
            (soft(logits / T), f"top_k = {k} has no effect: every token outside the top_k largest must get probability 0"),
        ]
    by_column = _keep_top(logits / T, k).double().softmax(dim=0)  # (4, V): the softmax over the batch
    slips.append((by_column / by_column.sum(dim=1, keepdim=True),
                  "the softmax ran over the batch (dim=0): the probabilities of a row do not sum to 1; each row is one distribution over the vocabulary"))
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



_SETTINGS = [(1.0, None), (0.5, None), (2.0, None), (1.0, 3), (2.0, 2), (0.7, 4)]  # (temperature, top_k)
_TIES = (1.0, 2)  # (temperature, top_k) on logits with ties at the 2nd largest


def _tied_logits() -> torch.Tensor:
    """(4, 6) logits where several tokens tie with the 2nd largest: keeping exactly 2 tokens and keeping
    every token >= the 2nd largest differ in every row."""
    return torch.tensor([
        [2.0, 1.0, 1.0, 1.0, 0.5, -1.0],
        [0.5, 3.0, 0.0, 3.0, 3.0, 1.0],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        [-_INF, 0.3, 2.0, 0.3, -1.0, 0.3],
    ])


def _sampling_calls() -> list[tuple[str, str, torch.Tensor, float, int | None, int]]:
    """(key, what, base logits (rows, V), temperature, top_k, seed) of every call the check makes; each
    call gets the base logits tiled _DRAWS times."""
    base = _sampling_logits()
    what = f"sample_next(logits of shape {(len(base) * _DRAWS, base.shape[1])}, 1.0, None, generator)"
    calls = [("first", what, base, 1.0, None, 0), ("again", what, base, 1.0, None, 0), ("other", what, base, 1.0, None, 1)]
    calls += [(f"setting{n}", f"sample_next(logits, {T}, {k}, generator)", base, T, k, 2) for n, (T, k) in enumerate(_SETTINGS) if n > 0]
    T, k = _TIES
    return calls + [("ties", f"sample_next(logits with ties, {T}, {k}, generator)", _tied_logits(), T, k, 3)]


_MULTINOMIAL = "the draw was given logits or log-probabilities where it needs probabilities: non-negative, each row summing to 1"


def _sampled_ids(seen: Observed, key: str, what: str, base: torch.Tensor) -> torch.Tensor:
    """The ids one call drew, (rows * _DRAWS,) int64 in 0..V-1, or the failure that says why not."""
    try:
        rec = seen[key]
    except CheckFailed as failure:
        if "probability" in str(failure) and "< 0" in str(failure):
            raise CheckFailed(f"{failure} ({_MULTINOMIAL})") from None
        raise
    if seen[f"{key}.edited"]:
        raise CheckFailed(f"{what} changed the logits you were given: after the call the caller's tensor holds other values (an in-place edit); leave it as it was")
    B, V = len(base) * _DRAWS, base.shape[1]
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


@_exercise("9.2", "sampling with temperature and top-k")
def sample_next(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(logits (B, V), temperature > 0, top_k int or None, generator) -> (B,) int64 token ids, one draw per row from
    softmax(logits / temperature) restricted to exactly the top_k largest logits (when several tie with the k-th
    largest, top_k of them: as text.sample_names does), drawn with the generator given."""
    for key, what, base, T, k, seed in _sampling_calls():
        logits = base.repeat(_DRAWS, 1)  # (rows * _DRAWS, V): each distribution _DRAWS times
        given = logits.clone()
        seen[key] = observe(_call(what, fn, given, T, k, torch.Generator().manual_seed(seed)))
        seen[f"{key}.edited"] = not torch.equal(given, logits)


def _judge_ties(seen: Observed, what: str, base: torch.Tensor, T: float, k: int) -> None:
    """Exactly k tokens per row when several tie with the k-th largest logit (any k of the tied ones)."""
    rows, V = base.shape
    freq = _frequencies(_sampled_ids(seen, "ties", what, base), rows, V)
    scaled = base / T
    kth = scaled.topk(k, dim=1).values[:, -1:]  # (rows, 1)
    kept, at_least, above = freq > 0, scaled >= kth, scaled > kth  # (rows, V) each
    if bool(((kept.sum(dim=1) == k) & (kept <= at_least).all(dim=1) & (kept >= above).all(dim=1)).all()):
        truth = scaled.masked_fill(~kept, -_INF).double().softmax(dim=1)
        if _matches(freq, truth, _DRAWS):
            return
    elif torch.equal(kept, at_least):
        raise CheckFailed(
            f"top_k = {k} kept {int(kept[0].sum())} tokens of a row whose logits are {base[0].tolist()}: {int((scaled[0] == kth[0]).sum())} tokens "
            f"tie with the k-th largest logit ({base[0].topk(k).values[-1].item()}) and all of them were kept; top-k keeps exactly top_k tokens, "
            "whatever the ties, as text.sample_names does (which of the tied ones stay does not matter)"
        )
    r = int((kept.sum(dim=1) != k).nonzero()[0]) if (kept.sum(dim=1) != k).any() else 0
    raise CheckFailed(
        f"with temperature {T} and top_k {k}, on a row whose logits are {base[r].tolist()} you drew {int(kept[r].sum())} different tokens "
        f"with these shares: {[round(x, 3) for x in freq[r].tolist()]}: top-k keeps exactly top_k tokens, those with the largest logits"
    )


@sample_next.judge
def _judge_sample_next(seen: Observed) -> str:
    base = _sampling_logits()
    rows, V = base.shape
    calls = {key: (what, T, k) for key, what, _, T, k, _ in _sampling_calls()}
    first = _sampled_ids(seen, "first", calls["first"][0], base)
    if not torch.equal(first, _sampled_ids(seen, "again", calls["again"][0], base)):
        raise CheckFailed(
            "two calls with generators seeded alike drew different tokens: the draws ignore the generator you were given, so a seed "
            "does not give the same names twice (a sampler that takes no generator, such as Categorical(...).sample(), uses the global one)"
        )
    if torch.equal(first, _sampled_ids(seen, "other", calls["other"][0], base)):
        if torch.equal(first, base.repeat(_DRAWS, 1).argmax(dim=1)):
            raise CheckFailed("every call returns the most likely token (the argmax): a draw is random, each token as often as its probability")
        raise CheckFailed("generators with different seeds drew the same tokens: the draws do not depend on the generator you were given")
    if (first.view(-1, rows)[:, 0] == 0).any():
        if _matches(_frequencies(first, rows, V), base.double().softmax(dim=1).softmax(dim=1), _DRAWS):
            raise CheckFailed(
                "the softmax was taken twice, the second time over probabilities where logits are expected: a token whose logit is -inf "
                "(probability 0) got weight exp(0) and was drawn"
            )
        raise CheckFailed("a token whose logit is -inf was drawn: it has probability 0, exp(-inf) = 0 after the softmax")
    for n, (T, k) in enumerate(_SETTINGS):
        ids = first if n == 0 else _sampled_ids(seen, f"setting{n}", calls[f"setting{n}"][0], base)
        freq = _frequencies(ids, rows, V)
        truth = _keep_top(base / T, k).double().softmax(dim=1)
        if _matches(freq, truth, _DRAWS):
            continue
        for probs, advice in _sampling_slips(base, T, k):
            if _matches(freq, probs, _DRAWS):
                raise CheckFailed(advice)
        r, j = divmod(int((freq - truth).abs().argmax()), V)
        raise CheckFailed(
            f"with temperature {T} and top_k {k}, token {j} was drawn {freq[r, j].item():.1%} of the time from row {r}, "
            f"to which the distribution asked for gives it {truth[r, j].item():.1%}"
        )
    what, T, k = calls["ties"]
    _judge_ties(seen, what, _tied_logits(), T, k)
    return f"frequencies match softmax(logits / temperature) with top-k at {len(_SETTINGS) + 1} settings, exactly k kept on ties; same seed, same draws"
