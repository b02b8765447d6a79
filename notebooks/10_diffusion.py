# %% [markdown]
# # Lesson 10: Diffusion models
#
# By the end of this lesson you can build and train a **denoising diffusion probabilistic
# model** (DDPM): a generator that starts from pure noise and removes it a little at a time
# until a sample is left. You will write the forward process that destroys data with noise,
# the training loss (predict the noise), the network's view of time, the reverse step that
# samples, the faster deterministic DDIM step and classifier-free guidance by hand from plain
# torch, and check each against `genai_course.diffusion`. You will train the course's DDPM on
# the grid of 25 Gaussians (it finds every mode, where lesson 05's GAN needed a cure for mode
# collapse), watch points and digits come out of noise with a scrubber, and train a small
# U-Net on the 8x8 digits that draws the digit you ask for. "Going further", at the end, trades
# sampling steps for speed and compares noise schedules.
#
# Run time: a few minutes on 2 CPU cores, most of it training the two models (each training
# cell prints how long it took).
#
# Where it sits: lessons 02-07 trained GANs (generative adversarial networks), a generator
# against a discriminator; lesson 08's VAE was a probability model with a latent code and a
# bound on the likelihood; lesson 09 generated text one token at a time. A diffusion model
# generates one *denoising step* at a time: like lesson 09 it breaks generation into many
# small predictions, and like lesson 08 it is trained with a bound on the likelihood (here
# reduced to a plain mean-squared error). Lesson 11 turns to testing generative models.

# %%
# The one switch of this lesson, for slow laptops. False: every model trains here, as the
# lesson is written. True: each one is loaded instead from the runs `genai-course pretrain 10`
# (or `--all`) saved in runs/pretrained/: the same weights, losses and pictures, in seconds.
# A run that is missing or was trained with other settings is trained here, and says so.
PRETRAINED = False

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import data, diffusion, metrics, models, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
mixture = data.get_mixture("grid25")
recipe = models.get_recipe("ddpm-grid25")
T = recipe.ddpm.T  # the number of noising steps
print("mixture:", mixture.name, " modes:", mixture.n_modes, " noising steps T:", T)

# %% [markdown]
# ## The idea: destroy, then learn to undo
#
# Turning noise into a digit in one step is hard: that is what a GAN's generator must learn,
# with only a discriminator's opinion to go on. Turning a *slightly* noisy digit into a
# slightly less noisy one is easy: the answer is almost the input. A diffusion model (Sohl-Dickstein
# et al. 2015; Ho, Jain & Abbeel 2020) splits generation into $T$ such easy steps.
#
# * The **forward process** destroys data. Each of $T$ steps shrinks the data a little and
#   adds a little Gaussian noise, with variance $\beta_t$: after $T$ steps nothing of the data
#   is left but $\mathcal{N}(0, I)$. It has no parameters and needs no training.
# * The **reverse process** undoes one step at a time. A network learns, for every noise
#   level, which noise was added; starting from pure noise and removing it step by step
#   produces a new sample.
#
# Data first. The 25 Gaussians of the grid sit at $\{-4, -2, 0, 2, 4\}^2$. The network works
# in "model units": points divided by the mixture's spread (the root-mean-square distance
# from the origin, about 4), so the points lie at a root-mean-square distance of about 1 from the
# origin, the same size as the noise $\mathcal{N}(0, I)$ up to a factor $\sqrt 2$: per
# coordinate the data has variance about 0.5 (printed below), the noise 1.
# `models.TrainedDDPM` converts back to data units when it samples.

# %%
x0 = mixture.sample(2000, generator=torch.Generator().manual_seed(0)) / mixture.scale  # (2000, 2) in model units
mode = metrics.nearest_mode(x0 * mixture.scale, mixture)[0]  # (2000,): which of the 25 modes each point came from
colors = plt.cm.hsv(mode.numpy() / mixture.n_modes)  # one colour per mode, to follow the points
print(f"spread of the mixture: {mixture.scale:.2f}  points: {tuple(x0.shape)}  mean square in model units: {x0.pow(2).sum(1).mean():.2f}  variance per coordinate: {x0.var(0).mean():.2f}")

# %% [markdown]
# ## The forward process
#
# One step of the forward process keeps $\sqrt{1 - \beta_t}$ of the current point and adds
# noise of variance $\beta_t$:
#
# $$q(x_t \mid x_{t-1}) = \mathcal{N}\big(\sqrt{1 - \beta_t}\, x_{t-1},\ \beta_t I\big).$$
#
# **How steps are counted.** The clean data is called $x_0$, as in every paper (and `x0` in
# the library). The code counts the noising steps like Python, $t = 0, 1, \dots, T-1$, so that
# $t$ indexes the schedule's tensors directly: $x_t$ is the data after step $t$, and $x_{T-1}$
# is pure noise. (The papers number the steps $1, \dots, T$; everything is one index off
# theirs, and the same otherwise.)
#
# Shrinking and adding noise together keep the variance of each coordinate at 1 if it starts
# at 1; ours starts at 0.5, so the steps raise it towards the noise's 1. Step by step, by hand,
# with the library's cosine schedule of betas:

# %%
schedule = diffusion.make_schedule(T, "cosine")
print(schedule)


def my_forward_step(x, t, schedule, generator=None):
    """x_{t-1} (B, 2) -> x_t (B, 2): one step of the forward process."""
    beta = schedule.betas[t]
    # x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) noise
    return (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=generator)


g = torch.Generator().manual_seed(1)
show_at = [0, 40, 80, 120, 160, T - 1]
x, frames = x0, {}
for t in range(T):
    x = my_forward_step(x, t, schedule, g)
    if t in show_at:
        frames[t] = x
fig, axes = plt.subplots(1, len(show_at), figsize=(16, 3))
for ax, t in zip(axes, show_at):
    widgets.plot_points(ax, frames[t], extent=3.2, color=colors, size=3, title=f"x_{t}")
    ax.set(xticks=[], yticks=[])
fig.suptitle("the forward process, one step at a time (colour: the mode each point started from)")
plt.show()


# %% [markdown]
# The grid survives the first steps, blurs into a cloud by the middle, and the colours are
# mixed at the end: $x_{T-1}$ is a standard Gaussian that remembers nothing of where its
# points came from. That cloud is where sampling will start.
#
# ## Jumping to any step in one go
#
# Training needs $x_t$ for a random $t$, and $t$ steps of a loop each time would be slow. A
# Gaussian plus independent Gaussian noise is Gaussian, so the steps compose. With
# $\alpha_t = 1 - \beta_t$ and their running product $\bar\alpha_t = \prod_{s=0}^{t} \alpha_s$:
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I).$$
#
# Why: the data's coefficient is the product of the $\sqrt{\alpha_s}$, and the noise variances
# add up, each shrunk by the steps after it: $v_t = \alpha_t v_{t-1} + \beta_t$ with $v_{-1} = 0$.
# That recursion is solved by $v_t = 1 - \bar\alpha_t$, as "Going further" checks in double precision.

