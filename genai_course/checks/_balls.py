"""Distances and k-NN balls for lesson 11's checks (``evaluation``): exact, in float64."""

from __future__ import annotations

import torch

INF = float("inf")


def dist(a: torch.Tensor, b: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Exact distances (A, B) in float64 (no matrix-product shortcut: a copy is at 0)."""
    return torch.cdist(a.double(), b.double(), p=p, compute_mode="donot_use_mm_for_euclid_dist")


def radii(x: torch.Tensor, k: int, labels: torch.Tensor | None = None, *, own: bool = False, shift: int = 0, p: float = 2.0,
          keep: str = "same") -> torch.Tensor:
    """(N,) float64: distance to the (k + shift)-th nearest other row (of the same label if ``labels``; keep="other": of
    another label); own=True counts the row itself (at 0)."""
    d = dist(x, x, p)
    if labels is not None:
        same_label = labels[:, None] == labels[None, :]
        d[~same_label if keep == "same" else same_label & ~torch.eye(len(x), dtype=torch.bool)] = INF
    if not own:
        d.fill_diagonal_(INF)
    return d.kthvalue(k + shift, dim=1).values


def covered(points: torch.Tensor, centres: torch.Tensor, r: torch.Tensor, *, rule: str = "any", strict: bool = False,
            around: str = "centre") -> float:
    """Share of ``points`` inside a ball of ``centres`` (radius ``r``, one per centre; around="point": one per point, so the
    share of points whose own ball holds a centre)."""
    d = dist(points, centres)  # (P, C)
    reach = r[None, :] if around == "centre" else r[:, None]
    inside = d < reach if strict else d <= reach
    if rule == "any":
        return float(inside.any(dim=1).double().mean())
    if rule == "count":
        return float(inside.any(dim=1).double().sum())
    if rule == "balls":  # the share of balls that hold at least one point
        return float(inside.any(dim=0).double().mean())
    return float(inside.double().mean())  # "mean": the share of balls, averaged
