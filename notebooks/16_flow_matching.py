# %% [markdown]
# # Lesson 16: Straight paths: flow matching, rectified flow, and generating in a latent space
#
# By the end of this lesson you can train a generator that moves noise to data along a learned
# velocity field and samples in a handful of steps. You will write the straight path from
# noise to data, the flow-matching loss and two samplers (Euler and midpoint) by hand and check
# each against `genai_course.flow`; see why paths learned from random pairs curve, and
# straighten them with reflow; measure sample quality against the number of network calls
# for lesson 10's DDPM, flow matching and rectified flow; and draw digits from a flow that works
# in the 4 numbers of lesson 08's VAE instead of in 64 pixels.
#
# Most of the lesson's time goes to training: each training cell prints how long it took.
#
# Where it sits: after lesson 10 (diffusion) and lesson 15 (serving). Lesson 10's DDPM found
# every mode of the grid of 25, but drew each sample with 200 **network calls**. A network call
# is one forward pass of the network over the whole batch: the unit of work of a sampler, and
# what a server like lesson 15's pays for every request. DDIM used fewer calls and lost
# quality. This lesson asks how few calls can be enough.

# %%
# The one switch of this lesson, for slow laptops. False: every model trains here, as the
# lesson is written. True: each one is loaded instead from the runs `genai-course pretrain 16`
# (or `--all`) saved in runs/pretrained/: the same weights, losses and pictures, in seconds.
# A run that is missing or was trained with other settings is trained here, and says so.
PRETRAINED = False

# %%
import copy

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from genai_course import data, flow, metrics, models, stepcount, threads, utils, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
mixture = data.get_mixture("grid25")
print("mixture:", mixture.name, " modes:", mixture.n_modes, f" spread (data units per model unit): {mixture.scale:.2f}")

# %% [markdown]
# This lesson compares its models with lesson 10's two diffusion models, `ddpm-grid25` and
# `ddpm-digits`, with the same recipes. They depend on nothing built here, and this notebook's
# kernel uses one of the machine's two cores (one PyTorch thread, lesson 12), so a second
# process trains them now on the other core, with the command an instructor uses to prepare
# slow laptops: `genai-course pretrain 10`, into a scratch folder. The lesson loads them from
# there when it needs them, waiting if they are not done. (With `PRETRAINED = True` nothing
# starts: they come from `runs/pretrained/`.)

# %%
import tempfile

from genai_course import pretrained

lesson10 = None if PRETRAINED else pretrained.in_background(["10"], tempfile.mkdtemp(prefix="lesson16-"))


def lesson10_runs(model):
    """Where lesson 10's run of `model` loads from: runs/pretrained/ (True), or the second process's folder once it is there."""
    return True if PRETRAINED else lesson10.folder(model)

# %% [markdown]
# ## The straight path
#
# A **flow** moves every point of the plane a little at a time, from noise to data. Time runs
# from $t = 0$, where a point is noise $x_0 \sim \mathcal{N}(0, I)$, to $t = 1$, where it should be
# a data point $x_1$. **Careful: lesson 10 counted the other way.** There $x_0$ was the data and
# the steps ran *down* to it; here $x_0$ is the noise, $x_1$ the data, and time runs *up*.
#
# The simplest way from a noise point to a data point is a straight line at constant speed:
#
# $$x_t = (1 - t)\, x_0 + t\, x_1, \qquad \frac{d x_t}{d t} = x_1 - x_0.$$
#
# Its **velocity** (the direction and speed of motion, $dx_t / dt$) is the same at every $t$:
# the whole displacement $x_1 - x_0$. Points are in lesson 10's model units (data divided by the
# mixture's spread). By hand, checked against the library:

# %%
def my_interpolate(x0, x1, t):
    """x0, x1 (B, D), t (B,) in [0, 1] -> x_t (B, D) on the straight line."""
    t = t[:, None]  # (B, 1): one time per example, the same for every coordinate
    return (1 - t) * x0 + t * x1


def my_target_velocity(x0, x1):
    """(B, D) -> (B, D): d x_t / dt along the line, the same at every t."""
    return x1 - x0


g = torch.Generator().manual_seed(0)
x1 = mixture.sample(1000, generator=g) / mixture.scale  # (1000, 2) data, model units
x0 = torch.randn(x1.shape, generator=g)  # (1000, 2) noise, drawn independently of the data
t = torch.rand(1000, generator=g)  # (1000,)
print("same x_t as flow.interpolate:", utils.same(my_interpolate(x0, x1, t), flow.interpolate(x0, x1, t)))
print("same velocity as flow.target_velocity:", utils.same(my_target_velocity(x0, x1), flow.target_velocity(x0, x1)))

# %% [markdown]
# Flow matching (Lipman et al. 2023), rectified flow (Liu et al. 2023) and stochastic
# interpolants (Albergo & Vanden-Eijnden 2023) all start here: pair each data point with a noise
# point drawn **independently** of it, and join them with a line. **Flow matching** trains a
# network to predict, at a point on such a line, the line's velocity. Twenty such pairs, in data units:

# %%
def crossings(a, b):
    """How many pairs of segments a_i -> b_i (N, 2) cross: each pair's ends lie on opposite sides of the other."""
    def side(p, q, r):  # which side of the line p -> q each r is on: the sign of a cross product, (N, N)
        return torch.sign((q[:, None, 0] - p[:, None, 0]) * (r[None, :, 1] - p[:, None, 1]) - (q[:, None, 1] - p[:, None, 1]) * (r[None, :, 0] - p[:, None, 0]))
    cross = (side(a, b, a) * side(a, b, b) < 0) & (side(a, b, a).T * side(a, b, b).T < 0)  # (N, N), symmetric
    return int(cross.sum()) // 2


