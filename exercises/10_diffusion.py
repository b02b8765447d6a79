# %% [markdown]
# Generated from solutions/10_diffusion.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 10: Diffusion (DDPM)
#
# Three exercises from lesson 10 (`notebooks/10_diffusion.ipynb`): the three pieces a denoising
# diffusion model is made of. You write the forward process, which noises clean data to any step
# $t$ in one go (how training examples are made); one step of the reverse process, which a
# sampler repeats from pure noise down to data; and classifier-free guidance, which steers a
# class-conditional model towards its label, here from a single call of the network. Replace
# each `raise NotImplementedError` with your code, then run the check cell below it: it prints ✅
# when your code is right, or says what is wrong.
#
# Notation: $T$ steps, numbered from 0: $t = 0, \dots, T-1$. Step $t$ adds Gaussian noise of
# variance $\beta_t$; $\alpha_t = 1 - \beta_t$ and $\bar\alpha_t = \alpha_0 \alpha_1 \cdots \alpha_t$,
# the share of the data's variance left after step $t$. A schedule holds them as three (T,)
# float32 tensors, `betas`, `alphas` and `alpha_bars`; data are in model units (digits scaled
# from [0, 1] to [-1, 1]).
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch

from genai_course import checks, data, diffusion, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
schedule = diffusion.make_schedule(200, "cosine")
betas, alphas, alpha_bars = schedule.betas, schedule.alphas, schedule.alpha_bars  # (T,) each
print(f"T = {schedule.T} steps; alpha_bar falls from {alpha_bars[0]:.4f} at t = 0 to {alpha_bars[-1]:.1e} at t = {schedule.T - 1}")

# %% [markdown]
# ## Exercise 10.1: the forward process
#
# Write `q_sample(x0, t, alpha_bars, noise)`: noise each clean example `x0[i]` to its own step
# `t[i]` in one go, with the closed form of the forward process
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)$$
#
# - `x0`: (B, ...) float32, any shape after the batch: points (B, 2) or images (B, 1, 8, 8);
# - `t`: (B,) int64, one step in 0..T-1 per example;
# - `alpha_bars`: (T,) float32, `alpha_bars[t]` $= \bar\alpha_t$ (already the cumulative product);
# - `noise`: like `x0`, the $\varepsilon$ (drawn by the caller: use it, don't draw your own).
#
# Return $x_t$, float32, of the shape of `x0`. Hints: `alpha_bars[t]` has shape (B,), one value
# per example, and the same code must serve points (B, 2) and images (B, 1, 8, 8). Broadcasting
# lines a (B,) tensor up with the *last* dim of `x0`, not the first: give it the shape that
# makes each value meet its own example, whatever `x0`'s number of dims. Take square roots of
# tensors (`math.sqrt` takes one number, not B of them).


