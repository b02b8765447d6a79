# %% [markdown]
# # Exercises 11: Testing generative models
#
# Four exercises from lesson 11 (`notebooks/11_testing.ipynb`): the pieces of the tests that
# judge any generative model from its samples alone. You write the k-NN radii that give every
# example a ball of "what looks like it"; k-NN precision and recall built on them (are the
# samples realistic, and do they cover every kind of real example?); the exact p-value of the
# discriminator two-sample test (is the discriminator's accuracy more than luck?); and the
# flags of the memorization audit (which samples sit suspiciously close to a training
# example?). Replace each `raise NotImplementedError` with your code, then run the check cell
# below it: it prints ✅ when your code is right, or says what is wrong.
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
# ## Exercise 11.1: the k-NN radii
#
# Write `knn_radii(x, k)`: for each row $x_i$ of `x` (N, D), the Euclidean distance to its
# $k$-th nearest **other** row,
#
# $$\mathrm{radius}_k(x_i) = \text{the } k\text{-th smallest of } \{\lVert x_i - x_j \rVert : j \ne i\}$$
#
# - `x`: (N, D) float; `k`: an int from 1 to N - 1.
#
# Return a float tensor of shape (N,). A row is not its own neighbour: with $k = 1$ the radius
# is the distance to the closest *other* row (and 0 if that row has an exact duplicate).
# Hints: all pairwise distances at once form an (N, N) matrix whose diagonal holds each row's
# distance to itself, 0, which would always be the smallest: make those entries impossible to
# pick before you look for the $k$-th smallest of each row (torch has a function for the $k$-th
# smallest along a dimension). Change a copy you made, never `x` itself.


# %%
def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """x: (N, D), k >= 1 -> (N,): each row's distance to its k-th nearest other row."""
    # BEGIN SOLUTION
    d = torch.cdist(x, x)  # (N, N)
    d.fill_diagonal_(float("inf"))  # a row is not its own neighbour
    return d.kthvalue(k, dim=1).values
    # END SOLUTION


# %%
checks.knn_radii(knn_radii)

# %% [markdown]
# ## Exercise 11.2: k-NN precision and recall
#
# Kynkäänniemi et al. (2019) judge a set of generated examples `fake` (M, D) against real ones
# `real` (N, D). Every real example $r_i$ claims a ball reaching its $k$-th nearest real
# neighbour, every generated example $f_j$ one reaching its $k$-th nearest generated neighbour:
#
# $$\text{precision} = \frac{1}{M} \sum_{j=1}^{M} \mathbb{1}\!\left[\exists\, i: \lVert f_j - r_i \rVert \le \mathrm{radius}_k(r_i)\right], \qquad
# \text{recall} = \frac{1}{N} \sum_{i=1}^{N} \mathbb{1}\!\left[\exists\, j: \lVert r_i - f_j \rVert \le \mathrm{radius}_k(f_j)\right]$$
#
# with the real radii taken among the real examples and the generated radii among the generated
# ones. Precision is the share of samples that land where real data lives (quality); recall the
# share of real examples that some sample reaches (coverage, diversity).
#
# Write `precision_recall(real, fake, k)` returning the pair `(precision, recall)`, two floats
# (0-dim tensors are fine too). Use your `knn_radii` from 11.1 (or `metrics.knn_radii`).
# Hints: one (M, N) matrix of distances between generated and real examples serves both
# numbers; compare it with the right set of radii, broadcast along the right dimension, and ask
# "inside at least one ball?" along the other; the mean of booleans is a share. A sample
# exactly on a ball's edge counts as inside (which matters when a generator copies a real
# example, at distance 0).


# %%
def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int) -> tuple[float, float]:
    """real: (N, D), fake: (M, D), k >= 1 -> (precision, recall), two floats in [0, 1]."""
    # BEGIN SOLUTION
    d = torch.cdist(fake, real)  # (M, N)
    precision = (d <= knn_radii(real, k)[None, :]).any(dim=1).float().mean()  # each fake: in some real ball?
    recall = (d <= knn_radii(fake, k)[:, None]).any(dim=0).float().mean()  # each real: in some fake ball?
    return precision.item(), recall.item()
    # END SOLUTION


# %%
checks.precision_recall(precision_recall)

# %% [markdown]
# Your precision and recall on digits, compared as raw pixels (64 numbers per digit; the
# library's reports use a digit classifier's features instead, which takes a few seconds to
# train). The real set is the 300 held-out digits. Three "generators": 300 *training* digits
# (real data the test never saw: both numbers high), uniform noise (no quality and no
# coverage), and a collapsed generator that draws the same training digit, a 5, 300 times:
# perfect precision (it is a real digit) and almost no recall (it covers one way of writing
# one digit). That is why the two numbers are reported together: each alone can be fooled.

# %%
try:
    real = digits.x_test.flatten(1)  # (300, 64)
    generators = {
        "training digits": digits.x_train[:300],
        "uniform noise": torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(1)),
        "one digit, 300 times": digits.x_train[:1].repeat(300, 1, 1, 1),
    }
    scores = {name: precision_recall(real, x.flatten(1), 3) for name, x in generators.items()}
    p, r = scores["training digits"]
    print("training digits:      precision > 0.8:", p > 0.8, "  recall > 0.8:", r > 0.8)
    p, r = scores["uniform noise"]
    print("uniform noise:        precision < 0.05:", p < 0.05, " recall < 0.05:", r < 0.05)
    p, r = scores["one digit, 300 times"]
    print("one digit, 300 times: precision > 0.8:", p > 0.8, "  recall < 0.05:", r < 0.05)