few0, few1 = x0[:20] * mixture.scale, x1[:20] * mixture.scale  # (20, 2) each, in data units
fig, ax = plt.subplots(figsize=(5, 5))
widgets.plot_points(ax, few1, mixture, density=True, extent=8, size=0, title="20 independent pairs: noise (grey) -> data (red)")
for a, b in zip(few0, few1):
    ax.plot([a[0], b[0]], [a[1], b[1]], color="C0", lw=0.8, alpha=0.7)
ax.scatter(few0[:, 0], few0[:, 1], s=14, c="0.5", zorder=3)
ax.scatter(few1[:, 0], few1[:, 1], s=14, c="C3", zorder=3)
plt.show()
print(f"pairs of lines that cross: {crossings(few0, few1)} of {20 * 19 // 2}")

# %% [markdown]
# The noise (in data units, a cloud about the size of the grid) and the data are paired at
# random, so the lines go every which way and many cross. That will matter.
#
# ## What the network should learn: the average of the lines
#
# The model is a network $v_\theta(x, t)$, a **velocity field**: for every point $x$ and time
# $t$, a velocity. Sampling follows it: start at noise and solve the **ordinary differential
# equation** (ODE) $dx/dt = v_\theta(x, t)$ from $t = 0$ to $t = 1$ (an ODE says how a quantity
# changes; solving it means following that change).
#
# Training asks the network, at a point $x_t$ on a random line, for that line's velocity
# $x_1 - x_0$. But many lines pass through the same point at the same time, each with its own
# velocity, and the network sees only $x_t$ and $t$. The best it can do under a squared error
# is their average:
#
# $$v^*(x, t) = \mathbb{E}\,[\, x_1 - x_0 \mid x_t = x \,].$$
#
# When the data are Gaussian, $\mathcal{N}(m, s^2 I)$, this average has a closed form (everything
# is Gaussian, so it is linear in $x$), `flow.gaussian_velocity`:
#
# $$v^*(x, t) = m + \frac{t s^2 - (1 - t)}{(1 - t)^2 + t^2 s^2}\,(x - t\, m).$$
#
# Here with $m = (1.5, -1)$ and $s = 0.3$ (the red circle: two standard deviations of the data).
# At $t = 0$ every arrow points at the data's mean: $v^* = m - x$. At every time the cloud of
# points $x_t$ moves as a whole at velocity $m$ (its centre is $t\, m$) while its spread,
# $\sqrt{(1 - t)^2 + t^2 s^2}$, goes from the noise's 1 to the data's $s$. At $t = 0.5$ it is
# still shrinking, so the arrows converge; at $t = 0.95$ it has shrunk a little below $s$, so near
# the data the arrows point along $m$ and slightly apart. (Each panel scales its arrows to fit.)

# %%
m, s = torch.tensor([1.5, -1.0]), 0.3  # the toy data: N(m, s^2 I), in model units


def exact(x, t):
    return flow.gaussian_velocity(x, t, mean=m, std=s)


fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
for ax, t in zip(axes, (0.0, 0.5, 0.95)):
    widgets.plot_velocity_field(exact, t, extent=2.5, grid=13, ax=ax, title=f"exact velocity at t = {t}")
    ax.add_patch(plt.Circle(m.tolist(), 2 * s, fill=False, color="C3", lw=1.5))  # where the data are
plt.show()

# %% [markdown]
# A small network trained on samples of that Gaussian should learn this field. `flow.FlowModel`
# is lesson 10's point denoiser (`diffusion.MLPDenoiser`), told a time in $[0, 1]$ instead of a
# step number; here a small one (2 layers of 64, no Fourier features) trained with
# `flow.train_flow` for 1,200 steps. The cell below trains and prints how long it took:

# %%
# NBVAL_IGNORE_OUTPUT
toy = flow.FlowModel(flow.FlowConfig(dim=2, width=64, depth=2, fourier=0))
toy_ema = copy.deepcopy(toy)  # the moving average of its weights, which samples (lesson 10's EMA)
gauss = m + s * torch.randn(20_000, 2, generator=torch.Generator().manual_seed(1))  # (20000, 2) the toy data
toy_config = flow.FlowTrainConfig(steps=1200, batch_size=256, lr=2e-3, ema=0.99, seed=0)
toy_history = flow.train_flow(toy, gauss, None, toy_config, ema=toy_ema, progress=False)
print(f"{len(toy_history.loss)} steps in {toy_history.seconds:.1f} s; final loss (mean of the last 100): {sum(toy_history.loss[-100:]) / 100:.3f}")

# %% [markdown]
# How close is it? At 20,000 points $x_t$ of random lines, the relative error
# $\sqrt{\,\overline{|v_\theta - v^*|^2} \,/\, \overline{|v^*|^2}\,}$:

# %%
g = torch.Generator().manual_seed(2)
x0 = torch.randn(20_000, 2, generator=g)
x1 = m + s * torch.randn(20_000, 2, generator=g)
t = torch.rand(20_000, generator=g)
xt = flow.interpolate(x0, x1, t)
with torch.no_grad():
    learned, truth = toy_ema(xt, t), exact(xt, t)
relative_error = ((learned - truth).pow(2).sum(1).mean() / truth.pow(2).sum(1).mean()).sqrt()
print("relative error < 0.05:", bool(relative_error < 0.05))

# %% [markdown]
# The loss itself never gets near 0 (it printed above): each line's own velocity differs from
# the average through its point, and that spread is what is left. What the network learns is
# the average, as the small relative error shows.
#
# ## The loss, by hand
#
# One training step: draw noise $x_0$ for each data point, a time $t \sim \mathcal{U}(0, 1)$ per
# example, build $x_t$ and ask for the line's velocity:
#
# $$L = \mathbb{E}_{x_1,\ x_0 \sim \mathcal{N}(0, I),\ t \sim \mathcal{U}(0, 1)}\ \big|\, (x_1 - x_0) - v_\theta(x_t, t) \,\big|^2.$$
#
# Compare lesson 10's loss: the same mean-squared error, with a velocity to predict instead of a
# noise. `FlowModel.loss` draws the noise first, then the times, so the same seed gives the
# same number:

