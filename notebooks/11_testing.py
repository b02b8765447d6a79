# %% [markdown]
# # Lesson 11: Testing generative models
#
# By the end of this lesson you can test any generative model for **quality**, **diversity**,
# **memorization** and **speed**, and say which of the course's four digit models, a GAN
# (generative adversarial network), a conditional GAN, a VAE (variational autoencoder) and a
# diffusion model, is better at what. The tests: k-NN (k-nearest-neighbour) precision and recall, the
# classifier two-sample test with its p-value, train-on-synthetic-test-on-real, the memorization
# audit and a speed meter. You write precision and recall, the p-value, the audit and the speed
# meter by hand from plain torch (checking the first three against `genai_course.metrics`); the two tests
# that train a classifier you call from the library. Every
# test is first run on *known cases* built from real digits (real digits, noise, a collapsed
# generator, training copies, blurry averages, noisy digits), so that you see it give the
# answer it must before you trust it with a model. Then you train the course's four digit
# models on short budgets and compare them in one table.
#
# Run time: a few minutes on 2 CPU cores; the training and evaluation cells print how long
# they took.
#
# Where it sits: lessons 02-10 built four kinds of generator (a GAN, a conditional GAN, a
# VAE, a diffusion model), and each lesson judged its own model with lesson 06's digit
# classifier. This lesson asks what such a judgement can and cannot see, and puts all of
# them side by side. Lesson 12 scales training up; lesson 13 returns to the memorization
# audit as a safety check.

# %%
# The one switch of this lesson, for slow laptops. False: every model trains here, as the
# lesson is written. True: each one is loaded instead from the runs `genai-course pretrain 11`
# (or `--all`) saved in runs/pretrained/: the same weights, losses and pictures, in seconds.
# A run that is missing or was trained with other settings is trained here, and says so.
PRETRAINED = False

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display
from matplotlib.patches import Circle
from torch import nn

from genai_course import data, evaluate, metrics, models, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
digits = data.load_digits()
print("training digits:", tuple(digits.x_train.shape), " held-out digits:", tuple(digits.x_test.shape))

# %% [markdown]
# ## Why one number is not enough
#
# A generative model can fail in more ways than one, and each needs its own test:
#
# * **quality**: its samples do not look like real data (blurry, noisy, not digits at all);
# * **diversity** (coverage): its samples look real but only some kinds of real data are
#   drawn, as when a GAN collapses to a few modes (lesson 05);
# * **novelty**: its samples are copies of its training data. A model that memorized its
#   training set would look perfect on quality *and* diversity, and would be useless (or,
#   for private data, harmful);
# * **speed**: samples per second, and training steps per second.
#
# Lesson 06's judge gave three numbers: the confident fraction (roughly, quality), the class
# entropy (diversity, but only across the ten classes: a generator that draws the same 7
# every time it draws a 7 scores perfectly) and the feature distance (how far the samples'
# features lie from real digits': quality and diversity folded into one number). None of
# them can see copies. Before trusting any
# test, run it on cases whose answer we already know. We build them from real digits,
# without training anything: 300 images each.

# %%
g = torch.Generator().manual_seed(0)
real = digits.x_train[torch.randperm(len(digits.x_train), generator=g)[:300]]  # (300, 1, 8, 8)


def class_averages(n, m, generator):
    """n images, each the average of m different training digits of one class (classes in turn)."""
    out = []
    for y in range(n):
        pool = digits.x_train[digits.y_train == y % 10]  # (~150, 1, 8, 8) one class
        out.append(pool[torch.randperm(len(pool), generator=generator)[:m]].mean(0))
    return torch.stack(out)  # (n, 1, 8, 8)


cases = {
    "real digits": real,  # what a perfect model would draw (and, here, copies of training digits)
    "noise": torch.rand(300, 1, 8, 8, generator=g),  # the worst generator
    "collapsed": real[:1].repeat(300, 1, 1, 1),  # one digit, 300 times
    "blurry averages": class_averages(300, 4, g),  # each the mean of 4 digits of one class
    "noisy digits": (real + 0.2 * torch.randn(real.shape, generator=g)).clamp(0, 1),  # real digits with Gaussian noise
}
print({name: tuple(x.shape) for name, x in cases.items()})

# %%
fig, axes = plt.subplots(len(cases), 1, figsize=(9, 1.2 * len(cases)))
for ax, (name, x) in zip(axes, cases.items()):
    widgets.show_digits(x[:16], nrow=16, ax=ax)
    ax.set_title(name, fontsize=9, loc="left")
plt.show()

