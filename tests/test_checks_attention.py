"""genai_course.checks.attention (lesson 09, 9.3): correct code passes, typical mistakes are named."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genai_course.checks import attention as attention_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

INF = float("inf")

# --------------------------------------------------------------------------- reference solutions


def causal_attention(q, k, v, window=None):
    T, d = q.shape[1], q.shape[2]
    scores = q @ k.transpose(-2, -1) / d**0.5  # (B, T, T)
    visible = torch.tril(torch.ones(T, T, dtype=torch.bool))
    if window is not None:
        visible &= ~torch.tril(visible, diagonal=-window)
    return scores.masked_fill(~visible, -INF).softmax(dim=-1) @ v


def attention_with_additive_mask(q, k, v, window=None):
    T = q.shape[1]
    mask = torch.full((T, T), -INF).triu(1)  # 0 on and below the diagonal
    if window:
        mask = mask + torch.full((T, T), -INF).tril(-window)  # and -inf from `window` below it
    return torch.softmax(q @ k.mT / q.shape[-1] ** 0.5 + mask, dim=2) @ v


def attention_filled_with_large_negative(q, k, v, w=None):
    T = q.shape[1]
    scores = torch.einsum("bid,bjd->bij", q, k) / q.shape[-1] ** 0.5
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    hidden = (j > i) | ((i - j >= w) if w is not None else torch.zeros(T, T, dtype=torch.bool))
    return scores.masked_fill(hidden, -1e9).softmax(-1) @ v


def attention_by_library(q, k, v, window=None):
    if window is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[1]
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=(j <= i) & (i - j < window))


CORRECT = {
    "causal_attention": [causal_attention, attention_with_additive_mask, attention_filled_with_large_negative, attention_by_library],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(attention_checks, {
        "causal_attention": "Exercise 9.3 (the causal attention mask)",
    })
    assert list(CORRECT) == attention_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


# --------------------------------------------------------------------------- typical mistakes: 9.3


def attention(*, keep="causal", fill=-INF, after=False, scale=None, dim=-1, swap=False, post=None):
    """Single-head attention written right (the defaults) or one of the usual wrong ways."""

    def attend(q, k, v):
        T, d = q.shape[1], q.shape[2]
        scores = (k @ q.transpose(-2, -1)) if swap else (q @ k.transpose(-2, -1))
        scores = scores / (d**0.5 if scale is None else scale(q, k, v))
        ones = torch.ones(T, T, dtype=torch.bool)
        visible = {"causal": ones.tril(), "none": ones, "future": ones.triu(), "strict": ones.tril(-1), "after": ones.triu(1), "next": ones.tril(1)}[keep]
        if after:
            weights = scores.softmax(dim=dim).masked_fill(~visible, fill)
        else:
            weights = scores.masked_fill(~visible, fill).softmax(dim=dim)
        out = weights @ v
        return post(out, weights) if post else out

    return attend


def attention_scaled_after_softmax(q, k, v):
    T = q.shape[1]
    weights = (q @ k.transpose(-2, -1)).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), -INF).softmax(-1)
    return weights / q.shape[-1] ** 0.5 @ v


def attention_diagnosis_raises(q, k, v):
    """Right on the check's inputs (which track gradients), raises on any other: the diagnosis is left out."""
    if not q.requires_grad:
        raise RuntimeError("no")
    return causal_attention(q, k, v) * 1.01


def windowed(band):
    """Right without a window; with one, the window ignored ("none"), one too wide or narrow, or the first positions."""

    def attend(q, k, v, window=None):
        if window is None or band == "none":
            return causal_attention(q, k, v)
        T = q.shape[1]
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        seen = {"wide": i - j <= window, "narrow": i - j < window - 1, "first": j < window}[band]
        scores = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).masked_fill(~((j <= i) & seen), -INF)
        return scores.softmax(dim=-1) @ v

    return attend


def attention_without_grad(q, k, v):
    with torch.no_grad():
        return causal_attention(q, k, v)


