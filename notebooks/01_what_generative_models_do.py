# %% [markdown]
# # Lesson 01: What a generative model does
#
# By the end of this lesson you can say precisely what a generative model is for: it
# lets you **draw new samples** that look as if they came from the same unknown
# distribution as your data. You will build the two toy data sets that lessons 02-05 use
# (points of the plane in 8 small clusters on a ring, and in 25 on a grid), write a
# sampler and a log density for them by hand, check both against the course library
# `genai_course.data`, and build the yardsticks we will use to judge every generator in
# this course: modes captured, high-quality fraction and reverse KL (a measure of how
# unevenly the samples spread over the data's clusters), each defined below. Nothing is
# trained here.
#
# The models of lessons 02-07 are **generative adversarial networks (GANs)**: two
# **neural networks** (functions built from layers of adjustable numbers, the *weights*,
# that are fitted to data) trained against each other (*adversarial*: as opponents). A
# **generator** turns random noise into samples; a **discriminator** learns to tell those
# samples from real data, while the generator learns to fool it.
#
# Where it sits: this is the first lesson. Lesson 02 builds a generator network,
# lesson 03 the discriminator that will teach it, lessons 04-05 the losses and the
# training loop.

# %%
import math

import matplotlib.pyplot as plt
import torch

from genai_course import threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)  # seed PyTorch's global random-number generator; below, every draw also gets its own

# %% [markdown]
# ## Data are samples from a distribution nobody wrote down
#
# A data set $x_1, \dots, x_N$ (photos, names, points in the plane) is treated as $N$
# independent draws from some distribution $p_{\text{data}}(x)$. We never see
# $p_{\text{data}}$ itself, only the samples. A **generative model** is a distribution
# $p_\theta$ that we *can* work with, fitted so that $p_\theta \approx p_{\text{data}}$.
#
# "Working with" a distribution can mean two different things:
#
# * a **density** you can evaluate: given any $x$, compute $p(x)$ (or $\log p(x)$);
# * a **sampler** you can run: a program that outputs a fresh $x \sim p$ each time.
#
# For the standard normal we have both: the formula
# $p(x) = \frac{1}{\sqrt{2\pi}} e^{-x^2/2}$ and the sampler `torch.randn`. The picture
# below shows they describe the same thing: a histogram of many samples traces the density.

# %%
g = torch.Generator().manual_seed(0)
samples = torch.randn(20_000, generator=g)  # the sampler: (20000,)
xs = torch.linspace(-4, 4, 200)
density = torch.exp(-xs**2 / 2) / math.sqrt(2 * math.pi)  # the density: (200,)

fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(samples.numpy(), bins=80, density=True, alpha=0.5, label="histogram of 20,000 samples")
ax.plot(xs.numpy(), density.numpy(), "k", label="density $p(x)$")
ax.set(xlabel="x", ylabel="p(x)", title="one distribution, two views")
ax.legend()
plt.show()

# %% [markdown]
# Many models give you only one of the two. A GAN is a pure sampler: it can produce
# points, but it cannot tell you how likely a point is. That is why we need to be careful
# about how we judge it (the second half of this lesson).

# %% [markdown]
# ## Two toy data sets: a ring of 8 and a grid of 25
#
# Real data are too complicated to see, so the GAN lessons use two 2D mixtures whose
# truth we know exactly. They are the benchmarks of two papers on making GANs produce
# every kind of data point they were shown: VEEGAN
# ([Srivastava et al., 2017](https://arxiv.org/abs/1705.07761)), short for "variational
# encoder enhancement to GANs", which adds a second network that maps data points back
# to noise, and PacGAN ([Lin et al., 2018](https://arxiv.org/abs/1712.04086)),
# short for "packing GAN", whose discriminator judges several samples at once.
#
# A **mixture** of $K$ Gaussians (normal distributions) draws each point from one of $K$
# Gaussian bumps; each bump is a **mode**, a peak of the density, centred at its mean
# $\mu_k$. Ours are equal-weight mixtures of *round* Gaussians (the same standard
# deviation $\sigma$, "std" for short, in every direction; $I$ is the $2 \times 2$ identity matrix):
#
# $$p(x) = \frac{1}{K} \sum_{k=1}^{K} \mathcal{N}(x;\, \mu_k,\, \sigma^2 I).$$
#
# * **ring of 8**: means $\mu_k = (\cos\frac{2\pi k}{8}, \sin\frac{2\pi k}{8})$, $k = 0..7$, std $\sigma = 0.01$;
# * **grid of 25**: means $\{-4, -2, 0, 2, 4\}^2$, std $\sigma = 0.05$.
#
# First the means, written by hand.