# %%
def my_flow_loss(net, x1, generator=None):
    """Data x1 (B, D) -> scalar: mean |(x1 - x0) - v_theta(x_t, t)|^2 on random lines."""
    x0 = torch.randn(x1.shape, generator=generator)  # (B, D) noise, independent of x1
    t = torch.rand(x1.shape[0], generator=generator)  # (B,) t ~ U(0, 1)
    xt = my_interpolate(x0, x1, t)
    return F.mse_loss(net(xt, t), my_target_velocity(x0, x1))


mine = my_flow_loss(toy, gauss[:256], torch.Generator().manual_seed(3))
print("loss on a batch between 0.2 and 1:", 0.2 < mine.item() < 1)
print("same loss as FlowModel.loss:", utils.same(mine, toy.loss(gauss[:256], generator=torch.Generator().manual_seed(3))))

# %% [markdown]
# ## Sampling, by hand: Euler and midpoint
#
# To sample, solve the ODE in $K$ equal steps of length $\Delta t = 1/K$. The **Euler step**
# moves by the velocity where the step starts:
#
# $$x_{t + \Delta t} = x_t + \Delta t\, v_\theta(x_t, t).$$
#
# One network call per step: $K$ Euler steps cost $K$ calls. `FlowModel.velocity` runs the
# network once and adds 1 to `model.calls`, so we can count:

# %%
@torch.no_grad()
def my_euler_sample(model, x, steps):
    """Noise x (N, D) at t = 0 -> the state at t = 1 after `steps` Euler steps."""
    dt = 1.0 / steps
    for i in range(steps):
        x = x + dt * model.velocity(x, i * dt)
    return x


noise = torch.randn(500, 2, generator=torch.Generator().manual_seed(4))  # (500, 2)
for K in (1, 4, 10):
    toy_ema.calls = 0
    mine = my_euler_sample(toy_ema, noise, K)
    mine_calls, toy_ema.calls = toy_ema.calls, 0
    lib = toy_ema.sample(500, steps=K, method="euler", noise=noise)
    print(f"{K:2} Euler steps: same samples as FlowModel.sample: {utils.same(mine, lib)}   network calls: mine {mine_calls}, the library's {toy_ema.calls}")

# %% [markdown]
# The **midpoint step** first takes half an Euler step, then moves the whole step with the
# velocity found there, half way along:
#
# $$x_{t + \Delta t} = x_t + \Delta t\, v_\theta\!\big(x_t + \tfrac{\Delta t}{2} v_\theta(x_t, t),\ t + \tfrac{\Delta t}{2}\big).$$
#
# Two calls per step: $K$ midpoint steps cost $2K$ calls. It makes half as many steps for the same
# calls, each more accurate: once the steps are small enough its error shrinks like
# $\Delta t^2$, Euler's like $\Delta t$, so it wins; with few, large steps it can lose (the grid's
# table below shows both).

# %%
@torch.no_grad()
def my_midpoint_sample(model, x, steps):
    """Noise x (N, D) at t = 0 -> the state at t = 1 after `steps` midpoint steps."""
    dt = 1.0 / steps
    for i in range(steps):
        t = i * dt
        half = x + dt / 2 * model.velocity(x, t)  # half an Euler step
        x = x + dt * model.velocity(half, t + dt / 2)  # the whole step, with the velocity half way
    return x


for K in (1, 2, 5):
    toy_ema.calls = 0
    mine = my_midpoint_sample(toy_ema, noise, K)
    mine_calls, toy_ema.calls = toy_ema.calls, 0
    lib = toy_ema.sample(500, steps=K, method="midpoint", noise=noise)
    print(f"{K} midpoint steps: same samples as FlowModel.sample: {utils.same(mine, lib)}   network calls: mine {mine_calls}, the library's {toy_ema.calls}")

# %% [markdown]
# Counting calls is worth a test. In issue #67 of Meta's `flow_matching` library (2025), a user
# found that the example notebook sampling CIFAR images took a single step, not the 50 its
# settings named: the step setting never reached the solver, and nothing complained. A
# comparison "at 50 steps" made that way measures one. The course's tests check that
# `FlowModel.sample` makes exactly `flow.check_steps(steps, method)` calls for every method and
# step count.
#
# For the Gaussian the exact field carries each noise point $x_0$ to $m + s\, x_0$, so we can see
# how far a few steps land from where they should (the data's own spread is $s = 0.3$):

# %%
target = m + s * noise  # (500, 2): where each noise point should end
for name, sampler in (("Euler", my_euler_sample), ("midpoint", my_midpoint_sample)):
    for K in (1, 2, 4):
        err = (sampler(toy_ema, noise, K) - target).norm(dim=1).mean()
        print(f"{name:8} {K} steps ({K * (2 if name == 'midpoint' else 1)} calls): mean distance from the exact end < 0.1: {bool(err < 0.1)}")

# %% [markdown]
# Few Euler steps miss, even here. At $t = 0$ the noise point says nothing about which data point
# its line goes to, so the average velocity there is $v^*(x, 0) = m - x$ (the formula above at
# $t = 0$), and one Euler step takes *every* point to $x + (m - x) = m$, the data's mean. The
# exact paths are not straight: each point first heads for the mean, then settles into its own
# place in the small cloud. Two midpoint steps follow that bend closely enough, for 4 calls;
# four Euler steps, for the same 4 calls, do not. Keep this in mind for data with 25 modes.
#
# ## Two models of the grid of 25
#
# Lesson 10's `ddpm-grid25` (200 noising steps, the same recipe), and `flow-grid25`: the same
# network, `diffusion.MLPDenoiser` of 3 layers of 256 with Fourier features, told a time in
# $[0, 1]$, trained by flow matching for 3,000 steps. The recipes:

# %%
ddpm = models.build("ddpm-grid25", seed=0)
fm = models.build("flow-grid25", seed=0)
print("ddpm-grid25: noising steps T =", ddpm.recipe.ddpm.T, "", ddpm.recipe.train)
print("flow-grid25:", fm.recipe.flow, "\n            ", fm.recipe.train)

# %% [markdown]
# `ddpm-grid25` is training in the second process. The cell below trains `flow-grid25` and prints
# how long it took:

# %%
# NBVAL_IGNORE_OUTPUT
fm.fit(progress=False, pretrained=PRETRAINED)
print(f"flow-grid25: {fm.step} steps in {fm.history.seconds:.0f} s; final loss (mean of the last 200 steps): {sum(fm.history.loss[-200:]) / 200:.3f}")

# %% [markdown]
# With many steps the flow model covers the grid as the DDPM does: 2,000 samples with 100 Euler
# steps (100 network calls), scored with lesson 01's mode metrics:

# %%
fm_100 = metrics.mode_metrics(fm.sample(2000, generator=torch.Generator().manual_seed(0), method="euler", steps=100), mixture)
print("flow-grid25, 100 Euler calls: all 25 modes:", fm_100.modes == 25, "  high-quality fraction >= 0.9:", fm_100.hq_fraction >= 0.9)

# %% [markdown]
# ## Few steps fail: the paths curve
#
# The same 2,000 noise points through `flow-grid25` with 100, 4 and 1 Euler steps, recording
# every state (`flow.FlowTrajectory`). Each panel's title gives the paths' **straightness**
# (`flow.straightness`): the mean squared difference between each step's velocity and the whole
# path's displacement, 0 for straight lines at constant speed. A single step is a straight line
# by construction, so only paths of the same number of steps compare.

# %%
noise = torch.randn(2000, 2, generator=torch.Generator().manual_seed(5))  # (2000, 2) the starting noise
trajs, reports = {}, {}
for K in (100, 4, 1):
    trajs[f"{K} Euler"] = traj = flow.FlowTrajectory()
    drawn = fm.sample(2000, method="euler", steps=K, noise=noise, trajectory=traj)  # (2000, 2) data units
    reports[K] = metrics.mode_metrics(drawn, mixture)
    print(f"{K:3} Euler calls: all 25 modes: {reports[K].modes == 25}  high-quality fraction >= 0.9: {reports[K].hq_fraction >= 0.9}")
widgets.plot_paths(trajs, mixture=mixture, scale=fm.scale, n=150)
plt.show()

# %% [markdown]
# With 100 steps the paths bend: they leave the noise heading for the middle of the grid and
# turn towards their mode late. Four straight steps cannot follow such a bend and land between
# modes. One step lands nearly every point near the centre.
#
# It is the Gaussian's story again. At $t = 0$ the point $x_0$ says nothing about which data point
# it was paired with (the pairs were independent), so the average of the lines through it is
# $v^*(x, 0) = \mathbb{E}[x_1] - x$, and one Euler step takes every noise point to
# $\mathbb{E}[x_1]$: the mean of the data, the centre of the grid. Later, as $x_t$ nears one mode,
# the lines through it come from fewer modes and the average turns. Crossing lines make an
# average that curves:

# %%
one = torch.stack(trajs["1 Euler"].x)[-1] * fm.scale  # (2000, 2) the one-step samples, data units
near = (one.norm(dim=1) < 1).float().mean()  # the share of samples within 1 of the centre (the nearest other modes are 2 away)
print(f"one Euler step: at least 90% of the samples within 1 of the centre: {bool(near >= 0.9)}   (the grid's corners are {mixture.means.norm(dim=1).max():.1f} from it)")

# %% [markdown]
# ## Reflow: straighten the paths
#
# Liu et al.'s **reflow** replaces the random pairs by the model's own: draw noise $x_0$, let the
# trained model carry it to its sample $x_1 = \text{ODE}(x_0)$, and train again on the lines
# from each $x_0$ to its own $x_1$. The model's own paths never meet (two solutions of one ODE
# that met would coincide from then on), so the straight lines between their ends cross far less
# than random pairs' lines: the average through a point is close to the one line through it, and
# the new paths are close to straight, though not exactly.
# Liu et al. call every model of the method a **rectified flow** and count them: `flow-grid25`
# is the 1-rectified flow, the model trained on its pairs the 2-rectified flow.
#
# `rectified-grid25` starts from `flow-grid25`'s weights, draws 20,000 pairs with it (16
# midpoint steps each, as good as the teacher can draw) and trains 4,000 steps on them:

# %%
rect = models.build("rectified-grid25", seed=0)
rect.use_teacher(fm)  # reflow this flow-grid25, not a fresh one
print("teacher:", rect.recipe.teacher, " pairs:", rect.recipe.pairs, " midpoint steps per pair:", rect.recipe.pair_steps)
print(rect.recipe.train)

# %% [markdown]
# The cell below trains and prints how long it took:

# %%
# NBVAL_IGNORE_OUTPUT
rect.fit(progress=False, pretrained=PRETRAINED)
print(f"rectified-grid25: {rect.step} steps in {rect.history.seconds:.0f} s")

# %% [markdown]
# The pairs, and where they came from (the checkpoint keeps both, so a run loaded with
# `PRETRAINED = True` shows the same):

# %%
pairs = rect.pairs
print("pairs:", len(pairs), " x0:", tuple(pairs.x0.shape), " x1:", tuple(pairs.x1.shape))
print(f"pairs of lines that cross among the first 20: at most 4 of 190: {crossings(pairs.x0[:20], pairs.x1[:20]) <= 4}   (independent pairs, above: {crossings(few0, few1)})")
record = rect.teacher_record
print("drawn by:", record["name"], f"with {record['steps']} {record['method']} steps")
print("the weights that drew them are flow-grid25's (sha256 of fm.ema):", record["weights_sha256"] == utils.weights_sha256(fm.ema))