# %% [markdown]
# So $x_t$ in one line. `q_sample` takes one step number per example, `t` of shape (B,),
# because a training batch mixes noise levels. Written here for points (B, 2); the library's
# serves images as well, and so will yours in exercise 10.1:

# %%
def my_q_sample(x0, t, schedule, noise):
    """x0 (B, 2) points, t (B,) steps in 0..T-1, noise like x0 -> x_t (B, 2)."""
    abar = schedule.alpha_bars[t][:, None]  # (B, 1): one abar_t per point, the same for both coordinates
    # x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


t = torch.randint(T, (2000,), generator=torch.Generator().manual_seed(2))  # (2000,) a step per point
noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(3))  # (2000, 2)
print("same x_t as diffusion.q_sample:", torch.allclose(my_q_sample(x0, t, schedule, noise), diffusion.q_sample(x0, t, schedule, noise)))


# %% [markdown]
# ## The training objective: predict the noise
#
# To undo step $t$ we would like $q(x_{t-1} \mid x_t)$, which depends on the whole data
# distribution. Given the clean point it is a plain Gaussian (Bayes' rule on Gaussians):
#
# $$q(x_{t-1} \mid x_t, x_0) = \mathcal{N}\big(\tilde\mu_t,\ \tilde\beta_t I\big), \qquad
#   \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1 - \bar\alpha_t}\, x_0 + \frac{\sqrt{\alpha_t}\,(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t}\, x_t, \qquad
#   \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\, \beta_t,$$
#
# with $\bar\alpha_{-1} = 1$. We don't know $x_0$ when sampling, but $x_t$ is $x_0$ plus a
# known multiple of the noise $\varepsilon$, so knowing the noise is knowing $x_0$:
# $x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \varepsilon) / \sqrt{\bar\alpha_t}$. Put that into
# $\tilde\mu_t$ and it simplifies to
#
# $$\tilde\mu_t = \frac{1}{\sqrt{\alpha_t}} \Big( x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \varepsilon \Big).$$
#
# So a network $\varepsilon_\theta(x_t, t)$ that predicts the noise is all the reverse process
# needs. Ho et al. derive the training loss from a bound on the likelihood, like lesson 08's
# ELBO, and then drop its weights: the **simple loss** is a mean-squared error,
#
# $$L = \mathbb{E}_{x_0,\ t \sim \mathcal{U}\{0..T-1\},\ \varepsilon \sim \mathcal{N}(0, I)} \big\| \varepsilon - \varepsilon_\theta\big(\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon,\ t\big) \big\|^2.$$
#
# (The algebra is checked on numbers in "Going further".)

# %% [markdown]
# ## Telling the network the time
#
# One network serves every noise level, so it must know $t$: at $t = 5$ the noise is a small
# correction, at $t = 195$ it is almost all of $x_t$. A raw integer is a poor input. Lesson 09's transformer
# learned one vector per position; here the step becomes fixed sines and cosines of many
# frequencies (the positional encoding of Vaswani et al. 2017), $\sin(t f_i)$ and $\cos(t f_i)$ with $f_i = 10000^{-i/(d/2)}$, where $d$ is the number of features (`dim`). Nearby steps get
# nearby features, and every step a different one.

