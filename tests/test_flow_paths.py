"""genai_course.flow.paths: the straight path, its velocity, and the exact Gaussian field."""

from __future__ import annotations

import pytest
import torch

from genai_course import flow
from genai_course.utils import same


def test_the_path_runs_from_the_noise_at_0_to_the_data_at_1_in_a_straight_line():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(5, 2, generator=g), torch.randn(5, 2, generator=g)
    assert same(flow.interpolate(x0, x1, 0.0), x0) and same(flow.interpolate(x0, x1, 1.0), x1)
    t = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    xt = flow.interpolate(x0, x1, t)
    assert same(xt, x0 + t[:, None] * (x1 - x0))  # one time per example
    assert same(flow.target_velocity(x0, x1), x1 - x0)  # data minus noise, not the other way
    # the velocity is the path's derivative, the same at every t
    h = 1e-3
    assert same((flow.interpolate(x0, x1, 0.3 + h) - flow.interpolate(x0, x1, 0.3)) / h, flow.target_velocity(x0, x1), tol=1e-3)


def test_bad_times_and_shapes_say_what_is_wrong():
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"times must lie in \[0, 1\] \(got -0.5..0.5\)"):
        flow.interpolate(x, x, torch.tensor([-0.5, 0.0, 0.5]))
    with pytest.raises(ValueError, match=r"t must be one time, or \(3,\) times, one per example \(got \(2,\)\)"):
        flow.interpolate(x, x, torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"noise x0 and data x1 must have the same shape \(got \(3, 2\) and \(3, 1\)\)"):
        flow.target_velocity(x, torch.zeros(3, 1))
    with pytest.raises(ValueError, match=r"std must be > 0 \(got 0.0\)"):
        flow.gaussian_velocity(x, 0.5, 0.0, 0.0)


def test_the_gaussian_field_at_the_ends_and_along_the_exact_flow():
    m, s = torch.tensor([1.0, -2.0]), 0.5
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(1))
    assert same(flow.gaussian_velocity(x, 0.0, m, s), m - x)  # at t = 0 x is the noise: E[x1] - x0
    assert same(flow.gaussian_velocity(x, 1.0, m, s), x)  # at t = 1 x is the data: x1 - E[x0] = x1
    # the ODE it defines maps noise z to m + s z along x_t = t m + sigma_t z (sigma_t^2 = (1-t)^2 + t^2 s^2)
    z = x
    for t in (0.1, 0.5, 0.9):
        sigma = ((1 - t) ** 2 + t**2 * s**2) ** 0.5
        dsigma = (-(1 - t) + t * s**2) / sigma
        assert same(flow.gaussian_velocity(t * m + sigma * z, t, m, s), m + dsigma * z)


def test_the_gaussian_field_is_the_average_of_the_straight_lines_through_each_point():
    """E[x1 - x0 | x_t = x] estimated by regression on many independent pairs equals the formula."""
    g = torch.Generator().manual_seed(2)
    m, s, t = 0.7, 1.5, 0.4
    x0, x1 = torch.randn(400_000, generator=g), m + s * torch.randn(400_000, generator=g)
    xt, v = (1 - t) * x0 + t * x1, x1 - x0
    slope = float(((xt - xt.mean()) * (v - v.mean())).mean() / xt.var())
    at = torch.tensor([[-1.0], [0.0], [2.0]])
    fitted = v.mean() + slope * (at[:, 0] - xt.mean())
    assert same(flow.gaussian_velocity(at, t, m, s)[:, 0], fitted, tol=2e-2)
