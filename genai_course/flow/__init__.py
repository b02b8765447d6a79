"""Flow matching and rectified flow (lesson 16): straight paths from noise to data.

A flow model learns a *velocity field* v(x, t): how fast and in which direction a point at x
should move at time t, so that following it from noise x_0 ~ N(0, I) at t = 0 to t = 1 (an
ordinary differential equation, ODE, solved in a few steps) ends on the data. *Flow matching*
trains it on the straight line x_t = (1 - t) x_0 + t x_1 between a noise and a data point drawn
independently, where the velocity is simply x_1 - x_0. Many lines cross, so the learned field
averages them and its paths curve; *reflow* (rectified flow) pairs each noise with the point
the model itself draws from it and trains again: those pairs' lines barely cross, the paths
straighten, and a few steps (even one) suffice.

Pieces:
- ``interpolate``, ``target_velocity``, ``gaussian_velocity`` (the exact field when data and noise
  are Gaussian), in ``paths``.
- ``FlowConfig``, ``FlowModel`` (loss, guided velocity, Euler and midpoint sampler that takes
  exactly the steps asked, counting its network calls), ``euler_step``, ``check_steps``,
  ``FlowTrajectory``, in ``sampling``; the network is lesson 10's ``MLPDenoiser`` told a time in
  [0, 1] instead of a step number.
- ``ReflowPairs``, ``make_pairs`` (recording the model they came from), ``straightness``, in ``reflow``.
- ``FlowTrainConfig``, ``train_flow`` (Adam, cosine learning rate, EMA), in ``training``.
"""

from __future__ import annotations

from .paths import gaussian_velocity, interpolate, target_velocity
from .reflow import ReflowPairs, make_pairs, straightness
from .sampling import METHODS, FlowConfig, FlowModel, FlowTrajectory, check_steps, euler_step
from .training import FlowHistory, FlowTrainConfig, make_optimizer, train_flow

__all__ = [
    "interpolate", "target_velocity", "gaussian_velocity", "METHODS", "FlowConfig", "FlowModel", "FlowTrajectory",
    "check_steps", "euler_step", "ReflowPairs", "make_pairs", "straightness", "FlowTrainConfig", "FlowHistory",
    "make_optimizer", "train_flow",
]
