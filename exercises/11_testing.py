# %% [markdown]
# Generated from solutions/11_testing.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 11: Testing generative models
#
# Four exercises from lesson 11 (`notebooks/11_testing.ipynb`), each a variation on a test the
# lesson built: k-NN radii drawn class by class; precision with **coverage**, a recall that a few
# stray samples cannot inflate; the p-value of a **two-sided** question; and a memorization rule
# that judges each sample against its own neighbourhood. Replace each `raise NotImplementedError`
# with your code, then run the check cell below it: it prints ✅ when your code is right, or says
# what is wrong.
#
# Notation: a set of $N$ examples is a tensor `x` of shape (N, D), one example a row, compared
# with Euclidean distances $\lVert a - b \rVert$. `torch.cdist(a, b)` gives all of them at once,
# an (A, B) matrix.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import math

import torch

from genai_course import checks, data, metrics, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
digits = data.load_digits()
print("training digits:", tuple(digits.x_train.shape), "held-out digits:", tuple(digits.x_test.shape))

# %% [markdown]
# ## Exercise 11.1: the k-NN radii within each class
#
# The lesson drew each real example's ball out to its $k$-th nearest other example, whatever
# its class. To judge a conditional model class by class (are its 7s realistic? do they cover
# every way of writing a 7?), each ball must be drawn among examples of the *same* class: a 7's
# ball is set by the other 7s alone, whatever 1s lie near it.
#
# Write `knn_radii(x, labels, k)`: for each row $x_i$ of `x` (N, D) with label $y_i$, the
# Euclidean distance to its $k$-th nearest **other** row **with the same label**,
#
# $$\mathrm{radius}_k(x_i) = \text{the } k\text{-th smallest of } \{\lVert x_i - x_j \rVert : j \ne i,\ y_j = y_i\}.$$
#
# - `x`: (N, D) float; `labels`: (N,) integers (any values, not necessarily 0, 1, 2, ...);
#   `k`: an int, smaller than the number of rows of every class.
#
# Return a float tensor of shape (N,). Hints: start from every pairwise distance, then make the
# pairs that are not allowed impossible to pick; two kinds of pair are not allowed. Change only
# tensors you made yourself, never `x`.
#
# Before you run the demo below, predict: for the same $k$, is a radius within the class larger
# or smaller than the lesson's radius among all rows, or can it be either?


