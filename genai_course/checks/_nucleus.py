"""The cases and the usual slips of exercise 9.2, nucleus (top-p) sampling (``text.sample_next``).

The truth: probabilities softmax(logits / temperature) of each row, sorted most likely first; the
nucleus is the shortest run of them whose total reaches top_p (a token is kept when the total of
the tokens ahead of it is still below top_p, so the token that crosses top_p stays); the draw
follows the kept probabilities, renormalised. When tokens tie at the edge of the nucleus, exactly
as many are kept as the total needs (which of the tied ones does not matter), as top-k keeps
exactly k. Every slip below is the same computation done one usual wrong way, in float64, on the
check's base rows; the judge matches draw frequencies against the truth, then against these.
"""

from __future__ import annotations

import torch

from ._protocol import CheckFailed

_INF = float("inf")
DRAWS = 5000  # draws per distribution: frequencies within about 0.007 of the probabilities

# (temperature, top_p), judged in this order: the cuts first, top_p = 1.0 (nothing cut) last
SETTINGS = [(1.0, 0.62), (2.0, 0.7), (0.5, 0.75), (1.0, 1.0), (0.5, 1.0), (2.0, 1.0)]
FIRST = 3  # the setting of the generator's calls (and of the -inf test): nothing cut, temperature 1
ALONE = 1  # the setting at which rows 1 to 3 are also drawn each in a batch of copies of itself
TIES = (1.0, 0.5)  # (temperature, top_p) on rows with ties at the edge of the nucleus


def sampling_logits() -> torch.Tensor:
    """(4, 6) logits without ties; token 0 has logit -inf in the first row (as START in a bigram table).
    At every setting each running total stays 0.02 or more away from top_p, and no row's most likely
    token reaches top_p alone."""
    return torch.tensor([
        [-_INF, -1.0, 1.3, 0.8, -0.2, 0.2],
        [0.6, 0.3, 0.1, -0.2, -0.5, -1.0],
        [1.9, 0.6, 0.1, -0.1, -0.4, -0.9],
        [-1.2, 1.1, -0.4, 0.1, 0.9, -0.7],
    ])


def tied_logits() -> torch.Tensor:
    """(4, 6) log-probabilities where tokens tie at the edge of the nucleus at top_p = 0.5: keeping exactly
    as many as needed and keeping every tied token differ in every row."""
    probs = torch.tensor([
        [0.30, 0.16, 0.16, 0.16, 0.12, 0.10],
        [0.26, 0.26, 0.26, 0.10, 0.07, 0.05],
        [0.18, 0.18, 0.18, 0.18, 0.18, 0.10],
        [0.0, 0.45, 0.10, 0.20, 0.05, 0.20],
    ])
    return probs.log()


def kept(score: torch.Tensor, mass: torch.Tensor, p: float, *, ascending: bool = False, strict: bool = False,
         extra: int = 0) -> torch.Tensor:
    """(rows, V) bool: the tokens kept when ranked by ``score`` and ``mass`` is added up until it reaches p
    (``strict``: only while the total including the token stays below p; ``extra``: that many more)."""
    order = score.argsort(dim=1, descending=not ascending, stable=True)
    ranked = mass.gather(1, order)
    total = ranked.cumsum(dim=1)
    keep = total < p if strict else total - ranked < p
    for _ in range(extra):
        keep[:, 1:] |= keep[:, :-1].clone()
    keep[:, 0] = True  # a row keeps at least its first token (a learner's row with none raises instead)
    return torch.zeros_like(keep).scatter(1, order, keep)