# %% [markdown]
# One pair by hand: the pairs' noise is drawn from a generator seeded with 10,000 plus the run's
# seed, and the teacher's moving-average weights carry it to its sample:

# %%
first_noise = torch.randn((len(pairs), 2), generator=torch.Generator().manual_seed(10_000 + rect.seed))[:1]  # (1, 2)
first_x1 = fm.ema.sample(1, steps=record["steps"], method="midpoint", noise=first_noise)  # (1, 2)
print("same noise as pair 0:", utils.same(first_noise, pairs.x0[:1]), "  same sample:", utils.same(first_x1, pairs.x1[:1], tol=1e-4))

# %% [markdown]
# Before and after, from the same noise with 16 Euler steps each, so their straightness compares:

# %%
traj_fm, traj_rf = flow.FlowTrajectory(), flow.FlowTrajectory()
fm.sample(2000, method="euler", steps=16, noise=noise, trajectory=traj_fm)
rect.sample(2000, method="euler", steps=16, noise=noise, trajectory=traj_rf)
widgets.plot_paths({"flow matching": traj_fm, "after reflow": traj_rf}, mixture=mixture, scale=mixture.scale, n=150)
plt.show()
straight_fm, straight_rf = flow.straightness(traj_fm), flow.straightness(traj_rf)  # the numbers are in the titles
print("straightness after reflow less than a tenth of before:", straight_rf < straight_fm / 10)

# %% [markdown]
# And the point of it: one network call per sample, before and after.

# %%
one_fm = fm.sample(2000, method="euler", steps=1, noise=noise)
one_rf = rect.sample(2000, method="euler", steps=1, noise=noise)
r_fm, r_rf = metrics.mode_metrics(one_fm, mixture), metrics.mode_metrics(one_rf, mixture)
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
widgets.plot_points(axes[0], one_fm, mixture, title=f"flow matching, 1 call: {r_fm.modes} modes")
widgets.plot_points(axes[1], one_rf, mixture, title=f"after reflow, 1 call: {r_rf.modes} modes")
plt.show()
print(f"1 call: flow matching {r_fm.modes} mode; after reflow {r_rf.modes} modes, high-quality fraction >= 0.7: {r_rf.hq_fraction >= 0.7}")

# %% [markdown]
# ## Quality against network calls
#
# Lesson 10's `ddpm-grid25` has trained in the second process meanwhile; the cell below loads it
# (it waits if the process is not done) and prints how long its training took:

# %%
# NBVAL_IGNORE_OUTPUT
ddpm.fit(progress=False, pretrained=lesson10_runs("ddpm-grid25"))
print(f"ddpm-grid25: {ddpm.step} steps, trained in {ddpm.history.seconds:.0f} s")

# %% [markdown]
# Now all three, at the same budgets of network calls per sample: `stepcount.CALLS`. The DDPM
# spends $K$ calls as $K$ DDIM steps (and we add its 200-step ancestral sampler); a flow model
# as $K$ Euler steps or, for even $K$, $K/2$ midpoint steps. 2,000 samples each, from the same
# seed. The table, with the time each took (which varies from machine to machine):

# %%
# NBVAL_IGNORE_OUTPUT
rows = stepcount.sweep({"ddpm-grid25": ddpm, "flow-grid25": fm, "rectified-grid25": rect}, stepcount.CALLS, n=2000,
                       extra={"ddpm-grid25": [("ancestral-200", {"sampler": "ancestral"})]})
print(stepcount.format_rows(rows))

# %% [markdown]
# The verdicts, at 4 calls a sample:

# %%
row = {(r.model, r.sampler): r.scores for r in rows}
rf4, ddim4 = row["rectified-grid25", "midpoint-2"], row["ddpm-grid25", "ddim-4"]
print("rectified-grid25, 4 calls (2 midpoint steps): all 25 modes:", rf4["modes"] == 25, "  high-quality fraction >= 0.9:", rf4["hq"] >= 0.9)
print("ddpm-grid25, 4 calls (4 DDIM steps): high-quality fraction < 0.2:", ddim4["hq"] < 0.2)
print("flow-grid25, 4 calls: high-quality fraction < 0.5 (Euler and midpoint):", max(row["flow-grid25", way]["hq"] for way in ("euler-4", "midpoint-2")) < 0.5)
fm_enough = min(r.calls for r in rows if r.model == "flow-grid25" and r.scores["hq"] >= 0.9)
print("fewest calls at which flow-grid25 reaches a high-quality fraction of 0.9:", fm_enough)
print("ddpm-grid25 with DDIM needs more than 32 calls for it:", max(row["ddpm-grid25", f"ddim-{k}"]["hq"] for k in (1, 2, 4, 8, 16, 32)) < 0.9)
print("ddpm-grid25's ancestral sampler (200 calls) reaches it:", row["ddpm-grid25", "ancestral-200"]["hq"] >= 0.9)
print("at 8, 16 and 32 calls flow-grid25's better sampler beats DDIM:",
      all(max(r.scores["hq"] for r in rows if r.model == "flow-grid25" and r.calls == k) > row["ddpm-grid25", f"ddim-{k}"]["hq"] for k in (8, 16, 32)))
print("flow-grid25 at 8 and 16 calls: Euler's high-quality fraction above midpoint's:",
      all(row["flow-grid25", f"euler-{k}"]["hq"] > row["flow-grid25", f"midpoint-{k // 2}"]["hq"] for k in (8, 16)),
      "  midpoint's reverse KL below Euler's:", all(row["flow-grid25", f"midpoint-{k // 2}"]["reverse_kl"] < row["flow-grid25", f"euler-{k}"]["reverse_kl"] for k in (8, 16)))
best = max(rows, key=lambda r: r.scores["hq"])
print("highest high-quality fraction of all:", best.model, best.sampler)
print("rectified-grid25's best below flow-grid25's best:", max(r.scores["hq"] for r in rows if r.model == "rectified-grid25")
      < max(r.scores["hq"] for r in rows if r.model == "flow-grid25"))