ATTENTION_MISTAKES = [
    (attention(keep="none"), ["there is no mask", "the future leaks in", "exponential is 0"]),
    (attention(keep="future"), ["the wrong triangle is masked", "and not the past"]),
    (attention(keep="next"), ["the mask is off by one", "position i also sees position i + 1", "the future leaks in"]),
    (attention(fill=0.0), ["set to 0, which still has weight exp(0)", "a hidden score must weigh nothing"]),
    (attention(after=True, fill=0.0), ["the mask was applied after the softmax", "no longer sum to 1"]),
    (attention(after=True), ["NaN or inf at every position but the last", "-inf entered after the softmax"]),
    (attention(keep="strict"), ["position 0's output is NaN", "every position must see itself"]),
    (attention(keep="after"), ["the last position's output is NaN", "the visible ones j <= i"]),
    (attention(scale=lambda q, k, v: 1.0), ["the scores are not scaled", "sqrt(d)"]),
    (attention_scaled_after_softmax, ["divided by sqrt(d) after the softmax", "no longer sum to 1"]),
    (attention_diagnosis_raises, ["differs from softmax(q k^T / sqrt(d) masked) @ v"]),
    (attention(scale=lambda q, k, v: q.shape[-1]), ["the scores were divided by d", "sqrt(d)"]),
    (attention(scale=lambda q, k, v: q.shape[-1] ** -0.5), ["the scores were multiplied by sqrt(d)"]),
    (attention(scale=lambda q, k, v: q.shape[1] ** 0.5), ["divided by sqrt(T)", "not by sqrt(d)"]),
    (attention(scale=lambda q, k, v: v.shape[-1] ** 0.5), ["the square root of v's width", "not by sqrt(d)"]),
    (attention(dim=-2), ["the softmax ran over the queries (dim=1)", "do not sum to 1"]),
    (attention(dim=0), ["the softmax ran over the batch (dim=0)"]),
    (attention(swap=True), ["q and k are swapped", "position i asks with its query"]),
    (attention(fill=-1.0), ["changed when k and v at the last position 5 changed", "the future leaks in"]),
    (lambda q, k, v: v.clone(), ["the output at the last position 5 ignores v at position 0"]),
    (attention(post=lambda out, weights: out.index_fill(1, torch.tensor([2]), float("nan"))), ["the output contains NaN or infinite values"]),
    (lambda q, k, v: causal_attention(q, k, v) * 1.01, ["differs from softmax(q k^T / sqrt(d) masked) @ v", "example 0, position"]),
    (attention(post=lambda out, weights: weights), ["has shape (2, 6, 6), the attention weights", "the weighted sum of the values, shape (2, 6, 4)"]),
    (attention(post=lambda out, weights: (out, weights)), ["should return a torch.Tensor, but returned tuple"]),
    (lambda q, k, v: causal_attention(q, k, v)[:, -1], ["should have shape (2, 6, 4)", "has shape (2, 4)"]),
    (lambda q, k, v: causal_attention(q.double(), k.double(), v.double()), ["should have dtype torch.float32"]),
    (attention_without_grad, ["the output carries no gradient", "torch.no_grad()"]),
    (lambda q, k, v: causal_attention(q, k.detach(), v), ["no gradient reaches k"]),
    # the window (9.3's variation on the lesson): no window parameter, ignored, one off either way, from the start
    (lambda q, k, v: causal_attention(q, k, v), ["causal_attention(q, k, v, 3)", "raised TypeError"]),
    (windowed("none"), ["with window = 3 position i still sees positions more than 3 back", "the window was ignored"]),
    (windowed("wide"), ["with window = 3 each position sees the last 4 positions", "one too many"]),
    (windowed("narrow"), ["with window = 3 each position sees the last 2 positions", "one too few"]),
    (windowed("first"), ["position i sees positions 0 to 2, the start of the sequence"]),
    (lambda q, k, v, window=None: causal_attention(q, k, v, window) * (1.01 if window else 1.0),
     ["differs from attention over the last 3 positions", "example 0, position"]),
]

MISTAKES = [("causal_attention", fn, fragments) for fn, fragments in ATTENTION_MISTAKES]


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