# %%
def q_sample(x0: torch.Tensor, t: torch.Tensor, alpha_bars: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x0: (B, ...), t: (B,) int64, alpha_bars: (T,), noise: like x0 -> x_t like x0."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.q_sample(q_sample)

# %% [markdown]
# One digit noised with your `q_sample` to five steps, with the same $\varepsilon$ each time.
# The title gives $\sqrt{\bar\alpha_t}$, how much of the digit is left. The cosine schedule
# removes the signal slowly at first and last, and fastest in the middle; at $t = T - 1$
# nothing of the digit is left: $x_{T-1}$ is pure noise, which is where sampling starts.

# %%
try:
    digit = data.load_digits().x_train[:1] * 2 - 1  # (1, 1, 8, 8) in [-1, 1]
    steps = torch.tensor([0, 50, 100, 150, 199])
    eps = torch.randn((1, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    xt = q_sample(digit.repeat(len(steps), 1, 1, 1), steps, alpha_bars, eps.repeat(len(steps), 1, 1, 1))  # (5, 1, 8, 8)
    fig, axes = plt.subplots(1, len(steps), figsize=(9, 2.3))
    for ax, image, t in zip(axes, xt, steps.tolist()):
        ax.imshow(image[0], cmap="gray_r", vmin=-1.5, vmax=1.5)
        ax.set_title(f"t = {t}\n" + r"$\sqrt{\bar\alpha_t}$" + f" = {alpha_bars[t].sqrt():.2f}", fontsize=9)
        ax.axis("off")
    plt.show()
except NotImplementedError:
    print("(finish exercise 10.1 to see a digit fade into noise)")

# %% [markdown]
# ## Exercise 10.2: one reverse step
#
# Write `reverse_step(xt, t, eps, betas, alphas, alpha_bars, noise)`: one step of the reverse
# process, from $x_t$ to $x_{t-1}$, for a whole batch at the same step `t` (a Python int).
# `eps` is the network's prediction $\varepsilon_\theta(x_t, t)$ of the noise in $x_t$, and the
# step is
#
# $$x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \left( x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \varepsilon_\theta(x_t, t) \right) + \sigma_t \xi, \qquad \sigma_t = \sqrt{\beta_t}$$
#
# with $\xi$ = `noise`, added at every step **but the last**: at $t = 0$ return the mean alone
# (its output is the sample). Use the simplest variance, $\sigma_t^2 = \beta_t$, one of the two
# that Ho et al. (2020) found to work (the library's `diffusion.reverse_step(...,
# variance="beta")`; its default is the other one).
#
# - `xt`, `eps`, `noise`: (B, ...) float32, all of one shape (`noise` is given at t = 0 too, unused there);
# - `t`: int in 0..T-1; `betas`, `alphas`, `alpha_bars`: (T,) float32.
#
# Return $x_{t-1}$, float32, of the shape of `xt`. Hints: `betas[t]`, `alphas[t]` and
# `alpha_bars[t]` are single numbers (0-dim tensors) shared by the whole batch, so they
# multiply `xt` directly, no reshape. Divide the *whole* bracket by $\sqrt{\alpha_t}$ (one
# step's factor, not $\bar\alpha_t$); the noise is scaled by the standard deviation
# $\sqrt{\beta_t}$, not the variance.


# %%
def reverse_step(
    xt: torch.Tensor, t: int, eps: torch.Tensor, betas: torch.Tensor, alphas: torch.Tensor, alpha_bars: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """xt, eps, noise: (B, ...); t: int; betas, alphas, alpha_bars: (T,) -> x_{t-1} (B, ...)."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.reverse_step(reverse_step)

# %% [markdown]
# Your step with a *perfect* noise predictor. When the whole dataset is one point $p$, the
# noise in $x_t$ is known exactly, $\varepsilon = (x_t - \sqrt{\bar\alpha_t}\, p) / \sqrt{1 - \bar\alpha_t}$,
# which is what a trained network would predict. Five chains start from pure noise at
# $t = T - 1$ and take all 200 steps: they wander while the noise is large, are drawn in as
# it shrinks (right: each chain's distance to the point), and the last step lands each of
# them on the point.

# %%
point = torch.tensor([1.5, -0.5])  # the whole dataset, in model units


def perfect_eps(xt: torch.Tensor, t: int) -> torch.Tensor:
    """The noise that turned `point` into x_t (N, 2): a perfect network for a one-point dataset."""
    return (xt - alpha_bars[t].sqrt() * point) / (1 - alpha_bars[t]).sqrt()


try:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(5, 2, generator=generator)  # x_{T-1}: pure noise
    path = [x]
    for t in range(schedule.T - 1, -1, -1):
        x = reverse_step(x, t, perfect_eps(x, t), betas, alphas, alpha_bars, torch.randn(x.shape, generator=generator))
        path.append(x)
    path = torch.stack(path)  # (T + 1, 5, 2)
    print("every chain lands on the point:", torch.allclose(x, point.expand_as(x), atol=1e-3))
    z, e = torch.randn(5, 2, generator=generator), torch.randn(5, 2, generator=generator)
    library = diffusion.reverse_step(path[0], 120, e, schedule, z, variance="beta")
    print("same step as diffusion.reverse_step(..., variance='beta'):", torch.allclose(reverse_step(path[0], 120, e, betas, alphas, alpha_bars, z), library, atol=1e-5))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for i in range(path.shape[1]):
        left.plot(path[:, i, 0], path[:, i, 1], lw=0.8, alpha=0.8)
    left.scatter(path[0, :, 0], path[0, :, 1], s=20, c="grey", label="start: pure noise", zorder=3)
    left.scatter(point[:1], point[1:], s=200, marker="*", c="k", label="the data: one point", zorder=3)
    left.legend(fontsize=8)
    left.set_aspect("equal")
    right.plot((path - point).norm(dim=2), lw=0.8)  # (T + 1, 5): after 0, 1, ..., T steps
    right.set_xlabel("reverse steps taken (from t = T - 1 down to t = 0)")
    right.set_ylabel("distance to the point")
    plt.show()
except NotImplementedError:
    print("(finish exercise 10.2 to walk back from noise to the data)")

# %% [markdown]
# ## Exercise 10.3: classifier-free guidance in one forward pass
#
# The lesson computed guidance from two calls of the network, one with the labels and one with
# "no label", and then combined the two predictions: $w = 0$ gives the conditional prediction,
# and a larger $w$ goes further past it, away from the unconditional one. One call on a batch of
# $2B$ inputs costs less than two calls on $B$ (a network runs faster on one larger batch, on a
# GPU most of all), which is how the library's `DDPM.eps` does it. Do the same.
#
# Write `guided_eps(net, xt, t, y, w, null_label)`:
#
# - `net(x, t, y)`: the denoiser, taking x (N, ...), steps t (N,) int64 and labels y (N,) int64 and
#   returning its noise prediction, shaped like x. Call it **once**;
# - `xt`: (B, ...) float32, points (B, 2) or images (B, 1, 8, 8); `t`: (B,) int64, each example's step;
#   `y`: (B,) int64, the labels asked for;
# - `w`: float $\ge 0$, the guidance scale; `null_label`: int, the label the model was trained to
#   read as "no label" (10 for the lesson's digits model; take it from the argument: a model with
#   other classes has another one).
#
# Return the guided noise prediction, float32, shaped like `xt`. Hints: every example must be in
# the batch twice, and each row must get the step and the label of the example it is a copy of.
# Whatever order you build the batch in, take the network's output apart in the same order. Two
# cases you can check in your head: $w = 0$ gives back the conditional prediction, and where the
# two predictions agree the result is that same prediction, whatever $w$.


# %%
def guided_eps(net, xt: torch.Tensor, t: torch.Tensor, y: torch.Tensor, w: float, null_label: int) -> torch.Tensor:
    """net(x (N, ...), t (N,), y (N,)) -> (N, ...); xt (B, ...), t (B,), y (B,) -> guided noise prediction (B, ...), one call of net."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.guided_eps(guided_eps)

# %% [markdown]
# Guidance at work, with a perfect denoiser: the data are three classes, each a small Gaussian
# cloud, $\mathcal{N}(m_k, 0.35^2 I)$, and the clouds overlap. Noised to step $t$, class $k$ is
# $\mathcal{N}(\sqrt{\bar\alpha_t}\, m_k, v_t I)$ with $v_t = 0.35^2 \bar\alpha_t + 1 - \bar\alpha_t$, so its exact
# noise prediction is $\varepsilon_c = \sqrt{1 - \bar\alpha_t}\, (x_t - \sqrt{\bar\alpha_t}\, m_k) / v_t$; the
# unconditional one (label 3, "no label") averages the classes' predictions, weighted by how likely
# each class is to have made $x_t$. Your guidance and your reverse step then sample class 0 with
# $w = 0$ (the class itself), 1 and 4: the larger $w$, the more the samples crowd together on the
# side away from the other classes (where a sample is surely class 0), at the price of variety.

# %%
means = torch.tensor([[-0.6, 0.0], [0.6, 0.0], [0.0, 1.0]])  # (K, 2): the classes' centres
spread = 0.35
NULL = len(means)  # label 3: "no label"
calls = []  # the batch size of every call of the network


def exact_net(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A perfect denoiser for the three clouds: x (N, 2), steps t (N,), labels y (N,) (3: no label) -> noise (N, 2)."""
    calls.append(len(x))
    abar = alpha_bars[t][:, None]  # (N, 1)
    v = spread**2 * abar + 1 - abar  # (N, 1): each class's variance at the step
    centred = x[None] - abar.sqrt() * means[:, None]  # (K, N, 2)
    eps = (1 - abar).sqrt() * centred / v  # (K, N, 2): each class's prediction
    weights = (-(centred**2).sum(-1) / (2 * v[:, 0])).softmax(dim=0)  # (K, N): p(class | x_t)
    uncond = (weights[..., None] * eps).sum(0)  # (N, 2)
    cond = eps[y.clamp(max=NULL - 1), torch.arange(len(x))]  # (N, 2): each example's own class
    return torch.where((y == NULL)[:, None], uncond, cond)


def sample_class(k: int, w: float, n: int = 400) -> torch.Tensor:
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(n, 2, generator=generator)
    for t in range(schedule.T - 1, -1, -1):
        eps = guided_eps(exact_net, x, torch.full((n,), t), torch.full((n,), k), w, NULL)
        x = reverse_step(x, t, eps, betas, alphas, alpha_bars, torch.randn(x.shape, generator=generator))
    return x  # (n, 2)


try:
    calls.clear()
    guided = {w: sample_class(0, w) for w in (0.0, 1.0, 4.0)}
    print("network calls per sampling step:", len(calls) // (3 * schedule.T), " on a batch of", calls[0], "for 400 samples")
    spreads = {w: x.std(dim=0).mean().item() for w, x in guided.items()}
    print("the larger w, the tighter the samples:", spreads[0.0] > spreads[1.0] > spreads[4.0])
    print("and the further from the other classes:", bool((guided[4.0][:, 0].mean() < guided[0.0][:, 0].mean()).item()))
    x5, t5, y5 = torch.randn(5, 2, generator=torch.Generator().manual_seed(3)), torch.tensor([0, 50, 100, 150, 199]), torch.tensor([0, 1, 2, 0, 1])
    two_calls = diffusion.guided_eps(exact_net(x5, t5, y5), exact_net(x5, t5, torch.full_like(y5, NULL)), 2.5)
    print("same as two calls and diffusion.guided_eps:", torch.allclose(guided_eps(exact_net, x5, t5, y5, 2.5, NULL), two_calls, atol=1e-6))
    cloud = means.repeat_interleave(200, 0) + spread * torch.randn(600, 2, generator=torch.Generator().manual_seed(4))
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), sharex=True, sharey=True)
    for ax, (w, x) in zip(axes, guided.items()):
        ax.scatter(cloud[:, 0], cloud[:, 1], s=3, c="lightgrey", label="data, 3 classes")
        ax.scatter(x[:, 0], x[:, 1], s=3, c="C0", label="samples of class 0")
        ax.set_title(f"w = {w:g}")
        ax.set_aspect("equal")
    axes[0].legend(fontsize=8, loc="upper left", markerscale=3)
    plt.show()
except NotImplementedError:
    print("(finish exercises 10.2 and 10.3 to see guidance at work)")