# %% [markdown]
# The high-quality fraction against the calls (log scale), one line per model and sampler; and
# the seconds per 1,000 samples:

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for (model, kind), color in zip([("ddpm-grid25", "ddim"), ("flow-grid25", "euler"), ("flow-grid25", "midpoint"),
                                 ("rectified-grid25", "euler"), ("rectified-grid25", "midpoint")], ["C0", "C1", "C1", "C2", "C2"]):
    pts = sorted((r.calls, r.scores["hq"]) for r in rows if r.model == model and r.sampler.startswith(kind))
    ax.plot(*zip(*pts), "o-" if kind != "midpoint" else "s--", color=color, label=f"{model}, {kind}")
ax.plot(200, row["ddpm-grid25", "ancestral-200"]["hq"], "*", color="C0", ms=12, label="ddpm-grid25, ancestral")
ax.set(xscale="log", xlabel="network calls per sample", ylabel="high-quality fraction", ylim=(0, 1.02), title="quality against network calls, grid of 25")
ax.legend(fontsize=8)
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(figsize=(7, 3.5))
for model, color in zip(("ddpm-grid25", "flow-grid25", "rectified-grid25"), ("C0", "C1", "C2")):
    pts = sorted((r.calls, r.seconds_per_1000) for r in rows if r.model == model)
    ax.plot(*zip(*pts), "o", color=color, label=model)