# %%
angles = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8  # (8,) in float64, so cos(pi/2) rounds to 0
ring_means = torch.stack([angles.cos(), angles.sin()], dim=1).float()  # (8, 2)
ring_std = 0.01

ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
grid_means = torch.cartesian_prod(ticks, ticks)  # (25, 2): every (a, b) pair
grid_std = 0.05

print("ring means:", tuple(ring_means.shape), " grid means:", tuple(grid_means.shape))

# %% [markdown]
# ## A sampler, by hand
#
# Sampling a mixture is two steps ("ancestral sampling"): pick which mode, then add noise.
#
# $$k \sim \text{Uniform}\{1, \dots, K\}, \qquad \varepsilon \sim \mathcal{N}(0, I), \qquad x = \mu_k + \sigma\,\varepsilon.$$
#
# We pass a `torch.Generator` (PyTorch's random-number generator, no relation to a GAN's
# generator) so that the same **seed**, the number it starts from, always gives the same points. The order of the random
# calls matters for that: first all the mode indices, then all the noise.


# %%
def sample_mixture(means: torch.Tensor, std: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """Draw n points from the equal-weight mixture: means (K, 2) -> (n, 2)."""
    K = means.shape[0]
    k = torch.randint(K, (n,), generator=generator)  # (n,) which mode each point comes from
    noise = torch.randn(n, 2, generator=generator)  # (n, 2) standard normal
    return means[k] + std * noise  # (n, 2)


ring_x = sample_mixture(ring_means, ring_std, 2000, torch.Generator().manual_seed(1))
grid_x = sample_mixture(grid_means, grid_std, 2000, torch.Generator().manual_seed(1))
print("ring samples:", tuple(ring_x.shape), ring_x.dtype, " grid samples:", tuple(grid_x.shape))

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4.3), layout="constrained")
axes[0].scatter(ring_x[:, 0], ring_x[:, 1], s=2, alpha=0.5)
axes[0].set(title="ring of 8, std 0.01: 2000 samples", aspect="equal")
axes[1].scatter(grid_x[:, 0], grid_x[:, 1], s=2, alpha=0.5)
axes[1].set(title="grid of 25, std 0.05: 2000 samples", aspect="equal")
# zoom on the ring's mode k = 0 at (1, 0): a round Gaussian blob
axes[2].scatter(ring_x[:, 0], ring_x[:, 1], s=4, alpha=0.5)
axes[2].scatter([1.0], [0.0], marker="+", c="k", s=80)
axes[2].add_patch(plt.Circle((1.0, 0.0), 3 * ring_std, fill=False, color="k", ls="--"))
axes[2].set(xlim=(0.95, 1.05), ylim=(-0.05, 0.05), aspect="equal", title="zoom on mode (1, 0); dashed: 3 std")
plt.show()

# %% [markdown]
# The modes are tiny and far apart: almost all of the plane has (nearly) zero probability.
# That is what makes these benchmarks hard for a generator: it must put its points
# exactly on the small islands, and on *all* of them.

# %% [markdown]
# ## The log density, by hand
#
# Writing out the Gaussian $\mathcal{N}(x; \mu_k, \sigma^2 I) = \frac{1}{2\pi\sigma^2}\exp\!\left(-\frac{\|x-\mu_k\|^2}{2\sigma^2}\right)$ in 2D,
#
# $$\log p(x) = \log \sum_{k=1}^{K} \exp\!\left(-\frac{\|x-\mu_k\|^2}{2\sigma^2}\right) - \log K - \log(2\pi\sigma^2).$$
#
# Computing the sum directly fails. With $\sigma = 0.01$, a point only $0.15$ away from
# its nearest mode has the exponent $-0.15^2 / (2 \cdot 0.01^2)$, and its exponential
# **underflows**: it is smaller than the smallest positive float32 (PyTorch's default
# 32-bit number), so it rounds to $0$ and the log becomes $-\infty$. The cell below prints
# this, and the same failure at the centre of the ring. The fix is the **log-sum-exp trick**:
# with $a_k$ the exponents and $m = \max_k a_k$,
# $\log \sum_k e^{a_k} = m + \log \sum_k e^{a_k - m}$, where the largest term is $e^0 = 1$
# and nothing underflows. `torch.logsumexp` does exactly this.