# %% [markdown]
# What should a good test say about each?
#
# | case | quality | diversity | novelty |
# |---|---|---|---|
# | real digits | high | high | none: they *are* training digits |
# | noise | none | - | - |
# | collapsed | high | none | none |
# | blurry averages | digits, but too smooth | low: every sample is a class's typical shape | new images |
# | noisy digits | lower | high | new images |
#
# The "real digits" are training digits: every test that compares samples with real data
# should rate them as perfect, and only a test that knows the training set can see that a
# model drawing them would be copying. The yardstick is the 300 **held-out** digits, which no
# model ever trains on (with one exception in the final comparison, explained there).
#
# ## k-NN precision and recall, on points
#
# Quality and diversity, separately. Kynkäänniemi et al. (2019) draw around each real
# example $r_i$ a ball reaching its $k$-th nearest *other* real example, of radius
# $\rho_k(r_i)$. The union of the balls is an estimate of where real data lives. Then
#
# $$\text{precision} = \frac{1}{M} \sum_{j=1}^{M} \mathbb{1}\big[\exists i:\ \|f_j - r_i\| \le \rho_k(r_i)\big], \qquad
#   \text{recall} = \frac{1}{N} \sum_{i=1}^{N} \mathbb{1}\big[\exists j:\ \|r_i - f_j\| \le \rho_k(f_j)\big]:$$
#
# precision is the share of the $M$ generated examples $f_j$ that fall where real data lives
# (quality), recall the share of the $N$ real examples that fall where generated data lives
# (coverage), with balls drawn the same way around the generated examples. The course uses
# $k = 3$, as the paper does.
#
# First on lesson 01's ring of 8 Gaussians, where we can draw the balls. The radii, by hand:

# %%
mixture = data.get_mixture("ring8")
g = torch.Generator().manual_seed(1)
ring_real = mixture.sample(200, generator=g)  # (200, 2): the real examples


def my_knn_radii(x, k=3):
    """(N, D) -> (N,): distance from each example to its k-th nearest other example."""
    d = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")  # (N, N) exact distances
    d.fill_diagonal_(float("inf"))  # an example is not its own neighbour
    return d.sort(dim=1).values[:, k - 1]  # (N,)


radii = my_knn_radii(ring_real.double())
print(f"k = 3 radii on the ring: median {radii.median():.3f} (the modes' std: {mixture.std})")
print("same radii as metrics.knn_radii:", torch.allclose(radii, metrics.knn_radii(ring_real, k=3)))

# %% [markdown]
# Three generators of 200 points each: a good one (fresh draws from the mixture), a
# **collapsed** one (every point on one mode) and an **over-spread** one (the right modes,
# four times too wide). And precision and recall by hand, straight from the formulas:

# %%
def my_precision_recall(real, fake, k=3):
    """real (N, D), fake (M, D) -> (precision, recall)."""
    real, fake = real.flatten(1).double(), fake.flatten(1).double()
    d = torch.cdist(fake, real, compute_mode="donot_use_mm_for_euclid_dist")  # (M, N)
    precision = (d <= my_knn_radii(real, k)[None, :]).any(dim=1).double().mean()  # fake inside some real ball
    recall = (d <= my_knn_radii(fake, k)[:, None]).any(dim=0).double().mean()  # real inside some fake ball
    return float(precision), float(recall)


modes = torch.randint(8, (200,), generator=g)  # a mode per point
generators = {
    "good": mixture.sample(200, generator=g),
    "collapsed": mixture.means[0] + mixture.std * torch.randn(200, 2, generator=g),
    "over-spread": mixture.means[modes] + 4 * mixture.std * torch.randn(200, 2, generator=g),
}
ring_pr = {name: my_precision_recall(ring_real, x) for name, x in generators.items()}
for name, x in generators.items():
    lib = metrics.precision_recall(ring_real, x, k=3)
    print(f"{name:12} same as metrics.precision_recall: {ring_pr[name] == (lib.precision, lib.recall)}")

# %% [markdown]
# The whole ring (top) and a zoom on the mode at $(1, 0)$ (bottom), with the real balls in
# blue and the generated ones in red:

# %%
fig, axes = plt.subplots(2, 3, figsize=(13, 8.8))
real_radii = metrics.knn_radii(ring_real).float()
for col, (name, x) in enumerate(generators.items()):
    fake_radii = metrics.knn_radii(x).float()
    p, r = ring_pr[name]
    for row, zoom in enumerate((False, True)):
        ax = axes[row, col]
        if zoom:
            for pts, rad, color in ((ring_real, real_radii, "C0"), (x, fake_radii, "C3")):
                for (cx, cy), rr in zip(pts.tolist(), rad.tolist()):
                    ax.add_patch(Circle((cx, cy), rr, fill=False, color=color, lw=0.6, alpha=0.6))
            ax.set(xlim=(0.92, 1.08), ylim=(-0.08, 0.08), title="zoom on the mode at (1, 0): k-NN balls")
        else:
            ax.set(xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), title=f"{name} generator\nprecision {p:.0%}, recall {r:.0%}")
        ax.scatter(ring_real[:, 0], ring_real[:, 1], s=4, c="C0", label="real")
        ax.scatter(x[:, 0], x[:, 1], s=4, c="C3", label="generated")
        ax.set(aspect="equal", xticks=[], yticks=[])
axes[0, 0].legend(loc="center")
plt.show()