ax.set(xscale="log", yscale="log", xlabel="network calls per sample", ylabel="seconds per 1,000 samples", title="time (on this machine)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Reading them. Time grows with the calls, whatever the model: the three networks are the same
# size, so a call costs about the same, and the calls are the bill. Quality is where the models
# differ. The DDPM needs its many steps: with 32 DDIM calls or fewer it puts fewer than 90% of
# the samples on a mode, and its best of all is the 200-call ancestral sampler. Flow matching
# does better than DDIM at 8 to 32 calls (at 100 the two are about level), but its curved paths
# need 32 calls to reach 0.9.
# (Its odd point at 1 call is the collapse seen above: nearly every sample on the centre mode,
# which counts as high quality for those close enough to it, with 1 mode of 25 reached.) At 8
# and 16 calls its Euler steps put more samples on a mode than its midpoint steps, whose few
# large steps overshoot the bend, yet the midpoint samples spread more evenly over the modes
# (lower reverse KL, the third column). The rectified flow puts most samples on a mode from a
# single call, and with 4 calls it finds every mode and puts at least 90% of the samples on
# one. Its price: the teacher's training, 20,000 pairs drawn with 32 calls each, 4,000 more
# steps, and a ceiling: it imitates its teacher's samples, and its best is a little below the
# teacher's best.
#
# Scrub the number of calls per sample for the three models, each with the sampler that did best
# for it above at most counts (the DDPM with DDIM, flow matching with Euler steps, the rectified
# flow with midpoint steps for even counts):

# %%
way = {"ddpm-grid25": "ddim", "flow-grid25": "euler", "rectified-grid25": "midpoint"}
samples = {}
for name, model in (("ddpm-grid25", ddpm), ("flow-grid25", fm), ("rectified-grid25", rect)):
    samples[name] = {}
    for calls in stepcount.CALLS:
        options = dict(stepcount.samplers(model, calls))
        label = next((lab for lab in options if lab.startswith(way[name])), next(iter(options)))
        samples[name][calls] = stepcount.draw(model, 1000, options[label], seed=0)[0]  # (1000, 2)

# %%
# NBVAL_IGNORE_OUTPUT
widgets.calls_scrubber(samples, mixture=mixture)

# %% [markdown]
# Four of its frames as a still picture:

# %%
widgets.plot_calls(samples, [1, 4, 16, 100], mixture=mixture)
plt.show()

# %% [markdown]
# ## Generating in a learned latent space
#
# Each call of a network on 64 pixels costs far more than on a handful of numbers. **Latent diffusion**
# (Rombach et al. 2022, behind Stable Diffusion) moves the generator into a small **latent
# space** learned by an autoencoder: encode every training image to a short code, train the
# generator on the codes, and decode what it draws. The flow never sees a pixel.
#
# Our autoencoder is lesson 08's VAE, `vae-digits`: its encoder maps an 8x8 digit to a Gaussian
# over 4 latents, its decoder maps 4 latents back to a digit. Trained for 3,000 steps, as lesson
# 11 trains it. The cell below trains and prints how long it took:

# %%
# NBVAL_IGNORE_OUTPUT
vae = models.build("vae-digits", seed=0)
vae.fit(steps=3000, progress=False, pretrained=PRETRAINED)
print(f"vae-digits: {vae.step} steps in {vae.history.seconds:.0f} s")

# %% [markdown]
# `latent-flow-digits` learns the codes: the encoder's mean for each training digit,
# **standardised** (each of the 4 latents shifted and scaled to mean 0 and standard deviation 1
# over the training digits, `lat.latent_stats()`), so that data and noise have the same size. It
# is class-conditional: the label enters as in lesson 10's digits model, and during training it
# is dropped with probability 0.1, so one network also learns the label-free velocity. Then
# **classifier-free guidance** (lesson 10) can push each step past the labelled velocity, away
# from the label-free one: $\tilde v = (1 + w)\, v_\theta(x, t, y) - w\, v_\theta(x, t)$, with
# $w = 1$ here. The labelled and label-free velocities are computed side by side in one forward
# pass over a batch twice as large, which the course counts as one network call (about twice
# the arithmetic). It samples with 10 Euler steps.

# %%
lat = models.build("latent-flow-digits", seed=0)
lat.use_vae(vae)  # learn in this VAE's latents
print(lat.recipe.flow, "\n", lat.recipe.train)
print("sampler:", lat.recipe.method, lat.recipe.steps, "steps, guidance", lat.recipe.guidance)

# %% [markdown]
# The cell below trains and prints how long it took:

# %%
# NBVAL_IGNORE_OUTPUT
lat.fit(progress=False, pretrained=PRETRAINED)
print(f"latent-flow-digits: {lat.step} steps in {lat.history.seconds:.0f} s")

# %% [markdown]
# What it learned from: 4 standardised numbers and a label per training digit.

# %%
z, y = lat.training_data()
mean, std = lat.latent_stats()
print("latents:", tuple(z.shape), " labels:", tuple(y.shape), " stats:", tuple(mean.shape), tuple(std.shape))
print("standardised: mean 0 and std 1 per latent:", utils.same(z.mean(0), torch.zeros(4), tol=1e-4), utils.same(z.std(0), torch.ones(4), tol=1e-4))

# %% [markdown]
# The whole generator, drawn. Training (top): the frozen encoder turns each digit into 4
# numbers, and the flow learns to carry noise to them. Sampling (bottom): 4 noise numbers and a
# label through 10 guided Euler steps, un-standardised, and the decoder turns them into a digit.

# %%
fig, ax = plt.subplots(figsize=(12, 3.6))
ax.set(xlim=(0, 12), ylim=(0, 3.6))
ax.axis("off")
boxes = {  # name: (x, y, text, colour)
    "img": (0.2, 2.3, "digit\n8x8 = 64 pixels", "0.9"), "enc": (2.5, 2.3, "VAE encoder\n(frozen)", "#cde"),
    "lat": (4.8, 2.3, "4 latents\nstandardised", "#dec"), "flow": (7.1, 2.3, "flow matching\nloss on the 4 latents", "#fdb"),
    "noise": (0.2, 0.4, "noise x0\n4 numbers, N(0, I)", "0.9"), "ode": (2.5, 0.4, "10 Euler steps\nof v(x, t, y)\nguidance w = 1", "#fdb"),
    "z": (4.8, 0.4, "4 latents\nx std + mean", "#dec"), "dec": (7.1, 0.4, "VAE decoder", "#cde"), "out": (9.4, 0.4, "digit\n8x8", "0.9"),
}
for name, (x, y0, text, color) in boxes.items():
    ax.add_patch(plt.Rectangle((x, y0), 2.0, 0.9, facecolor=color, edgecolor="0.3"))
    ax.text(x + 1.0, y0 + 0.45, text, ha="center", va="center", fontsize=9)
for a, b in [("img", "enc"), ("enc", "lat"), ("lat", "flow"), ("noise", "ode"), ("ode", "z"), ("z", "dec"), ("dec", "out")]:
    ax.annotate("", xy=(boxes[b][0], boxes[b][1] + 0.45), xytext=(boxes[a][0] + 2.0, boxes[a][1] + 0.45), arrowprops=dict(arrowstyle="->"))
ax.annotate("label y", xy=(3.5, 1.3), xytext=(3.5, 1.9), ha="center", fontsize=9, arrowprops=dict(arrowstyle="->"))
ax.annotate("label y (dropped 10%)", xy=(8.1, 3.2), xytext=(8.1, 3.5), ha="center", fontsize=9, arrowprops=dict(arrowstyle="->"))
ax.text(11.8, 2.75, "training", ha="right", fontsize=10, style="italic")
ax.text(11.8, 1.5, "sampling", ha="right", fontsize=10, style="italic")
plt.show()

# %% [markdown]
# Ten of each class (row $k$ asked for a $k$), with the recipe's sampler; the label asked for
# above each digit:

# %%
asked = torch.arange(10).repeat_interleave(10)  # (100,)
lat.ema.calls = 0
drawn = lat.sample(100, generator=torch.Generator().manual_seed(0), labels=asked)  # (100, 1, 8, 8) in [0, 1]
print("network calls per sample:", lat.ema.calls)
widgets.show_digits(drawn, nrow=10, labels=asked, title="latent-flow-digits: 10 Euler steps, guidance 1")
plt.show()

# %% [markdown]
# Against lesson 10's `ddpm-digits`, the U-Net on the 64 pixels, trained in the second process
# meanwhile. The cell below loads it (waiting if need be) and prints how long its training took:

# %%
# NBVAL_IGNORE_OUTPUT
ddpm_digits = models.build("ddpm-digits", seed=0)
ddpm_digits.fit(progress=False, pretrained=lesson10_runs("ddpm-digits"))
print(f"ddpm-digits: {ddpm_digits.step} steps, trained in {ddpm_digits.history.seconds:.0f} s")

# %% [markdown]
# 500 digits each, 50 of each class, at 1, 4, 10 and 32 calls, each model with its recipe's
# guidance (the DDPM's 200-step ancestral sampler would take longer than the rest of this cell
# together; the README's table has it). Scored by lesson 06's digit judge: the
# confident fraction, the label accuracy and the feature distance (the Fréchet distance of the
# judge's features from the held-out digits'; lower is closer). The table, with times:

# %%
# NBVAL_IGNORE_OUTPUT
digit_labels = torch.arange(500) % 10
digit_rows = stepcount.sweep({"latent-flow-digits": lat, "ddpm-digits": ddpm_digits}, (1, 4, 10, 32), n=500, labels=digit_labels)
print(stepcount.format_rows(digit_rows))

# %%
drow = {(r.model, r.sampler): r.scores for r in digit_rows}
lat10, dd10 = drow["latent-flow-digits", "euler-10"], drow["ddpm-digits", "ddim-10"]
print("latent flow, 10 Euler calls: label accuracy >= 0.95:", lat10["accuracy"] >= 0.95)
print("ddpm-digits, 10 DDIM calls: label accuracy >= 0.95 too:", dd10["accuracy"] >= 0.95)
print("both from 4 calls on:", all(drow[name, way]["accuracy"] >= 0.95 for name, way in
                                   [("latent-flow-digits", "euler-4"), ("ddpm-digits", "ddim-4"), ("latent-flow-digits", "euler-32"), ("ddpm-digits", "ddim-32")]))
print("at 1 call: latent flow >= 0.95:", drow["latent-flow-digits", "euler-1"]["accuracy"] >= 0.95,
      "  ddpm-digits >= 0.95:", drow["ddpm-digits", "ddim-1"]["accuracy"] >= 0.95, "  ddpm-digits >= 0.8:", drow["ddpm-digits", "ddim-1"]["accuracy"] >= 0.8)
print("at 1 call: ddpm-digits' feature distance more than 3 times the latent flow's:",
      drow["ddpm-digits", "ddim-1"]["frechet"] > 3 * drow["latent-flow-digits", "euler-1"]["frechet"])
print("at 4, 10 and 32 calls: ddpm-digits' feature distance below the latent flow's:",
      all(drow["ddpm-digits", f"ddim-{k}"]["frechet"] < drow["latent-flow-digits", f"euler-{k}"]["frechet"] for k in (4, 10, 32)))
print("lowest feature distance of all: a ddpm-digits row:", min(digit_rows, key=lambda r: r.scores["frechet"]).model == "ddpm-digits")

# %% [markdown]
# Both models draw the digit asked for from 4 calls on; at a single call the latent flow already
# does, and the judge still reads most of the DDPM's labels, though its digits are far from real
# handwriting (a feature distance more than 3 times the latent flow's). And a call is cheaper:
# the latent network is a few dense layers on 4 numbers, where the U-Net runs convolutions over
# all 64 pixels, so its calls take a fraction of the U-Net's time (the s/1000 column above; the
# decoder runs once per sample). From 4 calls on, though, the pixel model's digits are closer to
# real handwriting. Two measures say why. The first is the VAE itself: every digit the latent
# model draws is a decoder's output, so it can be no closer to real digits than the VAE's own
# reconstructions of them. The second is variety: lesson 11's k-NN recall, the share of real
# held-out digits that some sample's neighbourhood covers (on the judge's features, 300 each):

# %%
judge = metrics.digit_classifier()
held_out = data.load_digits().x_test  # (300, 1, 8, 8)
with torch.no_grad():
    rebuilt = vae.vae.reconstruct(held_out)  # (300, 1, 8, 8): the VAE's reconstructions, decoder means
ceiling = metrics.digit_metrics(rebuilt).frechet
print("the latent flow's feature distance at 10 calls no higher than that of the VAE's reconstructions of held-out digits:",
      lat10["frechet"] <= ceiling)
recall = {}
for name, model, options in (("latent-flow-digits", lat, {}), ("ddpm-digits", ddpm_digits, {"sampler": "ddim", "steps": 10})):
    x, _ = stepcount.draw(model, 300, options, seed=1, labels=torch.arange(300) % 10)
    recall[name] = metrics.precision_recall(judge.conv_features(held_out), judge.conv_features(x)).recall
print("recall at 10 calls: latent flow below 0.1:", recall["latent-flow-digits"] < 0.1, "  ddpm-digits above it:",
      recall["ddpm-digits"] > recall["latent-flow-digits"])

# %% [markdown]
# The latent flow's digits are no farther from real handwriting than the VAE's own
# reconstructions of real digits are: the flow has learned the latents well (guidance even
# keeps it to typical ones), and the blur is the decoder's (every digit it draws is a decoder's
# mean, a smooth average, lesson 08). Its recall is near zero: with guidance its digits of one
# class look much alike (the grid above), as lesson 10 found guidance costs variety, and the
# decoder's means smooth away the strokes that make handwriting differ. The trade, then: cheap
# calls and the right digit from one call, for blur and sameness. A latent space is no sharper
# than its decoder; latent diffusion uses autoencoders trained to keep detail.
#
# ## Summary
#
# * A flow model learns a velocity field $v_\theta(x, t)$ and samples by solving
#   $dx/dt = v_\theta$ from noise at $t = 0$ to data at $t = 1$ (the opposite of lesson 10's count).
# * Flow matching trains on straight lines between independent noise and data:
#   $x_t = (1 - t) x_0 + t x_1$, target $x_1 - x_0$, a mean-squared error. The network learns the
#   average of the lines through each point; for Gaussian data that average has a closed form,
#   and a small network matched it.
# * Euler costs one network call a step, midpoint two; the library's sampler makes exactly the
#   calls it says.
# * Lines between independent pairs cross, so the average field curves: `flow-grid25` with one
#   step sends nearly every sample to the centre, and needs many calls to reach a high-quality fraction
#   of 0.9.
# * Reflow trains on the model's own pairs, whose lines barely cross: the paths straighten and
#   `rectified-grid25` finds all 25 modes, with at least 90% of the samples on one, in 4 calls.
# * In a VAE's 4-number latent space a class-conditional flow draws the digit asked for at
#   least 95% of the time in 10 calls (and from one), with cheap calls, at the price of the
#   VAE's blur and of variety.
#
# ## Going further
#
# * Pair better before training: optimal-transport minibatch couplings (Tong et al. 2023) pair
#   noise and data within each batch so that lines cross less, without a teacher.
# * Fewer calls still: consistency models and distillation train a network to jump from noise to
#   the end of the path in one call.
# * Stochastic interpolants (Albergo & Vanden-Eijnden 2023) put diffusion and flow matching into
#   one framework, with noise along the path or not.
# * Stable Diffusion 3 trains a rectified flow in an autoencoder's latent space (Esser et al. 2024).
# * Higher-order solvers (Heun, Runge-Kutta, adaptive step sizes) spend calls where the path bends.
# * From the command line: `genai-course train rectified-grid25 --from CKPT` reflows a
#   `flow-grid25` checkpoint, and `genai-course sample CKPT --steps K [--sampler euler|midpoint]`
#   samples with exactly the steps you ask.
#
# Exercises: `exercises/16_flow_matching.ipynb`: 16.1 Heun's sampler, 16.2 the exact velocity of a
# few points, 16.3 uncrossing 1D pairs.