# %%
def knn_radii(x: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """x: (N, D), labels: (N,), k >= 1 -> (N,): each row's distance to its k-th nearest other row of the same label."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.knn_radii(knn_radii)

# %% [markdown]
# The training digits as pixels (64 numbers each), $k = 3$: the radii within each class against
# the lesson's radii among all digits (`metrics.knn_radii`).

# %%
try:
    x, y = digits.x_train.flatten(1), digits.y_train
    within, among_all = knn_radii(x, y, 3).double(), metrics.knn_radii(x, 3)
    print(f"median radius within the class {within.median():.3f}, among all digits {among_all.median():.3f}")
    print("never smaller within the class:", bool((within >= among_all - 1e-6).all()),
          f"  larger for {(within > among_all + 1e-6).double().mean():.1%} of the digits")
except NotImplementedError:
    print("(finish exercise 11.1 to compare the radii)")

# %% [markdown]
# Never smaller: leaving out the other classes only removes candidates, so the $k$-th nearest
# can only move farther away. And rarely larger: a digit's three nearest digits are nearly
# always of its own class.
#
# ## Exercise 11.2: precision and coverage
#
# The lesson's recall draws a ball around every *generated* example, out to its $k$-th nearest
# generated neighbour. A few stray samples far from everything draw huge balls, and these can
# cover real examples the generator never comes near. Naeem et al. (2020) replace recall with
# **coverage**, which uses only the real examples' balls: the share of real examples whose own
# ball holds at least one generated example,
#
# $$\text{precision} = \frac{1}{M} \sum_{j=1}^{M} \mathbb{1}\!\left[\exists\, i: \lVert f_j - r_i \rVert \le \mathrm{radius}_k(r_i)\right], \qquad
# \text{coverage} = \frac{1}{N} \sum_{i=1}^{N} \mathbb{1}\!\left[\exists\, j: \lVert f_j - r_i \rVert \le \mathrm{radius}_k(r_i)\right],$$
#
# with the radii taken among the real examples, as in the lesson (here every example has one
# class).
#
# Write `precision_coverage(real, fake, k)`: `real` (N, D), `fake` (M, D); return the pair
# `(precision, coverage)`, two floats (0-dim tensors are fine too). Hints: compare the two
# formulas, term by term: the condition inside the brackets is the same, only what is counted
# differs; one table of "is generated example $j$ inside real ball $i$?" serves both. A point
# exactly on a ball's edge counts as inside.


# %%
def precision_coverage(real: torch.Tensor, fake: torch.Tensor, k: int) -> tuple[float, float]:
    """real: (N, D), fake: (M, D), k >= 1 -> (precision, coverage), two floats in [0, 1]."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.precision_coverage(precision_coverage)

# %% [markdown]
# On lesson 01's ring of 8 Gaussians: a generator that draws only 4 of the 8 modes, then the
# same generator with 20 stray points scattered over the square around the ring. The lesson's
# recall (`metrics.precision_recall`) beside your coverage.

# %%
try:
    mixture, g = data.get_mixture("ring8"), torch.Generator().manual_seed(1)
    ring_real = mixture.sample(400, generator=g)  # (400, 2)
    half = mixture.means[2 * torch.randint(4, (380,), generator=g)] + mixture.std * torch.randn(380, 2, generator=g)  # modes 0, 2, 4, 6
    strays = 2.4 * torch.rand(20, 2, generator=g) - 1.2  # (20, 2) anywhere in the square
    for name, fake in (("4 of 8 modes", half), ("4 of 8 modes + 20 strays", torch.cat([half, strays]))):
        recall = metrics.precision_recall(ring_real, fake, k=3).recall
        precision, coverage = precision_coverage(ring_real, fake, 3)
        print(f"{name:26} precision {precision:.1%}  lesson's recall {recall:.1%}  coverage {coverage:.1%}")
except NotImplementedError:
    print("(finish exercise 11.2 to compare recall and coverage)")

# %% [markdown]
# Twenty strays out of 400 samples raise the lesson's recall from under half to well above it:
# a stray's ball reaches out to its third-nearest generated neighbour, often another stray far
# away, and swallows whole modes. Coverage does not move: a missing mode stays missing.
#
# ## Exercise 11.3: the two-sided p-value
#
# The lesson's p-value answers a one-sided question: does the classifier do *better* than a
# coin? Now test the test itself. Run the two-sample test on two sets drawn from the same
# distribution, where the right answer is "a coin flip". An accuracy far *below* one half is
# then as alarming as one far above: a classifier that is wrong systematically has learned
# something, backwards (a bug that swaps the labels between training and scoring does exactly
# that). The question becomes: does the count of right answers differ from a coin flipper's,
# in *either* direction?
#
# With $X \sim \mathrm{Binomial}(n, \tfrac12)$ the count of a coin flipper, the two-sided
# p-value is the chance of a count at least as far from $n/2$ as the observed one:
#
# $$p = P\big(|X - n/2| \ge |\text{correct} - n/2|\big).$$
#
# Write `two_sided_p_value(correct, n)`: `correct` and `n` are ints, $0 \le$ `correct` $\le n$;
# return $p$ as a float, exact (to 1e-9 relative, for $n$ up to 600, including p-values as small
# as $10^{-16}$). Hints: the coin is fair, so $j$ right and $n - j$ right are equally likely;
# work out by hand what $p$ must be for 5 of 10, then for 3 of 10 and for 7 of 10; floats
# overflow or lose digits long before $2^{600}$, so stay with whole numbers until one division at
# the end.


# %%
def two_sided_p_value(correct: int, n: int) -> float:
    """correct, n: ints with 0 <= correct <= n -> P(|X - n/2| >= |correct - n/2|) for X ~ Binomial(n, 1/2)."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.two_sided_p_value(two_sided_p_value)

# %% [markdown]
# Four results on 300 held-out examples, with your two-sided p-value beside the lesson's
# one-sided one (`metrics.binomial_p_value`, the chance of *at least* that many right):

# %%
try:
    for correct in (130, 140, 160, 170):
        p_two, p_one = two_sided_p_value(correct, 300), metrics.binomial_p_value(correct, 300)
        print(f"{correct} of 300 right ({correct / 300:.1%}): two-sided p = {p_two:.3f}, one-sided p = {p_one:.3f}")
except NotImplementedError:
    print("(finish exercise 11.3 to compare the two questions)")

# %% [markdown]
# 130 of 300 is as far below one half as 170 is above it, and both have a two-sided p-value near
# 0.02. The one-sided question sees nothing odd in 130 (p = 0.991: certainly not *better* than a
# coin), and would let the bug pass. Above one half the two-sided p-value is exactly twice the
# one-sided one; the question you ask decides which to report, and it must be chosen before the
# result is seen.
#
# ## Exercise 11.4: flagging copies by a relative distance
#
# The lesson's audit flags a sample nearer its nearest training example than 99% of held-out
# digits come: one threshold for every sample. But digits are not spread evenly: among the many
# similar 1s a new digit lies close to some training 1, while in a sparse region a copy with a
# little noise may sit above the threshold. Carlini et al. (2023) judge each sample against its
# *own* neighbourhood instead: a sample is a likely copy when its nearest training example is
# much nearer than its other near ones. With $d_{(1)} \le d_{(2)} \le \dots$ the sample's
# distances to the training examples, sorted, flag it when
#
# $$d_{(1)} < \alpha \cdot \frac{1}{n} \sum_{m=1}^{n} d_{(m)},$$
#
# the nearest distance below $\alpha$ times the mean of the $n$ nearest, the nearest included
# (they use $n = 50$, $\alpha = 1/3$).
#
# Write `flag_copies(dist, n, alpha)`: `dist` (N, M) holds `dist[i, j]`, the distance from
# sample $i$ to training example $j$; `n` an int at most M; `alpha` a float in (0, 1). Return a
# boolean tensor of shape (N,), True for a likely copy. Hints: each row is one sample; which
# entries of a row make up its $n$ nearest? A sample exactly on the threshold is not flagged.
# Do not change `dist`.


# %%
def flag_copies(dist: torch.Tensor, n: int, alpha: float) -> torch.Tensor:
    """dist: (N, M) sample-to-training distances, n <= M, 0 < alpha < 1 -> (N,) bool: True = likely copy."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.flag_copies(flag_copies)

# %% [markdown]
# The audit on pixels: 150 training digits with a little noise added play a generator that
# memorized its data; 150 held-out digits play an honest one (real, and never trained on). Both
# rules, each with its settings: yours with $n = 50$, $\alpha = 1/3$; the lesson's with the 1%
# quantile of 150 *other* held-out digits' distances.

# %%
try:
    train = digits.x_train.flatten(1)  # (1497, 64)
    copies = (digits.x_train[:150] + 0.02 * torch.randn(150, 1, 8, 8, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    reference, honest = digits.x_test[:150], digits.x_test[150:]
    threshold = float(torch.quantile(metrics.nearest_neighbours(reference, train)[0], 0.01))  # the lesson's rule
    for name, samples in (("memorized", copies), ("honest", honest)):
        dist = torch.cdist(samples.flatten(1), train, compute_mode="donot_use_mm_for_euclid_dist")  # (150, 1497)
        relative, lesson = flag_copies(dist, 50, 1 / 3), dist.min(dim=1).values < threshold
        print(f"{name:9}: flagged by the relative rule {int(relative.sum())} of 150, by the lesson's quantile rule {int(lesson.sum())} of 150")
except NotImplementedError:
    print("(finish exercise 11.4 to audit a memorizing generator)")

# %% [markdown]
# Both rules catch every copy and flag at most a few honest digits here. They differ in what
# they need: the lesson's rule needs held-out data to set its threshold, the relative rule only
# the training set, at the price of a choice of $n$ and $\alpha$ that no data set calibrates.