# %%
exponent = torch.tensor(-(0.15**2) / (2 * ring_std**2))  # a point 0.15 from a mode
print("exponent:", round(exponent.item(), 1), " its exp in float32:", torch.exp(exponent).item())

point = torch.tensor([[0.0, 0.0]])  # the centre of the ring: distance 1 from every mode
a = -(point[:, None, :] - ring_means[None, :, :]).pow(2).sum(-1) / (2 * ring_std**2)  # (1, 8) exponents
naive = torch.log(torch.exp(a).sum(1))  # exp(-5000) underflows to 0
stable = torch.logsumexp(a, dim=1)
print("naive log-sum-exp is -inf:", bool(torch.isinf(naive).all()))
print("torch.logsumexp:", round(stable.item(), 1), " exact: -5000 + log 8 =", round(-5000 + math.log(8), 1))


# %%
def mixture_log_prob(x: torch.Tensor, means: torch.Tensor, std: float) -> torch.Tensor:
    """log p(x) of the equal-weight mixture: x (N, 2), means (K, 2) -> (N,)."""
    K = means.shape[0]
    d2 = (x[:, None, :] - means[None, :, :]).pow(2).sum(-1)  # (N, K) squared distances
    # log p(x) = logsumexp_k(-d2_k / (2 std^2)) - log K - log(2 pi std^2)
    return torch.logsumexp(-d2 / (2 * std**2), dim=1) - math.log(K) - math.log(2 * math.pi * std**2)


logp = mixture_log_prob(ring_x, ring_means, ring_std)
print("log p of the samples:", tuple(logp.shape))
print("at a mode's centre log p =", round(mixture_log_prob(ring_means[:1], ring_means, ring_std).item(), 2))

# %% [markdown]
# As a heat map over the plane. Our logarithms are natural (base $e$), so $\log p$ is
# measured in **nats**: one nat less is a density $e \approx 2.7$ times smaller. The density
# is so peaked that $\log p$ falls by thousands of nats between the modes (the cell
# prints the range over the ring's picture), so we shade only the top 30 nats (darker =
# more likely) and the islands are visible.


# %%
def plane(extent: float, resolution: int = 300) -> torch.Tensor:
    """A square grid of points over [-extent, extent]^2: (resolution^2, 2), row-major in y."""
    t = torch.linspace(-extent, extent, resolution)
    yy, xx = torch.meshgrid(t, t, indexing="ij")  # (R, R) each
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)  # (R*R, 2)


def show_log_density(ax, means, std, extent, resolution=300):
    logp = mixture_log_prob(plane(extent, resolution), means, std).reshape(resolution, resolution)  # (R, R)
    top = logp.max().item()
    return ax.imshow(logp, origin="lower", extent=(-extent, extent, -extent, extent), cmap="Blues", vmin=top - 30, vmax=top)


ring_logp = mixture_log_prob(plane(1.5), ring_means, ring_std)  # (90000,) the ring's picture below
print(f"ring: log p from {ring_logp.min().item():.0f} to {ring_logp.max().item():.2f} nats")


fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
im = show_log_density(axes[0], ring_means, ring_std, 1.5)
axes[0].set_title("ring of 8: log p(x)")
fig.colorbar(im, ax=axes[0], label="log p (nats)", shrink=0.8)
im = show_log_density(axes[1], grid_means, grid_std, 6.0)
axes[1].set_title("grid of 25: log p(x)")
fig.colorbar(im, ax=axes[1], label="log p (nats)", shrink=0.8)
plt.show()