except NotImplementedError:
    print("(finish exercises 11.1 and 11.2 to score three generators)")

# %% [markdown]
# ## Exercise 11.3: the exact p-value of the two-sample test
#
# The two-sample test trains a fresh discriminator on half of the real and generated examples
# and scores it on the other half: `correct` right answers out of `n`. If the two sets were
# indistinguishable, the discriminator could only guess, and each answer would be right with
# probability 1/2: the number right would be $X \sim \mathrm{Binomial}(n, \tfrac12)$. The
# p-value is the chance of doing at least as well by guessing:
#
# $$p = P(X \ge \text{correct}) = \sum_{j=\text{correct}}^{n} \binom{n}{j} \frac{1}{2^n}$$
#
# Write `binomial_p_value(correct, n)`: `correct` and `n` are ints, $0 \le$ `correct` $\le n$;
# return $p$ as a float, exact (to 1e-9 relative, for $n$ up to 600). Hints: Python's `math`
# module gives binomial coefficients as exact integers, however large; floats overflow or lose
# digits long before $2^{600}$, so stay with integers until one division at the end. Only the
# upper tail counts (one-sided: the question
# is whether the discriminator does *better* than chance), and it includes `correct` itself.


# %%
def binomial_p_value(correct: int, n: int) -> float:
    """correct, n: ints with 0 <= correct <= n -> P(X >= correct) for X ~ Binomial(n, 1/2)."""
    # BEGIN SOLUTION
    # p = sum_{j >= correct} C(n, j) / 2^n, in exact integers until the one division
    return sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n
    # END SOLUTION


# %%
checks.binomial_p_value(binomial_p_value)

# %% [markdown]
# The same accuracy says more the more it is measured on. A discriminator that is right 56% of
# the time on 300 held-out examples, or on 3,000: the cell below prints the p-value of each
# with your function.

# %%
try:
    for n in (300, 3000):
        correct = round(0.56 * n)
        p = binomial_p_value(correct, n)
        print(f"{correct} of {n} right (56%): p = {p:.2g}; below 0.05: {p < 0.05}, below 0.001: {p < 0.001}")
    print("same as metrics.binomial_p_value:", math.isclose(binomial_p_value(168, 300), metrics.binomial_p_value(168, 300), rel_tol=1e-9))
except NotImplementedError:
    print("(finish exercise 11.3 to see what an accuracy of 56% is worth)")

# %% [markdown]
# ## Exercise 11.4: flagging possible copies
#
# The memorization audit asks how close each sample comes to the training set, compared with
# real examples the model never saw. Given each sample's distance to its nearest training
# example, `sample_dist` (N,), and the same for real held-out examples, `heldout_dist` (M,), a
# sample is flagged as a possible copy when it is nearer than the `quantile` (say 0.01) of the
# held-out distances: closer than unseen real data almost ever comes.
#
# $$\text{flag}_i = \left[\, \text{sample\_dist}_i < \text{threshold} \,\right], \qquad \text{threshold} = \text{the } q \text{ quantile of heldout\_dist}$$
#
# Write `flag_copies(sample_dist, heldout_dist, quantile)`, returning a boolean tensor of shape
# (N,), True for a possible copy. Hints: torch has a function for a quantile of a tensor (it
# interpolates between the two nearest sorted values, and the check expects that); `quantile`
# is a share (0.01 for 1%); a sample exactly at the threshold is not flagged.


# %%
def flag_copies(sample_dist: torch.Tensor, heldout_dist: torch.Tensor, quantile: float) -> torch.Tensor:
    """sample_dist: (N,), heldout_dist: (M,), 0 < quantile < 1 -> (N,) bool: True = nearer than the held-out quantile."""
    # BEGIN SOLUTION
    return sample_dist < torch.quantile(heldout_dist, quantile)
    # END SOLUTION


# %%
checks.flag_copies(flag_copies)

# %% [markdown]
# The audit on pixels: 150 training digits with a little noise added play a generator that
# memorized its data; 150 held-out digits play an honest one (real, and never trained on). The
# threshold comes from 150 *other* held-out digits. The copies are all flagged; of the honest
# digits only a few, about the quantile's share (give or take: the threshold is estimated from
# just 150 digits), since they are exactly what unseen data looks like.

# %%
try:
    train, reference, honest = digits.x_train, digits.x_test[:150], digits.x_test[150:]
    copies = (train[:150] + 0.02 * torch.randn(150, 1, 8, 8, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    heldout_dist, _ = metrics.nearest_neighbours(reference, train)  # (150,)
    for name, samples in (("memorized", copies), ("honest", honest)):
        sample_dist, _ = metrics.nearest_neighbours(samples, train)  # (150,): distance to the nearest training digit
        print(f"{name}: flagged at 1%: {int(flag_copies(sample_dist, heldout_dist, 0.01).sum())} of 150, "
              f"at 5%: {int(flag_copies(sample_dist, heldout_dist, 0.05).sum())} of 150")
    audit = metrics.memorization(copies, train, reference, quantile=0.01)
    print("same share as metrics.memorization:", audit.copies == flag_copies(metrics.nearest_neighbours(copies, train)[0], heldout_dist, 0.01).float().mean().item())
except NotImplementedError:
    print("(finish exercise 11.4 to audit a memorizing generator)")