# %%
print("good: precision and recall >= 0.8:", min(ring_pr["good"]) >= 0.8)
print("collapsed: precision >= 0.8, recall <= 0.2:", ring_pr["collapsed"][0] >= 0.8, ring_pr["collapsed"][1] <= 0.2)
print("over-spread: precision <= 0.5, recall >= 0.9:", ring_pr["over-spread"][0] <= 0.5, ring_pr["over-spread"][1] >= 0.9)
for name, (p, r) in ring_pr.items():
    print(f"  {name:12} precision {p:.0%}, recall {r:.0%}")

# %% [markdown]
# The two numbers fail separately, as they should. The collapsed generator's points nearly
# all sit inside real balls (precision 92%), but only the real points of one mode lie
# inside *its* balls (recall 12%, about 1/8). The over-spread one covers every real point with its
# wide balls (high recall), while most of its points land outside the real ones' tight balls
# (low precision). One number, such as a distance between the two clouds, would rate both
# as "somewhat off" and not say how.
#
# Two things to remember: the radii depend on the number of examples (more examples,
# smaller balls), so always compare sets of the same size; and the test is only as good as
# its notion of distance.
#
# ## Precision and recall on digits: in whose eyes?
#
# Distances between raw pixels are poor for images: a digit shifted by one pixel is far from
# itself. So we measure in the features of lesson 06's judge, the digit classifier
# (`metrics.digit_classifier()`, trained once on the training digits and kept in the package). It
# offers two layers:
#
# * `features`: its last hidden layer, 128 numbers (what lesson 06's feature distance uses);
# * `conv_features`: the output of its convolutional layers, 64 maps of 4x4 = 1,024 numbers,
#   which still describe strokes and where they are.
#
# Each known case against the held-out digits, in both spaces:

# %%
judge = metrics.digit_classifier()
with torch.no_grad():
    spaces = {"conv_features (1024)": judge.conv_features, "features (128)": judge.features}
    digit_pr = {
        space: {name: my_precision_recall(embed(digits.x_test), embed(x)) for name, x in cases.items()}
        for space, embed in spaces.items()
    }
    lib = metrics.precision_recall(judge.conv_features(digits.x_test), judge.conv_features(cases["noisy digits"]))
print("same as metrics.precision_recall:", digit_pr["conv_features (1024)"]["noisy digits"] == (lib.precision, lib.recall))