# %% [markdown]
# ## The library version agrees
#
# `genai_course.data` holds the tested versions: `data.ring8()` and `data.grid25()` return
# a `Mixture` with `.means`, `.std`, `.sample(n, generator=)` and `.log_prob(x)`. Because our
# sampler makes the same random calls in the same order, the same seed gives the same points.

# %%
from genai_course import data

ring, grid = data.ring8(), data.grid25()
print(ring.name, ring.n_modes, "modes, std", ring.std, "|", grid.name, grid.n_modes, "modes, std", grid.std)
print("same means:", torch.equal(ring_means, ring.means), torch.equal(grid_means, grid.means))

mine = sample_mixture(ring_means, ring_std, 1000, torch.Generator().manual_seed(42))
lib = ring.sample(1000, generator=torch.Generator().manual_seed(42))
print("ring: same seed, same samples:", torch.equal(mine, lib))
mine = sample_mixture(grid_means, grid_std, 1000, torch.Generator().manual_seed(42))
lib = grid.sample(1000, generator=torch.Generator().manual_seed(42))
print("grid: same seed, same samples:", torch.equal(mine, lib))

# %% [markdown]
# The log densities agree too, at samples and at every point of a plane (far from the
# modes as well), up to float32 rounding. The first cell below measures that rounding:
# it compares each side with an exact float64 (64-bit) computation and prints the
# largest error relative to $|\log p(x)|$ (to 1 where $|\log p(x)| < 1$). Those last
# digits can differ from one processor to another, so your printout may differ slightly.
# The cell after it checks that every error is below $10^{-6}$, and that ours and the
# library's agree within `torch.allclose`'s relative tolerance $10^{-5}$ plus an absolute
# tolerance of $10^{-5}$ (relative alone fails where $\log p(x)$ is near 0).

# %%
# NBVAL_IGNORE_OUTPUT: the last digits of float32 rounding can differ between processors
worst = {}  # mixture name -> largest relative error of (mine, library)
agree = {}  # mixture name -> do mine and the library's agree (torch.allclose)?
for mix, means, std, extent in ((ring, ring_means, ring_std, 1.5), (grid, grid_means, grid_std, 6.0)):
    pts = torch.cat([mix.sample(500, generator=torch.Generator().manual_seed(3)), plane(extent, 50)])  # (3000, 2)
    mine, lib = mixture_log_prob(pts, means, std), mix.log_prob(pts)  # (3000,) each, float32
    exact = mixture_log_prob(pts.double(), means.double(), std)  # (3000,) float64
    scale = exact.abs().clamp(min=1.0)
    worst[mix.name] = [((v.double() - exact).abs() / scale).max().item() for v in (mine, lib)]
    agree[mix.name] = torch.allclose(mine, lib, atol=1e-5)
    print(f"{mix.name}: largest relative error, mine {worst[mix.name][0]:.1e}, library {worst[mix.name][1]:.1e}")

# %%
print("every error below 1e-6:", all(e < 1e-6 for errs in worst.values() for e in errs))
print("mine and the library's agree:", agree)

# %% [markdown]
# ## What are "good samples"? The course's yardsticks
#
# A model with a density is usually scored by its **likelihood** of held-out data: the
# average $\log p_\theta(x)$ over data points that were kept out of fitting. A GAN gives
# us samples, not a density, so that score is out of reach. For these benchmarks we know
# where the modes are, so we can ask concrete questions of a batch of $N = 2500$
# samples, the questions VEEGAN and PacGAN ask (PacGAN's Table 1 reports these numbers
# for GANs on both benchmarks):
#
# 1. **Nearest mode**: for each sample $x_i$, $k_i = \arg\min_k \|x_i - \mu_k\|$ and the distance $d_i$ to it.
# 2. **High-quality fraction**: the share of samples with $d_i \le 3\sigma$.
# 3. **Modes captured**: how many modes are the nearest mode of at least one high-quality sample.
# 4. **Reverse KL**: a number for how unevenly the samples spread over the modes, defined below.

# %% [markdown]
# Why $3\sigma$: a true sample almost always lies that close to its mode. For a true
# sample, $\|x - \mu_k\|^2/\sigma^2$ is the sum of two squared independent standard
# normal values, a **chi-squared variable with 2 degrees of freedom**, whose probability of
# staying below $t$ is $1 - e^{-t/2}$. With $t = 3^2 = 9$, $P(d \le 3\sigma) = 1 - e^{-9/2}$:

# %%
print(f"P(d <= 3 std) for true samples: {1 - math.exp(-9 / 2):.1%}")

# %% [markdown]
# The **Kullback-Leibler divergence** (KL) of a distribution $p$ from a distribution $q$
# over the same outcomes, $\mathrm{KL}(p \,\|\, q) = \sum_k p_k \log(p_k / q_k)$, measures
# how far $p$ is from $q$ in nats: it is $0$ when $p = q$ and positive otherwise. It is an
# average of $\log(p_k/q_k)$ over $p$'s outcomes, so the order matters. Let $\hat p_k$ be
# the share of samples whose nearest mode is $k$, and $u_k = 1/K$ the data's share. **Reverse
# KL** puts the model's samples first, $\mathrm{KL}(\hat p \,\|\, u) = \sum_k \hat p_k \log(\hat p_k K)$;
# **forward KL**, $\mathrm{KL}(u \,\|\, \hat p)$, puts the data first.

# %% [markdown]
# Here the data's share is the same $1/K$ on every mode, so the log ratio
# $\log(\hat p_k / u_k)$ is large exactly on a mode that gets *too many* samples: reverse
# KL punishes samples piled onto some modes (for continuous distributions, the same
# average punishes samples where the data has little density). A mode with no samples
# adds nothing ($0 \log 0 = 0$); it counts only through the extra samples the other modes
# get. So samples sitting evenly on $m$ of $K$ modes score a finite $\log(K/m)$, where
# forward KL, whose terms $\log(u_k / \hat p_k)$ include $\log(u_k/0)$, would be
# infinite. That is why modes captured is counted on its own.