# %%
def my_timestep_embedding(t, dim=64, max_period=10_000.0):
    """t (B,) steps -> (B, dim): half sines, half cosines of t at dim / 2 frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half) / half)  # (half,) from 1 down to ~1/max_period
    args = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([args.sin(), args.cos()], dim=1)  # (B, dim)


steps = torch.arange(T)
emb = my_timestep_embedding(steps)  # (T, 64)
print("embedding:", tuple(emb.shape), " same as diffusion.timestep_embedding:", torch.allclose(emb, diffusion.timestep_embedding(steps, 64)))

# %% [markdown]
# ## The denoiser for 2D points
#
# The network $\varepsilon_\theta(x_t, t)$ for points is an MLP (multilayer perceptron): 2
# coordinates in, 2 noise coordinates out. The step's features go through a small MLP of their
# own, and each hidden layer adds a learned projection of the result before its SiLU (sigmoid
# linear unit, $x\,\sigma(x)$: a smooth ReLU), so every layer knows how noisy its input is. The
# library's `diffusion.MLPDenoiser` also reads **Fourier features** of the point: sines and
# cosines of its coordinates at several frequencies ("Going further" writes it by hand). Its recipe, and the model `diffusion.DDPM` that holds it with the schedule:

# %%
c = recipe.ddpm
print(c)
torch.manual_seed(0)
lib_ddpm = diffusion.DDPM(c)  # the library's network (lib_ddpm.net, a diffusion.MLPDenoiser) with its schedule
print("parameters:", sum(p.numel() for p in lib_ddpm.net.parameters()))


# %% [markdown]
# ## The loss, by hand
#
# One training step's loss, for the untrained `lib_ddpm`: a step $t$ per example drawn uniformly, noise $\varepsilon$, the
# noisy $x_t$ in one jump, and the mean-squared error between the noise and its prediction.
# The library's `DDPM.loss` draws from its generator in this order (the steps, then the
# noise), so the same seed gives the same number:

# %%
def my_ddpm_loss(net, x0, schedule, generator=None):
    """x0 (B, 2) -> scalar: mean |eps - eps_theta(x_t, t)|^2 at random steps."""
    t = torch.randint(schedule.T, (x0.shape[0],), generator=generator)  # (B,) t ~ U{0..T-1}
    noise = torch.randn(x0.shape, generator=generator)  # (B, 2) eps ~ N(0, I)
    xt = my_q_sample(x0, t, schedule, noise)
    return F.mse_loss(net(xt, t), noise)


loss = my_ddpm_loss(lib_ddpm, x0[:256], schedule, torch.Generator().manual_seed(5))
print(f"untrained loss: {loss.item():.1f} (predicting 0 would score about 1: the noise has variance 1)")
print("same loss as DDPM.loss:", torch.allclose(loss, lib_ddpm.loss(x0[:256], generator=torch.Generator().manual_seed(5))))

# %% [markdown]
# ## Training on the grid of 25
#
# `train_ddpm` in the library is the loop: each step takes a batch of points, computes
# `DDPM.loss` and takes an Adam step (the optimiser of lesson 03), with the learning rate decayed along a cosine. It also
# keeps an **exponential moving average** (EMA) of the weights, $\bar\theta \leftarrow d\,\bar\theta + (1 - d)\,\theta$:
# the loss is noisy (a random $t$ and a random $\varepsilon$ per example), and the averaged
# weights sample better than the last step's. The model samples with `model.ema`. The recipe
# `ddpm-grid25` (the one `genai-course train ddpm-grid25` uses):

# %%
model = models.build("ddpm-grid25", seed=0)
print(model.recipe.train)

# %% [markdown]
# The cell below trains and prints how long it took:

# %%
# NBVAL_IGNORE_OUTPUT
model.fit(progress=False, pretrained=PRETRAINED)
print(f"{model.step} steps in {model.history.seconds:.0f} s; final loss (mean of the last 200 steps): {sum(model.history.loss[-200:]) / 200:.3f}")

# %% [markdown]
# The loss falls fast and then stays far above 0. That is expected: at large $t$ the noise is
# almost all of $x_t$ and easy to name, but at small $t$ the network has to tell a tiny noise
# from the data's own spread around its mode, which it cannot do exactly. The floor is the
# noise it cannot predict, not a failure to learn.

# %%
def smooth(values, window=100):
    """Moving average over `window` steps: (N,) -> (N - window + 1,)."""
    v = torch.tensor(values).cumsum(0)
    return (v[window - 1 :] - torch.cat([torch.zeros(1), v[:-window]])) / window


fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(model.history.step[99:], smooth(model.history.loss))
ax.set(xlabel="step", ylabel="mean |eps - eps_theta|^2", yscale="log", title="DDPM on the grid of 25: training loss (100-step mean)")
plt.show()

# %% [markdown]
# Does it cover the grid? 2,000 samples from `model.sample` (with the recipe's sampler,
# `model.recipe.sampler`: ancestral sampling through all $T$ steps, written by hand below),
# scored with lesson 01's mode metrics: modes captured, the share of high-quality samples
# (within 3 standard deviations of a mode) and the reverse KL of the samples' spread over the
# modes from the uniform one.

# %%
# NBVAL_IGNORE_OUTPUT
start_time = time.perf_counter()
samples = model.sample(2000, generator=torch.Generator().manual_seed(0))  # (2000, 2) in data units
recipe_seconds = time.perf_counter() - start_time
report = metrics.mode_metrics(samples, mixture)
print(f"sampled in {recipe_seconds:.1f} s;", report)

# %%
print("sampler:", model.recipe.sampler)
print("all 25 modes:", report.modes == 25)
print("high-quality fraction >= 0.85:", report.hq_fraction >= 0.85)
print("reverse KL <= 0.02:", report.reverse_kl <= 0.02)

# %%
fig, ax = plt.subplots(figsize=(4.8, 4.8))
widgets.plot_points(ax, samples, mixture, title="2,000 DDPM samples over the true density")
plt.show()


# %% [markdown]
# Every mode, in nearly equal shares, with no adversary and no cure for mode collapse: the
# loss asks the network about *every* training point at every noise level, so no mode can be
# forgotten the way a GAN's generator forgets the modes its discriminator stops asking about.

# %% [markdown]
# ## Sampling by hand: the reverse process
#
# Sampling runs the forward process backwards. Start from $x_{T-1} \sim \mathcal{N}(0, I)$; at
# each step $t$ from $T-1$ down to 0, predict the noise and move to the posterior mean, plus a
# little fresh noise:
#
# $$x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \Big( x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \varepsilon_\theta(x_t, t) \Big) + \sigma_t \xi, \qquad \xi \sim \mathcal{N}(0, I),$$
#
# with $\sigma_t^2 = \tilde\beta_t$, the posterior variance from above (Ho et al. found
# $\sigma_t^2 = \beta_t$ works as well). The last step, $t = 0$, adds no noise: its output is
# the sample. This is **ancestral sampling**: every step draws from a Gaussian. (Lesson 01
# used the name for drawing a mode, then a point from it; here it means this whole reverse
# chain.)

# %%
def my_reverse_step(xt, t, eps, schedule, xi=None):
    """x_t (B, ...), one step t, predicted noise like x_t, fresh noise xi (None at t = 0) -> x_{t-1}."""
    beta, alpha, abar = float(schedule.betas[t]), float(schedule.alphas[t]), float(schedule.alpha_bars[t])
    mean = (xt - beta / math.sqrt(1 - abar) * eps) / math.sqrt(alpha)
    if t == 0:
        return mean  # the last step: no noise
    return mean + math.sqrt(float(schedule.posterior_variance[t])) * xi


xt, eps, xi = torch.randn(3, 16, 2, generator=torch.Generator().manual_seed(6))
print("same step as diffusion.reverse_step:", all(
    torch.allclose(my_reverse_step(xt, t, eps, schedule, xi), diffusion.reverse_step(xt, t, eps, schedule, xi)) for t in (T - 1, 100, 1, 0)))

# %% [markdown]
# The whole loop: the first draw from the generator is $x_{T-1}$, then one $\xi$ per step
# (none at $t = 0$), the same order as the library's `DDPM.sample`, so the same seed gives the
# same samples:

# %%
@torch.no_grad()
def my_sample(net, schedule, n, generator=None):
    """n samples (n, 2) in model units: T reverse steps from pure noise."""
    x = torch.randn((n, 2), generator=generator)  # x_{T-1} ~ N(0, I)
    for t in range(schedule.T - 1, -1, -1):
        eps = net(x, torch.full((n,), t))  # (n, 2)
        xi = torch.randn(x.shape, generator=generator) if t > 0 else None
        x = my_reverse_step(x, t, eps, schedule, xi)
    return x


mine = my_sample(model.ema, model.schedule, 500, torch.Generator().manual_seed(1))  # (500, 2)
lib = model.ema.sample(500, sampler="ancestral", generator=torch.Generator().manual_seed(1))
print("same samples as DDPM.sample(sampler='ancestral'):", torch.allclose(mine, lib, atol=1e-5))
ancestral_report = metrics.mode_metrics(mine * mixture.scale, mixture)  # back to data units to score
print("500 hand-made samples: all 25 modes:", ancestral_report.modes == 25, "  high-quality fraction >= 0.85:", ancestral_report.hq_fraction >= 0.85)

# %% [markdown]
# Scrub through the reverse process for 500 points: noise at the left end of the slider, the
# sample at the right. Press play.

# %%
# NBVAL_IGNORE_OUTPUT
scrubber = widgets.reverse_scrubber(model, n=500, seed=0, sampler="ancestral")
scrubber

# %% [markdown]
# Six moments of it as still pictures:

# %%
widgets.plot_reverse_process(model, scrubber.trajectory)
plt.show()

# %% [markdown]
# In the stills the points stay one cloud for most of the way, drawn a little towards the
# middle: they are noise, and the best guess of where they came from is the centre. Only in the
# last few dozen steps does the cloud break up and each point settle onto a mode (scrub the
# right end of the slider above to watch it happen).
#
# ## Faster sampling: DDIM
#
# Ancestral sampling calls the network $T$ times per sample. Song, Meng & Ermon (2021)
# noticed that the same trained network supports a **deterministic** sampler that can skip
# steps: **DDIM** (denoising diffusion implicit models). Their sampler has a knob $\eta$ (eta;
# not the learning rate) that scales the fresh noise each step adds, and $\eta = 0$ adds none.
# At step $t$, estimate the clean point from the predicted noise, then noise it again to an
# earlier level $t' < t$ with the *same* noise:
#
# $$\hat x_0 = \frac{x_t - \sqrt{1 - \bar\alpha_t}\, \varepsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}}, \qquad
#   x_{t'} = \sqrt{\bar\alpha_{t'}}\, \hat x_0 + \sqrt{1 - \bar\alpha_{t'}}\, \varepsilon_\theta(x_t, t),$$
#
# with $\bar\alpha_{-1} = 1$ for the last step (the output is $\hat x_0$ itself). No fresh
# noise: the sample is a fixed function of the starting noise, and the steps $t'$ can be
# far apart. A DDIM sampler with $S$ steps visits $S$ evenly spaced steps from $T-1$ down to 0.

# %%
def my_ddim_step(xt, t, t_prev, eps, schedule):
    """x_t, predicted noise -> x_{t_prev} for any earlier t_prev (-1: the end), deterministically."""
    abar = float(schedule.alpha_bars[t])
    abar_prev = 1.0 if t_prev < 0 else float(schedule.alpha_bars[t_prev])
    x0_hat = (xt - math.sqrt(1 - abar) * eps) / math.sqrt(abar)  # the clean point the noise implies
    return math.sqrt(abar_prev) * x0_hat + math.sqrt(1 - abar_prev) * eps


print("same step as diffusion.ddim_step:", all(
    torch.allclose(my_ddim_step(xt, t, tp, eps, schedule), diffusion.ddim_step(xt, t, tp, eps, schedule)) for t, tp in ((T - 1, 150), (60, 20), (3, -1))))

# %% [markdown]
# DDIM is fast, at a cost in quality that "Going further" measures on these points; the course
# samples points with all $T$ ancestral steps.
#
# ## Digits: a small U-Net
#
# For 8x8 digits the denoiser must map an image to an image of noise, so it is convolutional:
# a tiny **U-Net** (Ronneberger et al. 2015, as used by Ho et al.). Features at 8x8 go down
# to 4x4 with twice the channels, where each unit sees most of the digit, and back up to 8x8;
# a **skip connection** brings the 8x8 features of the way down to the way up, where the fine
# detail is. It is built of **residual blocks**: two convolutions whose output is added to the
# block's input, so each block learns a correction to what it is given. The step (and the
# label, later) enters every residual block as a per-channel offset. `diffusion.ConvDenoiser`,
# drawn from one forward pass of four digits (the box lists every layer in call order with the
# shape it outputs):

# %%
digits = data.load_digits()
digits_model = models.build("ddpm-digits", seed=0)
net = digits_model.ddpm.net  # a diffusion.ConvDenoiser, untrained
x = digits_model.from_data(digits.x_train[:4])  # (4, 1, 8, 8): pixels from [0, 1] to [-1, 1]
t = torch.tensor([0, 50, 100, 199])
y = digits.y_train[:4]
widgets.draw_network(net, x, t, y, title="diffusion.ConvDenoiser")
plt.show()
print("parameters:", sum(p.numel() for p in net.parameters()))

# %% [markdown]
# Read it top to bottom: the input convolution and a residual block at 8x8, a stride-2
# convolution down to 4x4 and two residual blocks there, a transposed convolution back up to
# 8x8, the join with the skip connection (its 32 channels and the skip's 32 make the 64 that
# follow), and a last convolution to one channel of noise. **GroupNorm** (group normalisation)
# splits the channels into 8 groups and scales each group of each image to mean 0 and variance
# 1, then applies a learned scale and shift per channel. An **Identity** box returns its input
# unchanged: it is a residual block's shortcut, where the block's input is added back. An arrow
# marked "in forward()" carries a tensor the code changed without a layer: an activation, an
# addition (the step's offset, the residual sum) or the join with the skip.

# %% [markdown]
# **Labels, and no label.** The digits model is class-conditional: it is told which digit it is
# denoising, through a learned vector per class. It has one more vector, for "no label" (index
# 10), and during training each label is replaced by "no label" with probability `p_uncond`.
# So one network learns both $\varepsilon_\theta(x_t, t, y)$ and the unconditional
# $\varepsilon_\theta(x_t, t)$; the last section needs both. Digits live in $[-1, 1]$ in model
# units, and the sampler clips its estimate $\hat x_0$ to that range (`clip`). The recipe:

# %%
print(digits_model.recipe)

# %% [markdown]
# The cell below trains and prints how long it took:

# %%
# NBVAL_IGNORE_OUTPUT
digits_model.fit(progress=False, pretrained=PRETRAINED)
print(f"{digits_model.step} steps in {digits_model.history.seconds:.0f} s; final loss (mean of the last 200 steps): {sum(digits_model.history.loss[-200:]) / 200:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(digits_model.history.step[99:], smooth(digits_model.history.loss))
ax.set(xlabel="step", ylabel="mean |eps - eps_theta|^2", yscale="log", title="DDPM on digits: training loss (100-step mean)")
plt.show()

# %% [markdown]
# Sixteen digits coming out of the noise (asked for the classes 0-9 in turn, with the recipe's
# sampler, `digits_model.recipe.sampler`):

# %%
print("sampler:", digits_model.recipe.sampler)
widgets.plot_reverse_process(digits_model, n=16, labels=torch.arange(16) % 10, seed=0)
plt.show()

# %% [markdown]
# Now 500 digits *without* labels (the unconditional branch: "no label" at every step), with
# the recipe's sampler, ancestral through all $T$ steps. The course's digit classifier (lesson 06)
# judges them: the share it is confident about, and how evenly the classes are spread (1.0 =
# all ten equally). Timed, for later:

# %%
# NBVAL_IGNORE_OUTPUT
n_digits = 500
start_time = time.perf_counter()
digit_samples = digits_model.sample(n_digits, generator=torch.Generator().manual_seed(0))  # (500, 1, 8, 8) in [0, 1]
ancestral_seconds = time.perf_counter() - start_time
digit_report = metrics.digit_metrics(digit_samples)
print(f"sampled in {ancestral_seconds:.1f} s;", digit_report)

# %%
print("confident fraction >= 0.80:", digit_report.confident >= 0.80)
print("class entropy >= 0.98:", digit_report.class_entropy >= 0.98)

# %%
widgets.show_digits(digit_samples[:100], nrow=20, title="100 unconditional DDPM samples (no label)")
plt.show()

# %% [markdown]
# The rest of the lesson samples with DDIM, 50 steps, to stay fast. That costs quality:
# "Going further" measures DDIM-50 leaving the classifier confident about fewer label-free
# digits than ancestral sampling does, and putting at least five times as many points off
# their mode. Nothing here compares the two samplers with a label. Asked for a class, row $k$
# asked for a $k$:

# %%
ddim_steps = 50  # DDIM steps for the rest of the lesson
asked = torch.arange(10).repeat_interleave(10)  # (100,): ten of each class
per_class = digits_model.sample(100, generator=torch.Generator().manual_seed(1), labels=asked, sampler="ddim", steps=ddim_steps)
widgets.show_digits(per_class, nrow=10, title=f"row k asked for a k (guidance w = {digits_model.recipe.guidance:g}, explained next)")
plt.show()


# %% [markdown]
# ## Classifier-free guidance: draw me a 7, clearly
#
# A conditional model draws a 7 when asked, but sometimes a sloppy one. **Classifier-free
# guidance** (Ho & Salimans 2022) sharpens the request. At each step, predict the noise twice,
# with the label and without, and move past the conditional prediction, away from the
# unconditional one:
#
# $$\tilde\varepsilon = (1 + w)\, \varepsilon_\theta(x_t, t, y) - w\, \varepsilon_\theta(x_t, t).$$
#
# The difference of the two predictions points towards what makes $x_t$ look like a $y$ rather
# than like any digit; $w$ scales it. $w = 0$ is the plain conditional model. This is why the
# model was trained with labels dropped: one network gives both predictions.

# %%
def my_guided_eps(eps_cond, eps_uncond, w):
    """Two noise predictions (B, ...) -> the guided one: (1 + w) eps_cond - w eps_uncond."""
    return (1 + w) * eps_cond - w * eps_uncond


x = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(10))  # (8, 1, 8, 8) noise at step 150
y = torch.arange(8)
with torch.no_grad():
    eps_cond = digits_model.ema(x, torch.full((8,), 150), y)  # with the label
    eps_uncond = digits_model.ema(x, torch.full((8,), 150), torch.full((8,), 10))  # label 10: "no label"
    guided = my_guided_eps(eps_cond, eps_uncond, 2.0)
    print("same as diffusion.guided_eps:", torch.allclose(guided, diffusion.guided_eps(eps_cond, eps_uncond, 2.0)))
    print("same as DDPM.eps(x, t, y, guidance=2):", torch.allclose(guided, digits_model.ema.eps(x, 150, y, guidance=2.0), atol=1e-5))

# %% [markdown]
# The library's `DDPM.eps` gets the same numbers from *one* call of the network, on a batch
# that holds every example twice, once with its label and once with "no label" (exercise 10.3
# asks you to write it).

# %% [markdown]
# A sweep over $w$ (DDIM, 50 steps): 100 digits for each scale, 10 of each class, from the same
# noise, judged for the label asked for (label accuracy), for being recognisable at all
# (confident fraction), and for how far their classifier features sit from the held-out real
# digits' (the feature distance of lesson 06; lower is closer). Each guided step runs the
# network on twice the batch, so guided sampling costs about twice as much.

# %%
# NBVAL_IGNORE_OUTPUT
scales = [0.0, 1.0, 2.0, 4.0]
labels = torch.arange(10).repeat_interleave(10)  # (100,): 10 of each class
guided_samples, guided_reports = {}, {}
for w in scales:
    guided_samples[w] = digits_model.sample(len(labels), generator=torch.Generator().manual_seed(2), labels=labels, guidance=w, sampler="ddim", steps=ddim_steps)
    guided_reports[w] = metrics.digit_metrics(guided_samples[w], labels)
print(" w   label accuracy   confident   feature distance")
for w, r in guided_reports.items():
    print(f"{w:3g}   {r.label_accuracy:14.1%}   {r.confident:9.1%}   {r.frechet:16.1f}")

# %% [markdown]
# A feature distance from 100 digits is not comparable with one from many more: the features
# have 128 dimensions, 100 samples estimate their covariance poorly (its rank is at most 99),
# and that alone makes the distance larger. So the yardstick is 100 *real* training digits, 10
# of each class, scored the same way against the same held-out digits, for ten different draws
# of them:

# %%
classifier = metrics.digit_classifier()
real_distances = []
with torch.no_grad():
    held_out = classifier.features(digits.x_test)  # (300, 128): the held-out digits' features
    for draw in range(10):
        g = torch.Generator().manual_seed(draw)
        pick = torch.cat([torch.nonzero(digits.y_train == k).flatten()[torch.randperm(int((digits.y_train == k).sum()), generator=g)[:10]] for k in range(10)])
        real_distances.append(metrics.frechet_distance(classifier.features(digits.x_train[pick]), held_out))  # 100 real digits
real_low, real_high = min(real_distances), max(real_distances)
print(f"100 real training digits against the held-out ones, 10 draws: feature distance from {real_low:.1f} to {real_high:.1f}")

# %%
default_w = digits_model.recipe.guidance
frechets = {w: guided_reports[w].frechet for w in scales}
print(f"label accuracy at the recipe's guidance w = {default_w:g} >= 0.95:", guided_reports[default_w].label_accuracy >= 0.95)
print("label accuracy rises from w = 0 to w = 2:", guided_reports[2.0].label_accuracy > guided_reports[0.0].label_accuracy)
print("confident fraction rises from w = 0 to w = 2:", guided_reports[2.0].confident > guided_reports[0.0].confident)
print("with labels (w = 0, DDIM) more confident than without (ancestral, above):", guided_reports[0.0].confident > digit_report.confident)
print("every scale's feature distance above every draw of real digits:", min(frechets.values()) > real_high)
print("w = 4 the furthest, ahead of the next by more than the real draws' range:",
      frechets[4.0] - max(frechets[w] for w in scales if w != 4.0) > real_high - real_low)
print("w = 0, 1 and 2 within less than the real draws' range of each other:",
      max(frechets[w] for w in (0.0, 1.0, 2.0)) - min(frechets[w] for w in (0.0, 1.0, 2.0)) < real_high - real_low)

# %% [markdown]
# A label already helps: at $w = 0$ the classifier is confident about more digits than about
# the label-free ones above, though those had the slower ancestral sampler. Guidance buys the
# label: with $w = 0$ some digits are ambiguous or the wrong class; by $w = 2$ every one of
# the 100 is the digit asked for, and the classifier is confident about all of them. In the
# pictures below the strokes grow darker and thicker as $w$ grows. Ho & Salimans report that
# guidance also costs variety; nothing here measures that (the class entropy cannot see
# variety within a class), and the sevens of the $w = 0$ row already look much alike.
#
# What the feature distance can tell, at this sample size: the digits of every scale sit
# further from real handwriting than 100 real digits do, and at $w = 4$ they drift furthest, by
# more than the spread of the real draws. What it cannot tell: which of $w = 0$, 1 and 2 is
# closest to real digits, since their distances differ by less than the real draws do among
# themselves; nor whether a digit is the class asked for (that is the label accuracy). So the
# distance gives no reason against the recipe's $w = 2$, which takes the last points of label
# accuracy and confidence. Pick a class and move $w$:

# %%
# NBVAL_IGNORE_OUTPUT
widgets.guidance_slider(digits_model, label=7, n=16, seed=0, scales=(0.0, 0.5, 1.0, 2.0, 4.0, 8.0))

# %% [markdown]
# The same noise drawn as a 7 at four scales:

# %%
widgets.plot_guidance(digits_model, label=7, scales=(0.0, 1.0, 2.0, 4.0), n=10, seed=0)
plt.show()

# %% [markdown]
# ## Summary
#
# * A diffusion model destroys data with noise in $T$ small Gaussian steps (the forward process,
#   in closed form $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$) and
#   learns to undo them one at a time.
# * Training is regression: predict the noise $\varepsilon$ from $x_t$ and $t$, with a
#   mean-squared error at a random step. No adversary, no bound to balance, and no mode is
#   forgotten: the DDPM covers all 25 modes of the grid.
# * Ancestral sampling takes all $T$ steps, each a Gaussian around
#   $(x_t - \beta_t \varepsilon_\theta / \sqrt{1 - \bar\alpha_t}) / \sqrt{\alpha_t}$; DDIM reuses the
#   same network deterministically and skips steps: faster, and on the grid's narrow modes the
#   fewer its steps, the fewer samples land on a mode ("Going further").
# * On digits a small U-Net does the same; trained with labels dropped at random, it also draws
#   digits without a label, though the classifier is confident about fewer of them than with
#   one; classifier-free guidance $(1 + w)\, \varepsilon(x_t, t, y) - w\, \varepsilon(x_t, t)$
#   makes the digit the one you asked for (at a cost in variety that Ho & Salimans report and
#   this lesson does not measure).
#
# ## Exercises
#
# Open `exercises/10_diffusion.ipynb`: write the forward process in closed form for points and
# images alike (10.1, `q_sample`, one step per example), one step of the reverse process (10.2,
# `reverse_step`, there with the other variance, $\sigma_t^2 = \beta_t$) and classifier-free
# guidance from a single call of the network (10.3, `guided_eps`), each with an instant check.
#
# Next: lesson 11, testing generative models: quality, diversity and speed, measured.

# %% [markdown]
# ## Going further
#
# Side topics, for when the core is done: the noise schedule, the algebra of the posterior, the
# step features, the point denoiser by hand, what the network learned, DDIM's step count on
# points and digits, and the U-Net one module at a time.
#
# ### The noise schedule: linear or cosine
#
# The betas decide how fast the data is destroyed. Ho et al. let $\beta_t$ grow linearly
# from $10^{-4}$ to $0.02$ over 1,000 steps (the library stretches it to our $T$). Nichol &
# Dhariwal (2021) noticed that this wipes out small images long before the last step, so that
# many steps are spent turning noise into slightly different noise, and chose $\bar\alpha_t$
# instead: a squared cosine that falls gently at both ends. The **signal-to-noise ratio**
# $\mathrm{SNR}_t = \bar\alpha_t / (1 - \bar\alpha_t)$, the data's share of $x_t$'s variance over the
# noise's, tells the same story on a log scale.

# %%
schedules = {kind: diffusion.make_schedule(T, kind) for kind in ("linear", "cosine")}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
for kind, s in schedules.items():
    axes[0].plot(s.alpha_bars, label=kind)
    axes[1].plot((s.alpha_bars / (1 - s.alpha_bars)).log10(), label=kind)
axes[0].set(xlabel="step t", ylabel="abar_t", title="how much of x_0 is left")
axes[1].axhline(0, color="k", lw=0.6)
axes[1].set(xlabel="step t", ylabel="log10 SNR_t", title="signal-to-noise ratio abar_t / (1 - abar_t)")
axes[0].legend()
plt.show()
for kind, s in schedules.items():
    print(f"{kind}: steps that are almost pure noise (abar_t < 0.01): {int((s.alpha_bars < 0.01).sum())} of {T}")

# %% [markdown]
# With the linear schedule a third of the steps see almost nothing but noise; with the cosine
# schedule, a few. The course's DDPMs use the cosine schedule. Half-way, the two look like this:

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
for ax, (kind, s) in zip(axes, schedules.items()):
    xt = my_q_sample(x0, torch.full((len(x0),), T // 2), s, noise)
    widgets.plot_points(ax, xt, extent=3.2, color=colors, size=3, title=f"{kind}: x_{T // 2}")
    ax.set(xticks=[], yticks=[])
plt.show()

# %% [markdown]
# ### The posterior, checked on numbers
#
# The posterior mean of "The training objective" computed from $x_0$ and from $\varepsilon$ agree,
# and the posterior variance is the library's:

# %%
b = schedule.betas.double()  # (T,) in double precision: at small t, 1 - abar_t is tiny
a, ab = 1 - b, torch.cumprod(1 - b, dim=0)  # alpha_t, abar_t
ab_prev = torch.cat([torch.ones(1, dtype=torch.float64), ab[:-1]])  # abar_{t-1}, with abar_{-1} = 1
x0_, eps_ = x0[:T].double(), noise[:T].double()  # (T, 2): one point at every step t
xt = ab.sqrt()[:, None] * x0_ + (1 - ab).sqrt()[:, None] * eps_
mean_from_x0 = ((ab_prev.sqrt() * b)[:, None] * x0_ + (a.sqrt() * (1 - ab_prev))[:, None] * xt) / (1 - ab)[:, None]
mean_from_eps = (xt - (b / (1 - ab).sqrt())[:, None] * eps_) / a.sqrt()[:, None]
print("posterior mean from x_0 = from eps:", torch.allclose(mean_from_x0, mean_from_eps))
print("posterior variance as the library's:", torch.allclose(((1 - ab_prev) / (1 - ab) * b).float(), schedule.posterior_variance))

# %% [markdown]
# ### The step features, pictured
#
# Each step's 64 features (left), and how alike two steps' features are (right): nearby steps
# get nearby features, and every step a different one.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4), width_ratios=[1.6, 1])
axes[0].imshow(emb.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
axes[0].set(xlabel="step t", ylabel="feature", title="timestep_embedding: sines (top half), cosines (bottom half)")
similarity = F.normalize(emb, dim=1) @ F.normalize(emb, dim=1).T  # (T, T) cosine similarity
axes[1].imshow(similarity, cmap="viridis")
axes[1].set(xlabel="step", ylabel="step", title="similarity of two steps' features")
plt.show()

# %% [markdown]
# ### The point denoiser by hand, with Fourier features
#
# Near the end of the reverse process the noise to predict changes abruptly between
# neighbouring modes (a point half-way between two modes belongs to one or the other), and an
# MLP of the raw coordinates draws smooth functions. Fourier features help: besides $x$,
# the network reads $\sin(\pi 2^k x)$ and $\cos(\pi 2^k x)$ for $k = 0, \dots, F-1$, waves whose
# shortest periods are finer than the spacing of the modes (0.5 in model units). By hand, with
# the library's layer names, checked against `diffusion.MLPDenoiser` with the same weights:

# %%
class MyMLPDenoiser(nn.Module):
    def __init__(self, width=256, depth=3, fourier=0, time_dim=64):
        super().__init__()
        self.time_dim, self.fourier = time_dim, fourier
        self.cond = nn.ModuleDict({"time": nn.Sequential(nn.Linear(time_dim, width), nn.SiLU(), nn.Linear(width, width))})
        self.inp = nn.Linear(2 + 4 * fourier, width)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.emb = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))  # one projection of the step per layer
        self.out = nn.Linear(width, 2)

    def features(self, x):
        """x (B, 2) -> (B, 2 + 4F): x, then sin and cos of pi 2^k x."""
        freqs = math.pi * 2.0 ** torch.arange(self.fourier, dtype=torch.float32)  # (F,)
        a = (x[:, :, None] * freqs).flatten(1)  # (B, 2, F) -> (B, 2F)
        return torch.cat([x, a.sin(), a.cos()], dim=1)

    def forward(self, x, t):
        """x (B, 2), t (B,) -> predicted noise (B, 2)."""
        e = self.cond["time"](my_timestep_embedding(t, self.time_dim))  # (B, width)
        h = F.silu(self.inp(self.features(x)) + self.emb[0](e))  # (B, width)
        for layer, emb_layer in zip(self.hidden, self.emb[1:]):
            h = F.silu(layer(h) + emb_layer(e))
        return self.out(h)  # (B, 2)


c = recipe.ddpm
torch.manual_seed(0)
my_net = MyMLPDenoiser(c.width, c.depth, c.fourier)
lib_ddpm = diffusion.DDPM(c)
lib_ddpm.net.load_state_dict(my_net.state_dict())
t = torch.randint(T, (8,), generator=torch.Generator().manual_seed(4))
print("inputs per point:", my_net.inp.in_features, " parameters:", sum(p.numel() for p in my_net.parameters()))
print("same predicted noise as diffusion.MLPDenoiser:", torch.allclose(my_net(x0[:8], t), lib_ddpm(x0[:8], t), atol=1e-6))

# %% [markdown]
# ### What the network learned
#
# At each point $x$ of the plane, the prediction $\varepsilon_\theta(x, t)$ says which way the
# noise pushed: $-\varepsilon_\theta$ points back towards the data. Early in the reverse process
# (large $t$) the arrows point towards the centre of the whole cloud; late (small $t$), towards
# the nearest mode.

# %%
grid = torch.stack(torch.meshgrid(torch.linspace(-1.6, 1.6, 21), torch.linspace(-1.6, 1.6, 21), indexing="xy"), -1).reshape(-1, 2)  # (441, 2) model units
fig, axes = plt.subplots(1, 4, figsize=(16, 4))
with torch.no_grad():
    for ax, t in zip(axes, [T - 1, 100, 40, 10]):
        arrows = -model.ema(grid, torch.full((len(grid),), t))  # (441, 2): towards the data
        ax.quiver(grid[:, 0], grid[:, 1], arrows[:, 0], arrows[:, 1], color="C0", angles="xy")
        ax.scatter(mixture.means[:, 0] / mixture.scale, mixture.means[:, 1] / mixture.scale, marker="+", c="k", s=50)
        ax.set(xticks=[], yticks=[], aspect="equal", title=f"-eps_theta(x, t) at t = {t}")
plt.show()

# %% [markdown]
# ### DDIM by hand, and its step count on points
#
# By hand, from a given starting noise, visiting the steps `DDPM.timesteps` lists:

# %%
@torch.no_grad()
def my_ddim_sample(net, schedule, x, ts):
    """x (n, 2) the starting noise, ts the steps to visit (T-1 ... 0) -> samples (n, 2)."""
    for i, t in enumerate(ts):
        eps = net(x, torch.full((len(x),), t))
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        x = my_ddim_step(x, t, t_prev, eps, schedule)
    return x


ts = model.ema.timesteps("ddim", 10)
print("10 DDIM steps visit:", ts)
start = torch.randn(2000, 2, generator=torch.Generator().manual_seed(7))  # (2000, 2) x_{T-1}
mine = my_ddim_sample(model.ema, model.schedule, start, ts)
print("same samples as DDPM.sample(sampler='ddim', steps=10):", torch.allclose(mine, model.ema.sample(2000, sampler="ddim", steps=10, noise=start), atol=1e-5))

# %% [markdown]
# The two samplers from the same 6 starting points: ancestral paths jitter, since every step
# adds fresh noise; DDIM paths are smooth curves. With 10 steps DDIM takes bigger jumps along
# much the same curves, and some land beside a mode rather than on it.

# %%
few = torch.randn(6, 2, generator=torch.Generator().manual_seed(8))  # (6, 2): 6 starting points
paths = {}
for name, how in {"ancestral": dict(sampler="ancestral"), "DDIM, 50 steps": dict(sampler="ddim", steps=50), "DDIM, 10 steps": dict(sampler="ddim", steps=10)}.items():
    traj = diffusion.Trajectory()
    model.ema.sample(6, noise=few, generator=torch.Generator().manual_seed(9), trajectory=traj, **how)
    paths[name] = torch.stack(traj.x) * mixture.scale  # (steps + 1, 6, 2) in data units
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, (name, path) in zip(axes, paths.items()):
    widgets.plot_points(ax, path[-1], mixture, density=False, extent=8, size=30, color="C3", title=name)
    for k in range(len(few)):
        ax.plot(path[:, k, 0], path[:, k, 1], lw=0.7, color=f"C{k}", alpha=0.8)
    ax.scatter(path[0, :, 0], path[0, :, 1], s=12, color="k", zorder=3)
fig.suptitle("the same 6 starting points (black) to their samples (red)")
plt.show()

# %% [markdown]
# How much quality do fewer steps cost? 2,000 samples each with the same seed, scored with the
# mode metrics, and timed, beside the recipe's ancestral samples from above:

# %%
# NBVAL_IGNORE_OUTPUT
first = f"{model.recipe.sampler} (the recipe's)"
sampler_reports, seconds = {first: report}, {first: recipe_seconds}
for steps in (50, 20, 10):
    name = f"DDIM, {steps} steps"
    start_time = time.perf_counter()
    drawn = model.sample(2000, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=steps)
    seconds[name] = time.perf_counter() - start_time
    sampler_reports[name] = metrics.mode_metrics(drawn, mixture)
for name, r in sampler_reports.items():
    print(f"{name:21} {seconds[name]:5.2f} s   {r}")

# %%
hq = [r.hq_fraction for r in sampler_reports.values()]
print("every sampler finds all 25 modes:", all(r.modes == 25 for r in sampler_reports.values()))
print("fewer steps, fewer high-quality samples:", all(a > b for a, b in zip(hq, hq[1:])))
print("DDIM with 50 steps: at least five times as many samples off their mode as ancestral:", 1 - hq[1] >= 5 * (1 - hq[0]))
print("DDIM with 10 steps: fewer than half of the samples high-quality:", hq[-1] < 0.5)

# %%
names = list(sampler_reports)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
axes[0].bar(names, [sampler_reports[k].hq_fraction for k in names], color="C0")
axes[0].set(ylim=(0, 1), ylabel="high-quality fraction", title="quality")
axes[1].bar(names, [seconds[k] for k in names], color="C1")
axes[1].set(ylabel="seconds for 2,000 points", title="time (on this machine)")
for ax in axes:
    ax.tick_params(axis="x", labelsize=8, rotation=15)
plt.show()

# %% [markdown]
# Every sampler finds every mode (the first check), but on these points DDIM pays for its
# speed: with 50 steps at least five times as many samples land off their mode as with ancestral
# sampling (compare the high-quality fractions printed above) and the modes' shares are less
# even; with 10 steps fewer than half of the samples land on a mode, although each mode still
# gets some. The modes are tiny (a standard deviation of 0.05 on a grid of side 8), and each
# DDIM step is a jump along a path that the network only knows locally: the fewer the steps,
# the bigger the jumps and the further off the landing. The fresh noise of ancestral sampling
# corrects such errors as it goes. So the course samples points with all $T$ ancestral steps.

# %% [markdown]
# ### The U-Net one module at a time
#
# `diffusion.ConvDenoiser`'s forward pass written out, with the shapes:

# %%
net = digits_model.ddpm.net  # the diffusion.ConvDenoiser, trained above
x = digits_model.from_data(digits.x_train[:4])  # (4, 1, 8, 8): pixels from [0, 1] to [-1, 1]
t = torch.tensor([0, 50, 100, 199])
y = digits.y_train[:4]
with torch.no_grad():
    e = net.cond(t, y)  # (4, 128): the step's features through an MLP, plus a learned vector for the label
    h1 = net.block1(net.inp(x), e)  # (4, C, 8, 8)
    h2 = net.mid2(net.mid1(net.down(h1), e), e)  # (4, 2C, 4, 4): a stride-2 convolution, two residual blocks
    up = net.up(h2)  # (4, C, 8, 8): a transposed convolution
    h3 = net.block2(torch.cat([up, h1], dim=1), e)  # (4, 2C, 8, 8) in, (4, C, 8, 8) out: the skip connection
    out = net.out(h3)  # (4, 1, 8, 8): the predicted noise
    for name, v in [("step and label embedding", e), ("8x8 features", h1), ("4x4 features", h2), ("back up to 8x8", up),
                    ("joined with the skip", h3), ("predicted noise", out)]:
        print(f"{name:25} {tuple(v.shape)}")
    print("same as ConvDenoiser.forward:", torch.allclose(out, net(x, t, y)))
print("parameters:", sum(p.numel() for p in net.parameters()))

# %% [markdown]
# ### Sampling speed: ancestral against DDIM
#
# Ancestral sampling runs the U-Net $T$ times per digit, DDIM with 50 steps 50 times. The same
# number of label-free digits with DDIM, timed and judged (the time grows in proportion to the
# number of digits, so we also give it per 1,000):

# %%
# NBVAL_IGNORE_OUTPUT
ddim_steps = 50
start_time = time.perf_counter()
ddim_digits = digits_model.sample(n_digits, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=ddim_steps)
ddim_seconds = time.perf_counter() - start_time
ddim_report = metrics.digit_metrics(ddim_digits)
print(f"{n_digits} digits: ancestral {ancestral_seconds:.1f} s, DDIM {ddim_seconds:.1f} s (DDIM {ancestral_seconds / ddim_seconds:.1f} times faster)")
print(f"per 1,000 digits: ancestral about {1000 / n_digits * ancestral_seconds:.0f} s, DDIM about {1000 / n_digits * ddim_seconds:.0f} s")
print("ancestral:", digit_report)
print("DDIM:     ", ddim_report)

# %%
print("network calls per digit: ancestral", len(digits_model.ema.timesteps("ancestral", None)), "  DDIM", len(digits_model.ema.timesteps("ddim", ddim_steps)))
print("DDIM faster:", ddim_seconds < ancestral_seconds)
print("the classifier confident about more label-free digits from ancestral sampling than from DDIM:", digit_report.confident > ddim_report.confident)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.2))
widgets.show_digits(digit_samples[:40], nrow=10, ax=axes[0], title=f"ancestral, {T} steps: {digit_report.confident:.0%} confident")
widgets.show_digits(ddim_digits[:40], nrow=10, ax=axes[1], title=f"DDIM, {ddim_steps} steps: {ddim_report.confident:.0%} confident")
plt.show()

# %% [markdown]
# The same starting noise gives different digits (the two samplers walk different paths). DDIM
# is several times faster; the recipe still samples label-free digits ancestrally, because the
# classifier is confident about more of them that way (compare the two reports above).

# %% [markdown]
# Without a label the model does worse than with one. The "no label" branch has to decide by
# itself which digit to draw and can end up between two; it is the harder job, which is why
# the recipe gives it most of the training: `p_uncond` = 0.7 of the labels are dropped.

# %%
print("with labels (w = 0) more confident than without (DDIM, same sampler):", guided_reports[0.0].confident > ddim_report.confident)

# %% [markdown]
# ### The variance recursion, checked
#
# The noise variance $v_t$ of "Jumping to any step in one go", run step by step in double precision, against $1 - \bar\alpha_t$:

# %%
betas = schedule.betas.double()
v, variances = 0.0, []
for t in range(T):
    v = (1 - betas[t]) * v + betas[t]  # the noise's variance after step t
    variances.append(v)
alpha_bars = torch.cumprod(1 - betas, dim=0)
print("noise variance after step t = 1 - abar_t:", torch.allclose(torch.stack(variances), 1 - alpha_bars))

# %% [markdown]
# ### The jump, pictured
#
# The one-line version gives the same pictures as the loop (a different draw of the noise, the
# same distribution):

# %%
fig, axes = plt.subplots(1, len(show_at), figsize=(16, 3))
for ax, t in zip(axes, show_at):
    xt = my_q_sample(x0, torch.full((len(x0),), t), schedule, noise)
    widgets.plot_points(ax, xt, extent=3.2, color=colors, size=3, title=f"x_{t}, abar = {float(schedule.alpha_bars[t]):.2f}")
    ax.set(xticks=[], yticks=[])
fig.suptitle("the same steps in one jump: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps")
plt.show()

# %% [markdown]
# ### The guidance sweep, plotted
#
# The three scores of the sweep against $w$:

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
axes[0].plot(scales, [guided_reports[w].label_accuracy for w in scales], "o-")
axes[0].set(xlabel="guidance w", ylabel="label accuracy", title="the class asked for")
axes[1].plot(scales, [guided_reports[w].confident for w in scales], "o-", color="C1")
axes[1].set(xlabel="guidance w", ylabel="confident fraction", title="recognisable digits")
axes[2].axhspan(real_low, real_high, color="grey", alpha=0.3, label="100 real digits, 10 draws")
axes[2].plot(scales, [guided_reports[w].frechet for w in scales], "o-", color="C2")
axes[2].legend(fontsize=8)
axes[2].set(xlabel="guidance w", ylabel="feature distance to real digits", title="closeness to real digits (lower: closer)")
plt.show()

# %% [markdown]
# Ten of each class at each scale, the same noise in every block (one row per class):

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 4.6))
for ax, w in zip(axes, scales):
    widgets.show_digits(guided_samples[w], nrow=10, ax=ax, title=f"w = {w:g}")
plt.show()