# %%
# NBVAL_IGNORE_OUTPUT
for space, results in digit_pr.items():
    print(space)
    for name, (p, r) in results.items():
        print(f"  {name:16} precision {p:6.1%}   recall {r:6.1%}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4), sharey=True)
width = 0.4
for ax, (space, results) in zip(axes, digit_pr.items()):
    pos = torch.arange(len(results)).float()
    ax.bar(pos - width / 2, [p for p, _ in results.values()], width, label="precision")
    ax.bar(pos + width / 2, [r for _, r in results.values()], width, label="recall")
    ax.set_xticks(pos.tolist(), list(results), fontsize=8)
    ax.set(ylim=(0, 1.05), title=f"in the judge's {space}")
axes[0].legend()
plt.show()

# %%
conv, last = digit_pr["conv_features (1024)"], digit_pr["features (128)"]
print("real digits: precision and recall >= 0.85:", min(conv["real digits"]) >= 0.85)
print("collapsed: precision >= 0.95, recall <= 0.05:", conv["collapsed"][0] >= 0.95, conv["collapsed"][1] <= 0.05)
print("blurry averages: precision >= 0.95, recall <= 0.3:", conv["blurry averages"][0] >= 0.95, conv["blurry averages"][1] <= 0.3)
print("noisy digits: precision <= 0.85, recall >= 0.85:", conv["noisy digits"][0] <= 0.85, conv["noisy digits"][1] >= 0.85)
print("noise in conv_features: precision < 0.05:", conv["noise"][0] < 0.05)
print("noise in features: precision > 0.3:", last["noise"][0] > 0.3)

# %% [markdown]
# In the convolutional features every known case gets its expected answer: real digits high
# on both; the collapsed generator perfect precision and no recall; the blurry averages look
# like digits (every one is a typical shape of its class, so precision is high) but cover
# few of the real digits (low recall), the signature of a VAE; noisy digits cover the real
# ones but fall outside their balls more often; noise scores nothing.
#
# **The pitfall**: in the last hidden layer, much of the *uniform noise* counts as real
# (about half: the printout three cells up gives the share, the check above says more than 30%). A classifier trained only on digits has never been asked to keep noise away from
# them: its last layer only needs to separate the ten classes, and noise lands somewhere
# among them. The deeper the layer, the more it forgets about the image that is not needed
# for the classifier's task. That is why the course measures precision and recall in
# `conv_features` (and why a test on a new kind of data starts with the known cases).
#
# ## The classifier two-sample test
#
# Precision and recall look at each sample's neighbourhood. The **classifier two-sample
# test** (Lopez-Paz & Oquab, 2017) asks the question of a GAN's discriminator once more, with
# a fresh one that is scored honestly: train a classifier to tell real from generated
# examples on one half of each set, and measure its accuracy on the *other* halves. If the
# two sets come from the same distribution no classifier can beat a coin flip (accuracy
# 0.5); the more often it is right, the more the samples give themselves away.
#
# The recipe of `metrics.two_sample_test`: cut both sets to the same size $n$, shuffle, split
# each in halves; standardize the inputs with the training half's mean and standard
# deviation; train an MLP (multilayer perceptron: linear layers with ReLU between them; here
# 64 units, 2 hidden layers) for 60 passes with Adam and binary cross-entropy, the
# discriminator's loss of lessons 03-04; count the right answers on the held-out halves. It is
# a GAN's discriminator step written once more, so we call the library rather than retype it:

# %%
rep = metrics.two_sample_test(digits.x_test, cases["real digits"])
print(f"real digits vs held-out: {rep.n_test} held-out examples, {round(rep.accuracy * rep.n_test)} right")
print("accuracy below 0.6:", rep.accuracy < 0.6)

# %% [markdown]
# Is an accuracy of 55% on 300 examples better than chance? If the classifier were guessing,
# the number of right answers $C$ would be binomial with $n$ tries and probability 1/2, and
# the chance of at least $c$ right would be the **p-value**
#
# $$p = P(C \ge c) = \sum_{j=c}^{n} \binom{n}{j}\, 2^{-n}.$$
#
# A small $p$ (say below 0.01) means the accuracy is no accident: the classifier really tells
# the sets apart. The cell below writes the sum by hand, checks it against the library, and
# answers the question for 55% (165 of 300), then for 57% on 300 and on 30 examples.

# %%
def my_binomial_p_value(correct, n):
    """P(at least `correct` right of n) for a coin flipper."""
    return sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n


print("same as metrics.binomial_p_value:", all(
    math.isclose(my_binomial_p_value(c, n), metrics.binomial_p_value(c, n)) for c, n in ((150, 300), (171, 300), (16, 30), (30, 30))))
for c, n in ((165, 300), (171, 300), (17, 30)):
    p = my_binomial_p_value(c, n)
    print(f"{c} of {n} right ({c / n:.0%}): p = {p:.3f}, below 0.01: {p < 0.01}")

# %% [markdown]
# So 55% on 300 is not enough: its p-value is above the 0.01 line, and a coin flipper does
# that well too often to rule out. 57% on 300 is significant; the same 57% on 30 examples is not. The
# number of examples matters as much as the accuracy.

# %% [markdown]
# The known cases, each against the held-out digits:

# %%
two_sample = {name: metrics.two_sample_test(digits.x_test, x) for name, x in cases.items()}

# %%
# NBVAL_IGNORE_OUTPUT
for name, rep in two_sample.items():
    print(f"{name:16} {rep}")

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(list(two_sample), [rep.accuracy for rep in two_sample.values()], color="C2")
ax.axhline(0.5, color="gray", ls="--", lw=1)
ax.set(ylim=(0, 1.05), ylabel="held-out accuracy", title="two-sample test against held-out digits (0.5 = indistinguishable)")
ax.tick_params(axis="x", labelsize=8)
plt.show()

# %%
print("real digits: accuracy < 0.6 and p > 0.01:", two_sample["real digits"].accuracy < 0.6, two_sample["real digits"].p_value > 0.01)
print("noise and collapsed: accuracy >= 0.99:", two_sample["noise"].accuracy >= 0.99, two_sample["collapsed"].accuracy >= 0.99)
print("blurry averages and noisy digits: accuracy >= 0.65, p < 0.001:",
      all(two_sample[k].accuracy >= 0.65 and two_sample[k].p_value < 1e-3 for k in ("blurry averages", "noisy digits")))

# %% [markdown]
# Real digits are indistinguishable from held-out ones (as they must be), noise and the
# collapsed generator are caught every time, and the blurry averages and noisy digits are
# caught most of the time. Unlike precision and recall, the two-sample test folds quality
# and diversity into one number; its strength is that it can find *any* difference a
# classifier can learn, with a p-value to say whether it is real.
#
# **The pitfall: grey levels.** That strength cuts both ways. The real digits were scanned
# to 17 grey levels, $0, \frac{1}{16}, \dots, 1$; a generator's sigmoid output is any number
# in $(0, 1)$, and never exactly 0 where the paper is white. A classifier notices that at
# once, and says nothing about the strokes. Take the real digits and move every pixel by at
# most $\frac{1}{32}$, invisibly:

# %%
jittered = (real + (torch.rand(real.shape, generator=torch.Generator().manual_seed(2)) - 0.5) / 16).clamp(0, 1)
rounded = (jittered * 16).round() / 16  # back to the 17 grey levels
print("rounding gives back the real digits:", torch.equal(rounded, real))
raw_test, rounded_test = metrics.two_sample_test(digits.x_test, jittered), metrics.two_sample_test(digits.x_test, rounded)
print("jittered digits: accuracy >= 0.9:", raw_test.accuracy >= 0.9, "  after rounding: accuracy < 0.6:", rounded_test.accuracy < 0.6)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 2.6), width_ratios=[1, 1, 1.4])
widgets.show_digits(real[:8], nrow=8, ax=axes[0], title="real digits")
widgets.show_digits(jittered[:8], nrow=8, ax=axes[1], title="jittered by at most 1/32")
axes[2].hist(real.flatten(), bins=129, range=(0, 1), alpha=0.7, label="real: 17 levels")
axes[2].hist(jittered.flatten(), bins=129, range=(0, 1), alpha=0.7, label="jittered: any value")
axes[2].set(yscale="log", xlabel="pixel value", title="pixel values")
axes[2].legend(fontsize=8)
plt.show()