# %%
def nearest_mode(x: torch.Tensor, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, 2), means (K, 2) -> index of the nearest mode (N,), distance to it (N,)."""
    dist = (x[:, None, :] - means[None, :, :]).norm(dim=-1)  # (N, K)
    d, k = dist.min(dim=1)
    return k, d


k, d = nearest_mode(torch.tensor([[0.9, 0.05], [0.0, -1.2]]), ring_means)  # near mode 0 at (1, 0), near mode 6 at (0, -1)
print("nearest modes:", k.tolist(), " distances:", [round(v, 3) for v in d.tolist()])


# %%
def my_mode_metrics(x: torch.Tensor, means: torch.Tensor, std: float) -> dict:
    """x (N, 2), means (K, 2) -> modes captured, high-quality fraction, reverse KL."""
    K = means.shape[0]
    k, d = nearest_mode(x, means)
    hq = d <= 3 * std  # (N,) high-quality samples
    p = torch.bincount(k, minlength=K).double() / len(k)  # (K,) histogram over modes
    nz = p > 0  # 0 log 0 = 0
    return {
        "modes": torch.unique(k[hq]).numel(),
        "hq_fraction": hq.float().mean().item(),
        "reverse_kl": (p[nz] * (p[nz] * K).log()).sum().item(),
    }


true_x = ring.sample(2500, generator=torch.Generator().manual_seed(1))
ours = my_mode_metrics(true_x, ring_means, ring_std)
print({"modes": ours["modes"], "hq_fraction": round(ours["hq_fraction"], 3), "reverse_kl": round(ours["reverse_kl"], 3)})

# %% [markdown]
# The library's `metrics.mode_metrics(x, mixture)` computes the same three numbers and
# returns them as a `ModeReport`.

# %%
from genai_course import metrics

report = metrics.mode_metrics(true_x, ring)
print(report)
print("same modes:", ours["modes"] == report.modes)
print("same high-quality fraction:", math.isclose(ours["hq_fraction"], report.hq_fraction, abs_tol=1e-6))
print("same reverse KL:", math.isclose(ours["reverse_kl"], report.reverse_kl, abs_tol=1e-6))

# %% [markdown]
# ## Three toy "generators", scored side by side
#
# To see what each number catches, here are three fake generators for the ring, each a
# sampler we can run:
#
# * **perfect**: the true sampler;
# * **collapsed**: puts all its mass on only 3 of the 8 modes. This is *mode collapse*,
#   the classic GAN failure you will meet in lesson 05: every sample looks real, but
#   most of the data's variety is gone;
# * **blurry**: the right modes, but 10 times the noise (std 0.1).

# %%
N = 2500
toy = {
    "perfect": ring.sample(N, generator=torch.Generator().manual_seed(1)),
    "collapsed": sample_mixture(ring_means[:3], ring_std, N, torch.Generator().manual_seed(2)),
    "blurry": sample_mixture(ring_means, 10 * ring_std, N, torch.Generator().manual_seed(3)),
}
reports = {name: metrics.mode_metrics(x, ring) for name, x in toy.items()}
for name, r in reports.items():
    print(f"{name:>9}: {r}")
print(f"log(8/3) = {math.log(8 / 3):.3f}")

# %%
fig, axes = plt.subplots(2, 3, figsize=(12, 7.5), gridspec_kw={"height_ratios": [3, 1.3]})
for col, (name, x) in enumerate(toy.items()):
    ax = axes[0, col]
    show_log_density(ax, ring_means, ring_std, 1.5)
    ax.scatter(x[:, 0], x[:, 1], s=2, c="C1", alpha=0.5)
    r = reports[name]
    ax.set_title(f"{name}: modes {r.modes}/8\nhigh-quality {r.hq_fraction:.0%}, reverse KL {r.reverse_kl:.2f}")
    k, _ = nearest_mode(x, ring_means)
    share = torch.bincount(k, minlength=8).float() / N  # (8,)
    axes[1, col].bar(range(8), share, color="C1")
    axes[1, col].axhline(1 / 8, color="k", ls="--", lw=1, label="uniform 1/8")
    axes[1, col].set(ylim=(0, 0.4), xlabel="nearest mode", ylabel="share of samples")
axes[1, 0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the table and the pictures together:
#
# * **perfect** scores 8/8 modes, a high-quality fraction at the $1 - e^{-9/2}$ printed
#   above and a reverse KL near 0: the best any generator can do (the samples outside
#   $3\sigma$ are genuine, rare true samples).
# * **collapsed** keeps a high-quality fraction as good as the truth (each sample looks
#   perfect on its own), but captures only 3 modes and has reverse KL near
#   $\log(8/3)$. Judging samples one at a time would miss this failure.
# * **blurry** captures all 8 modes with a near-uniform histogram (reverse KL near 0),
#   but only a few percent of its samples are high quality.
#
# No single number is enough: **modes captured** and **reverse KL** measure *diversity*,
# the **high-quality fraction** measures *quality*. Every GAN in this course is scored
# with all three.

# %% [markdown]
# ## What a GAN will have to learn
#
# We wrote two things for each mixture: a sampler and a log density. A GAN will learn
# only the first. Its generator is a sampler of the form $x = G(z)$ with random $z$,
# just like our `sample_mixture` turns random $(k, \varepsilon)$ into $\mu_k + \sigma\varepsilon$,
# except that $G$ is a neural network whose weights must be learned from data. It never
# gives us $\log p(x)$, so it cannot be trained by maximising likelihood. Instead the
# discriminator will compare its samples with real ones. Lesson 02 builds $G$ itself.

# %% [markdown]
# ## Summary
#
# * Data are samples from an unknown distribution $p_{\text{data}}$; a generative model lets us draw more.
# * A distribution can be given as a **density** to evaluate or a **sampler** to run; a GAN is only a sampler.
# * A mixture is sampled in two steps (pick a mode, add noise); its log density needs `torch.logsumexp` to avoid underflow.
# * Our hand-written sampler matches `genai_course.data` exactly (same seed, same points), and our log density matches it up to float32 rounding.
# * Samples are judged by **modes captured**, **high-quality fraction** and **reverse KL**
#   (`metrics.mode_metrics`): collapse fails the first and last, blur fails the second.
#
# ## Exercises
#
# Open `exercises/01_what_generative_models_do.ipynb`. You will change this lesson's code
# for a ring of 8 whose modes are not equally likely: `sample_ring8(n, weights, generator)`,
# its sampler, and `mixture_log_prob(x, means, std, weights)`, its log density; a check
# cell after each tells you at once whether it is right.
#
# Next: **lesson 02, the generator**.