def restricted(scaled: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    return scaled.masked_fill(~keep, -_INF).softmax(dim=1)


def nucleus(logits: torch.Tensor, T: float, p: float) -> torch.Tensor:
    """(rows, V) float64: the probabilities the draws must follow."""
    scaled = logits.double() / T
    probs = scaled.softmax(dim=1)
    return restricted(scaled, kept(probs, probs, p))


def slips(logits: torch.Tensor, T: float, p: float) -> list[tuple[torch.Tensor, str]]:
    """(probabilities (rows, V), advice) for the usual wrong ways at temperature T and top_p p."""
    scaled = logits.double() / T
    probs, plain = scaled.softmax(dim=1), logits.double().softmax(dim=1)
    cut = kept(probs, probs, p)
    out = [
        (restricted(scaled, kept(plain, plain, p)),
         f"at temperature {T} the kept tokens are those of temperature 1: the cut was made before the temperature was applied; "
         "apply the temperature first, then choose the set from the probabilities it gives"),
        (nucleus(logits, 1 / T, p),
         f"at temperature {T} the draws move the wrong way: the logits were multiplied by the temperature, so a temperature "
         "below 1 flattens the distribution where it should sharpen it"),
        (nucleus(logits, 1.0, p),
         f"the temperature has no effect: at temperature {T} the draws follow the model's probabilities as at temperature 1"),
    ]
    if p < 1.0:
        out += [
            (restricted(scaled, kept(scaled, scaled, p)),
             f"top_p = {p} was compared with a running total of logits: the total that must reach top_p is one of probabilities, "
             "those the temperature gives"),
            (restricted(scaled, kept(probs, probs, p, strict=True)),
             f"top_p = {p} dropped the token that makes the total reach top_p: the kept tokens stop short of top_p; the set is "
             "the smallest one whose total reaches it, so the token that crosses top_p is kept"),
            (restricted(scaled, kept(probs, probs, p, extra=1)),
             f"top_p = {p} kept one token more than needed: the set is the smallest one whose total reaches top_p"),
            (restricted(scaled, kept(probs, probs, p, ascending=True)),
             f"top_p = {p} kept the least likely tokens: the set is filled from the most likely token down"),
            (probs, f"top_p = {p} has no effect: tokens outside the set were drawn as often as without a cut; they must never be drawn"),
            (scaled.masked_fill(~cut, 0.0).softmax(dim=1),
             "tokens outside the set were still drawn: their logit was set to 0, which still leaves them a weight; a token outside "
             "the set must get probability 0"),
        ]
    by_column = scaled.softmax(dim=0)  # (rows, V): normalised down the batch, so small that nothing is cut
    out.append((by_column / by_column.sum(dim=1, keepdim=True),
                "the probabilities were normalised over the batch, down each column: each row is one distribution over the "
                "vocabulary, whose probabilities sum to 1"))
    return out


def frequencies(ids: torch.Tensor, rows: int, V: int) -> torch.Tensor:
    """(rows, V) share of each token among the draws of each of the ``rows`` distributions (tiled)."""
    return torch.nn.functional.one_hot(ids, V).view(-1, rows, V).double().mean(dim=0)


def matches(freq: torch.Tensor, probs: torch.Tensor, n: int = DRAWS) -> bool:
    """Frequencies within 5 standard errors (+ 0.003) of probabilities, everywhere."""
    if torch.isnan(probs).any():
        return False
    tol = 5 * (probs * (1 - probs) / n).sqrt() + 0.003
    return bool(((freq - probs).abs() <= tol).all())


def judge_ties(freq: torch.Tensor, logits: torch.Tensor, T: float, p: float) -> None:
    """Exactly as many tokens as the total needs when several tie at the edge (any of the tied ones)."""
    scaled = logits.double() / T
    probs = scaled.softmax(dim=1)
    size = kept(probs, probs, p).sum(dim=1, keepdim=True)  # (rows, 1): the nucleus's size
    edge = probs.sort(dim=1, descending=True).values.gather(1, size - 1)  # (rows, 1): the last kept probability
    tol = 1e-9
    inside, at_edge = probs > edge + tol, probs >= edge - tol
    drawn = freq > 0
    if bool(((drawn.sum(dim=1, keepdim=True) == size) & (drawn >= inside) & (drawn <= at_edge)).all()):
        if matches(freq, restricted(scaled, drawn)):
            return
    elif torch.equal(drawn, at_edge):
        r = int((at_edge.sum(dim=1, keepdim=True) != size).nonzero()[0, 0])
        raise CheckFailed(
            f"with top_p = {p}, a row whose probabilities are {[round(x, 2) for x in probs[r].tolist()]} drew {int(drawn[r].sum())} "
            f"different tokens: the tokens that tie at the edge of the set were all kept, where {int(size[r])} tokens already reach "
            "top_p; keep only as many as the total needs (which of the tied ones stay does not matter)"
        )
    r = int((drawn.sum(dim=1, keepdim=True) != size).nonzero()[0, 0]) if (drawn.sum(dim=1, keepdim=True) != size).any() else 0
    raise CheckFailed(
        f"with temperature {T} and top_p {p}, on a row whose probabilities are {[round(x, 2) for x in probs[r].tolist()]} you drew "
        f"{int(drawn[r].sum())} different tokens with these shares: {[round(x, 3) for x in freq[r].tolist()]}; the set is the "
        f"{int(size[r])} most likely tokens, the smallest set whose total reaches top_p"
    )