# %% [markdown]
# The two rows look the same, yet the test tells them apart almost every time. Rounding the
# jittered digits to the 17 levels gives the real digits back exactly, and the test back to
# a coin flip. So `evaluate_model` rounds every model's samples to the 17 levels before the
# two-sample test: a GAN whose digits are otherwise perfect should not fail for a detail of
# the scanner. You will see below what the raw pixels do to the course's models.
#
# ## Train on synthetic, test on real
#
# For a **conditional** model there is a question of use: are its labelled samples good
# enough to learn from? Train a classifier on generated digits only, each with the label it
# was drawn for, and test it on the real held-out digits: **train on synthetic, test on real**
# (TSTR; Esteban et al. 2017; Shmelkov et al. 2018 call it GAN-train). The samples must look right, carry the right label, *and*
# vary the way real digits of the class do: a classifier trained on one drawing per class
# learns little about the others. `metrics.train_on_synthetic` trains a `DigitClassifier`
# for 15 passes and puts beside it the same recipe trained on as many *real* training digits,
# the ceiling. Three known cases of 500 labelled digits: real ones; a collapsed conditional
# generator (one drawing per class, repeated); and real digits with shuffled labels.

# %%
labels = torch.arange(500) % 10  # 0, 1, ..., 9, 0, 1, ... as a conditional model is asked
g = torch.Generator().manual_seed(3)
by_class = torch.stack([digits.x_train[digits.y_train == y][0] for y in range(10)])  # (10, 1, 8, 8): one drawing per class
real_500 = torch.stack([digits.x_train[digits.y_train == y][i // 10] for i, y in enumerate(labels.tolist())])  # (500, 1, 8, 8)
tstr_cases = {
    "real digits": (real_500, labels),
    "one drawing per class": (by_class[labels], labels),
    "shuffled labels": (real_500, labels[torch.randperm(500, generator=g)]),
}
tstr = {name: metrics.train_on_synthetic(x, y) for name, (x, y) in tstr_cases.items()}

# %%
# NBVAL_IGNORE_OUTPUT
for name, rep in tstr.items():
    print(f"{name:22} {rep}")

# %%
ceiling = tstr["real digits"].reference
print("trained on real digits: within 0.05 of the reference:", abs(tstr["real digits"].accuracy - ceiling) <= 0.05)
print("one drawing per class: at least 0.1 below the reference:", tstr["one drawing per class"].accuracy <= ceiling - 0.1)
print("shuffled labels: about chance (< 0.2):", tstr["shuffled labels"].accuracy < 0.2)

# %% [markdown]
# Real digits reach the reference, as they must. Ten drawings, however perfect, teach a
# classifier only part of each class; digits with the wrong labels teach it nothing. A
# generator scores near the reference only if its samples carry what a classifier needs to
# know about every class.
#
# ## The memorization audit
#
# None of the tests so far can see copies: to precision, recall and the two-sample test,
# training digits *are* real digits, so a model that outputs its training set is perfect.
# The audit asks: how close does each sample come to the training set, compared with real
# digits the model has never seen? For each sample, the distance to its nearest training
# digit (in pixels: a copy is a copy pixel for pixel), by hand:

# %%
def my_nearest_neighbours(x, reference):
    """x (N, ...), reference (M, ...) -> distance to the nearest reference example (N,) and its index (N,)."""
    d = torch.cdist(x.flatten(1).double(), reference.flatten(1).double(), compute_mode="donot_use_mm_for_euclid_dist")  # (N, M)
    dist, index = d.min(dim=1)
    return dist.float(), index


dist, index = my_nearest_neighbours(cases["noisy digits"], digits.x_train)
lib_dist, lib_index = metrics.nearest_neighbours(cases["noisy digits"], digits.x_train)
print("same as metrics.nearest_neighbours:", torch.equal(dist, lib_dist) and torch.equal(index, lib_index))

# %% [markdown]
# The held-out digits say what "new" looks like: their distances to the nearest training
# digit. A sample that comes nearer to a training digit than 99% of the held-out digits do is
# flagged as a possible copy. By construction about 1% of the held-out digits themselves are
# flagged: that is the false-alarm rate we chose.

# %%
def my_memorization(samples, train, heldout, quantile=0.01):
    """-> (share of samples flagged as copies, the threshold distance)."""
    d_samples, _ = my_nearest_neighbours(samples, train)
    d_heldout, _ = my_nearest_neighbours(heldout, train)
    threshold = float(torch.quantile(d_heldout.double(), quantile))  # only 1% of unseen real digits come nearer
    return float((d_samples < threshold).float().mean()), threshold


audit_cases = {"held-out digits": digits.x_test, **cases}
audit = {name: metrics.memorization(x, digits.x_train, digits.x_test) for name, x in audit_cases.items()}
mine = my_memorization(cases["real digits"], digits.x_train, digits.x_test)
print("same as metrics.memorization:", mine == (audit["real digits"].copies, audit["real digits"].threshold))

# %%
# NBVAL_IGNORE_OUTPUT
for name, rep in audit.items():
    print(f"{name:16} flagged {rep.copies:6.1%}   median distance to the nearest training digit {rep.sample_distance:.2f}")

# %%
print("held-out digits: about 1% flagged (<= 2%):", audit["held-out digits"].copies <= 0.02)
print("real (training) digits: all flagged:", audit["real digits"].copies == 1.0)
print("noise, blurry averages, noisy digits: at most 2% flagged:", all(audit[k].copies <= 0.02 for k in ("noise", "blurry averages", "noisy digits")))

# %% [markdown]
# The training digits are caught, 100%; new images are flagged no more often than new real
# digits are. (The collapsed generator's one digit is a training digit too, so it is flagged
# as well.) The histograms show why the threshold works: copies sit at distance 0 (all 300
# "real digits" would make one tall bar there), new digits of every kind spread around a
# typical distance (the medians printed above).

# %%
fig, ax = plt.subplots(figsize=(7, 3))
bins = torch.linspace(0, 2.5, 51).tolist()
for name in ("held-out digits", "blurry averages", "noisy digits"):
    d, _ = metrics.nearest_neighbours(audit_cases[name], digits.x_train)
    ax.hist(d.tolist(), bins=bins, alpha=0.5, label=name)
ax.axvline(audit["held-out digits"].threshold, color="k", lw=1, ls="--", label="threshold (1% of held-out)")
ax.set(xlabel="distance to the nearest training digit (pixels)", ylabel="digits")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The blurry averages lie about as far from the training digits as new real digits do, the
# noisy digits a little further. (Lesson 13 returns to the audit.)
#
# ## Speed
#
# The last property is the simplest to measure, and the one where the models differ most.
# Samples per second: time `sample(n)` after a small warm-up call (the first call of a
# network pays for setting things up). The work per sample does not depend on the weights, so
# untrained models will do: a GAN generator is one pass through a small network, a diffusion
# model 50 passes (DDIM, the deterministic sampler of lesson 10) through a U-Net (lesson 10's
# encoder-decoder network with skip connections), each pass on a doubled batch (with and
# without the label) for guidance. Our timer for the GAN, the library's
# (`metrics.generation_speed`, the same recipe) for the diffusion model. These are timings:
# they vary with the machine's load and the batch size (100 diffusion samples here, 1,000 in
# the comparison), so the comparison prints other rates and another ratio for the same
# networks. What holds is the bound checked there: diffusion at least 50 times slower than
# either GAN.

# %%
# NBVAL_IGNORE_OUTPUT
def my_generation_speed(sample, n):
    sample(8)  # warm-up
    start = time.perf_counter()
    sample(n)
    return n / (time.perf_counter() - start)


gan_model, ddpm_model = models.build("dcgan-digits"), models.build("ddpm-digits")
with torch.no_grad():
    gan_speed = my_generation_speed(lambda n: gan_model.sample(n), 1000)
    ddpm_speed = metrics.generation_speed(lambda n: ddpm_model.sample(n, labels=torch.arange(n) % 10, sampler="ddim", steps=50), 100)
print(f"DCGAN: {gan_speed:,.0f} samples/s;  DDPM (DDIM-50, guided): {ddpm_speed:,.0f} samples/s")

# %%
print("the diffusion model samples at least 50 times slower than the GAN:", ddpm_speed * 50 < gan_speed)

# %% [markdown]
# Training speed is steps per second, which each trained model records (steps over the
# seconds its training took). Those differ far less: a training step of any of these models
# is a forward and a backward pass through a network or two. The price of diffusion is paid
# at sampling time, every time a sample is drawn.
#
# ## The comparison: four models, one protocol
#
# `evaluate.evaluate_model` runs every test above on a trained course model with one
# protocol, so a GAN, a VAE and a diffusion model of the same digits are judged alike: 1,000
# samples (conditional models draw every class in turn; the diffusion model with guidance and
# DDIM-50); confident fraction, class entropy and feature distance from lesson 06's judge;
# precision and recall in `conv_features` (300 samples against the 300 held-out digits); the
# two-sample test on samples rounded to the 17 grey levels, against the training digits;
# train on synthetic, test on real (conditional models); the memorization audit; and speed.
# The two-sample test is the one exception to the held-out yardstick: it uses as many
# examples per side as the smaller set holds, so the 1,497 training digits give it 1,000 per
# side instead of 300, a sharper test. A copying model would pass it; the copies column
# catches that.
#
# We train the four digit models with the course's recipes but **fewer steps** than the
# lessons did, to fit this lesson's time. (The GAN recipes decay
# the learning rate to zero over however many steps they are given, so a short run is still
# a complete schedule.) The budgets are short and unequal in steps and seconds (each cell
# prints both; the next prints the recipes' full step counts). So the table compares these
# runs, not the kinds of model: a weak column may be the budget's doing.

# %%
# NBVAL_IGNORE_OUTPUT
trained = {}
trained["dcgan-digits"] = models.train_model("dcgan-digits", steps=1000, progress=False, pretrained=PRETRAINED)
print(f"dcgan-digits: {trained['dcgan-digits'].step} steps in {trained['dcgan-digits'].history.seconds:.0f} s")

# %%
# NBVAL_IGNORE_OUTPUT
trained["cgan-digits"] = models.train_model("cgan-digits", steps=1000, progress=False, pretrained=PRETRAINED)
print(f"cgan-digits: {trained['cgan-digits'].step} steps in {trained['cgan-digits'].history.seconds:.0f} s")

# %%
# NBVAL_IGNORE_OUTPUT
trained["vae-digits"] = models.train_model("vae-digits", steps=3000, progress=False, pretrained=PRETRAINED)
print(f"vae-digits: {trained['vae-digits'].step} steps in {trained['vae-digits'].history.seconds:.0f} s")

# %%
# NBVAL_IGNORE_OUTPUT
trained["ddpm-digits"] = models.train_model("ddpm-digits", steps=700, progress=False, pretrained=PRETRAINED)
print(f"ddpm-digits: {trained['ddpm-digits'].step} steps in {trained['ddpm-digits'].history.seconds:.0f} s")

# %%
print({name: model.step for name, model in trained.items()})
print("the recipes' full budgets:", {name: models.build(name).recipe.train.steps for name in trained})

# %% [markdown]
# Now the tests (most of their time is the diffusion model's sampling; the cell prints each
# one's). Every score goes into `evaluations`; the table shows the columns the rest of the
# lesson reads. The figure after it places each model by recall and precision, and by speed
# and two-sample accuracy; the number in brackets after each name in its legend is the seed
# of the evaluation's samples:

# %%
# NBVAL_IGNORE_OUTPUT
evaluations = []
for name, model in trained.items():
    evaluations.append(evaluate.evaluate_model(model))
    print(f"{name}: evaluated in {evaluations[-1].seconds:.1f} s ({evaluations[-1].protocol})")
shown = {"precision": ".3f", "recall": ".3f", "frechet": ".1f", "two_sample": ".3f", "tstr": ".3f", "copies": ".3f",
         "samples_per_s": ",.0f", "train_steps_per_s": ".1f"}  # score -> how to print it
headers = ["precision", "recall", "feature distance", "two-sample acc.", "train synth./test real", "copies", "samples/s", "train steps/s"]
rows = ["| model | " + " | ".join(headers) + " |", "|---|" + "---:|" * len(shown)]
for e in evaluations:
    rows.append(f"| {e.model} | " + " | ".join("-" if e.scores.get(k) is None else format(e.scores[k], f) for k, f in shown.items()) + " |")
display(Markdown("\n".join(rows)))

# %%
evaluate.plot_report(evaluations)
plt.show()

# %%
s = {e.model: e.scores for e in evaluations}
print("the VAE has the lowest recall:", s["vae-digits"]["recall"] == min(x["recall"] for x in s.values()))
print("the VAE's precision >= 0.9:", s["vae-digits"]["precision"] >= 0.9)
print("the VAE's feature distance is the largest:", s["vae-digits"]["frechet"] == max(x["frechet"] for x in s.values()))
print("train on synthetic >= 0.8 for the cGAN and the diffusion model:", s["cgan-digits"]["tstr"] >= 0.8, s["ddpm-digits"]["tstr"] >= 0.8)
print("no model has more than 5% copies:", all(x["copies"] <= 0.05 for x in s.values()))
print("diffusion samples at least 50 times slower than either GAN:",
      all(s["ddpm-digits"]["samples_per_s"] * 50 < s[k]["samples_per_s"] for k in ("dcgan-digits", "cgan-digits")))

# %%
# NBVAL_IGNORE_OUTPUT
gans = ("dcgan-digits", "cgan-digits")
for score, what in (("samples_per_s", "samples"), ("train_steps_per_s", "training steps")):
    ratio = min(s[k][score] for k in gans) / s["ddpm-digits"][score]
    print(f"{what} per second, the slower GAN over the diffusion model: {ratio:,.1f}x")

# %% [markdown]
# And the grey-level pitfall on real models: the two-sample test on the GANs' raw pixels (the
# same 1,000 samples `evaluate_model` drew, same seed) catches them almost every time,
# whatever their strokes look like; the table's figures, after rounding, are lower (each is
# printed in the table's two-sample column):

# %%
for name in ("dcgan-digits", "cgan-digits"):
    model = trained[name]
    labels = torch.arange(1000) % 10 if model.conditional else None
    x = model.sample(1000, generator=torch.Generator().manual_seed(0), labels=labels)
    raw_accuracy = metrics.two_sample_test(digits.x_train, x).accuracy
    print(f"{name}: raw pixels >= 0.95: {raw_accuracy >= 0.95};  rounded to 17 levels (the table) < 0.9: {s[name]['two_sample'] < 0.9}")

# %% [markdown]
# The audit's pairs: a dozen samples of each model (top rows, with the distance to the
# nearest training digit) above that nearest training digit (bottom rows). New handwriting,
# not copies.

# %%
fig, axes = plt.subplots(2, 2, figsize=(12, 3.6))
for ax, (name, model) in zip(axes.flat, trained.items()):
    labels = torch.arange(12) % 10 if model.conditional else None
    x = model.sample(12, generator=torch.Generator().manual_seed(5), labels=labels).clamp(0, 1)  # (12, 1, 8, 8)
    dist, nearest = metrics.nearest_neighbours(x, digits.x_train)
    widgets.show_digits(torch.cat([x, digits.x_train[nearest]]), nrow=12, ax=ax, labels=[f"{d:.1f}" for d in dist.tolist()] + [""] * 12)
    ax.set_title(name, fontsize=9, loc="left")
plt.show()

# %% [markdown]
# What each row says. The checks above hold run after run; the figures quoted below are
# read from this run's table.
#
# **dcgan-digits**: varied digits, precision 0.783 and recall 0.690. The two-sample column says
# how often a fresh classifier still tells its samples from real ones once the grey levels
# are rounded (0.5 would be indistinguishable): 0.848 here. Its copies column stays within
# the 5% the checks allow.

# %% [markdown]
# **cgan-digits**: it also draws the digit asked for. A classifier trained only on its samples
# recognises real held-out digits (the "train synth./test real" column, at least 0.8 in the
# checks above), which only works if every class's samples vary the way real ones do. It has
# the best precision of the three models that are not the VAE (0.913) and the lowest
# two-sample accuracy of all four (0.832).

# %% [markdown]
# **vae-digits**: the blurry averages of the known cases, drawn by a model. Its samples are
# typical shapes of their class, so nearly all lie among real digits (high precision), but
# they cover fewer of them than any other model (lowest recall) and sit furthest from the real
# digits in the judge's features (largest feature distance): the checks above print all three.
# Yet the two-sample test catches it more often than any other model (0.969): precision asks
# of each sample alone whether it lies near a real digit, while the classifier learns what
# the samples share, as with the blurry averages. A model trained on a likelihood bound plays
# it safe: it is the most *careful*, not the most *realistic*.

# %% [markdown]
# **ddpm-digits**: the denoising diffusion probabilistic model (DDPM) of lesson 10. In this
# run its quality columns are below the GANs': the lowest precision in the table (0.737,
# against 0.783 and 0.913), a lower recall (0.513 against 0.690 and 0.693), and the
# two-sample test catches it more often than either GAN (0.899, against 0.848 and 0.832).
# Like every model here it had about a third of its recipe's steps (printed above), so this
# may be the budget rather than diffusion. Its other price the GANs do not pay: the
# samples/s column, because each sample takes 50 passes of a U-Net, each on a doubled batch
# for guidance. It also trains more slowly, but by a far smaller ratio (both ratios are
# printed after the checks; they are timings, and move with the machine's load).

# %% [markdown]
# So there is no single winner at these budgets: the VAE plays safe (high precision, the
# lowest recall), and the diffusion model pays at sampling time (at least 50 times slower
# than either GAN).

# %% [markdown]
# To compare the full-size models, train each with the command line (`genai-course train
# dcgan-digits`, and so on for every model) and run `genai-course report`: it evaluates every
# checkpoint with this protocol and writes the full table (every column) and the figure.

# %% [markdown]
# ## Summary
#
# * No single number describes a generative model: quality, diversity, novelty and speed are
#   separate, and each test sees only some of them. Check every test on **known cases**
#   (real data, noise, a collapsed generator, copies, blurry averages) before trusting it.
# * **k-NN precision and recall** split quality from coverage, but only in a space where
#   distances mean something: in the judge's last layer, much of the noise looks real.
# * The **classifier two-sample test** finds any difference a classifier can learn, with an
#   exact binomial p-value, including ones that do not matter (grey levels): round first.
# * **Train on synthetic, test on real** asks whether a conditional model's samples teach
#   what real data teaches; the **memorization audit** is the only test that sees copies.
# * GANs sample far faster than diffusion (more than 50 times, checked above); the VAE has
#   high precision and the lowest recall.

# %% [markdown]
# ## Exercises
#
# In `exercises/11_testing.ipynb` you vary four of the tests here: the k-NN radii drawn
# within each class, for judging a conditional model class by class (11.1); precision with
# *coverage*, a recall that a few stray samples cannot inflate (11.2); the p-value of a
# two-sided question, for testing the test itself (11.3); and a memorization rule that
# judges each sample against its own nearest training examples (11.4). Each has a check cell
# that prints ✅ or says what is wrong.

# %% [markdown]
# Next: lesson 12, scaling up: devices, batch size, mixed precision, checkpoints and
# training on several processes.
