# %% [markdown]
# # Exercises 16: Flow matching
#
# Three exercises from lesson 16 (`notebooks/16_flow_matching.ipynb`), each a variation on one of
# its ideas. The lesson samples with the library's Euler and midpoint steps, learns the velocity
# field with a network and straightens paths by reflow; here you write another sampler, the field
# a perfect network would learn, and the pairing that reflow is after, each as a plain function
# that a check can try on a field, a few points or a batch that it makes up. Replace each
# `raise NotImplementedError` with your code, then run the check cell below it: it prints ✅
# when your code is right, or says what is wrong.
#
# Terms, as in the lesson. Time runs from t = 0, where a point is **noise** x0 drawn from
# N(0, I) (the standard normal distribution), to t = 1, where it is **data** x1. A **velocity
# field** v(x, t) says in which direction, and how fast, a point at x moves at time t; following
# it is solving the **ordinary differential equation** (ODE) dx/dt = v(x, t). A sampler does that
# in `steps` equal steps of length dt = 1 / steps; each evaluation of v is one **network call**.
# Flow matching trains v on the **straight path** x_t = (1 - t) x0 + t x1, whose velocity is
# x1 - x0.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import torch

from genai_course import checks, flow, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)

# %% [markdown]
# ## Exercise 16.1: Heun's method
#
# The lesson's **Euler step** moves by the slope where the step starts: x + dt v(x, t). Its
# **midpoint step** takes a second slope half way. Write another two-call step, **Heun's
# method** (the trapezoid rule): take the slope k1 = v(x, t) at the start; make a trial Euler
# step to x + dt k1; take the slope k2 there, at the time the trial step ends, t + dt; then move
# from x by dt times the average of k1 and k2.
#
# `heun_sample(velocity, x0, steps)`: `velocity(x, t)` takes x of shape (B, D) and t as a Python
# float and returns (B, D); `x0` (B, D) is the state at t = 0. Take exactly `steps` equal steps
# from t = 0 to t = 1 (so exactly 2 * steps calls to `velocity`) and return the state at t = 1,
# (B, D). Leave `x0` as it is.
#
# Hints: at what time does step i start, and at what time does it end? Which of the two slopes
# does Euler's method leave out, and where would the trial step have taken it?


# %%
def heun_sample(velocity, x0, steps):
    """Integrate dx/dt = velocity(x, t) from t = 0 to 1 in `steps` Heun steps; x0 (B, D) -> x at t = 1 (B, D)."""
    # BEGIN SOLUTION
    x, dt = x0, 1.0 / steps
    for i in range(steps):
        t = i * dt
        k1 = velocity(x, t)  # the slope where the step starts
        k2 = velocity(x + dt * k1, t + dt)  # the slope where a trial Euler step ends
        x = x + dt * (k1 + k2) / 2  # the trapezoid: move by the average slope
    return x
    # END SOLUTION


# %%
checks.heun_sample(heun_sample)

# %% [markdown]
# Quality against network calls, on a field whose answer is known: when the data are
# N(1.5, 0.3^2), the exact flow-matching field (`flow.gaussian_velocity`) carries each noise x0
# to 1.5 + 0.3 x0. The error is the largest distance from there, over the 1,000 samples, after the sampler's steps: Heun's
# method, two calls a step, against Euler's, one call a step, for the same number of calls.

# %%
try:
    field = lambda x, t: flow.gaussian_velocity(x, t, mean=1.5, std=0.3)  # noqa: E731
    x0 = torch.randn((1000, 2), generator=torch.Generator().manual_seed(0))
    exact = 1.5 + 0.3 * x0

    def euler(x, steps):
        for i in range(steps):
            x = x + field(x, i / steps) / steps
        return x

    print(f"{'network calls':>13} {'Euler error':>12} {'Heun error':>11}")
    for calls in (2, 4, 8, 16):
        e, h = (euler(x0, calls) - exact).norm(dim=1).max(), (heun_sample(field, x0, calls // 2) - exact).norm(dim=1).max()
        print(f"{calls:>13} {e:>12.4f} {h:>11.4f}")
except NotImplementedError:
    print("(finish exercise 16.1 to compare the samplers)")

# %% [markdown]
# ## Exercise 16.2: the field a perfect network would learn
#
# When the data are a few points a_1, ..., a_M and the noise is N(0, I), the field that flow
# matching's loss is smallest for can be written down. A point x at time t lies on the straight
# path to a_i with a probability given by Bayes' rule, its **posterior** w_i(x, t): on the paths to
# a_i, x_t is t a_i plus noise whose standard deviation is 1 - t, so
#
# w_i(x, t) is proportional to exp(-|x - t a_i|^2 / (2 (1 - t)^2)), normalised so that the w_i of
# each x sum to 1 (that normalisation of exponentials is a **softmax**).
#
# On the path to a_i the point still has to travel a_i - x in the time 1 - t that is left, so
#
# v(x, t) = sum over i of w_i(x, t) (a_i - x) / (1 - t).
#
# Write `exact_velocity(x, t, points)`: x (B, D), t a Python float in [0, 1), points (M, D) holding
# a_1..a_M as rows; return v (B, D). It must stay finite for x far from every point and for t
# near 1, where every exponential is far smaller than the smallest float32.
#
# Hints: build a (B, M) table first: one entry for each pair of an x and a data point. The
# weights do not change if the same number is subtracted from every exponent of one x: which
# number keeps all of them from underflowing?


# %%
def exact_velocity(x, t, points):
    """The flow-matching velocity of the data points (M, D) at x (B, D) and time t in [0, 1): (B, D)."""
    # BEGIN SOLUTION
    d2 = ((x[:, None, :] - t * points[None, :, :]) ** 2).sum(-1)  # (B, M): squared distance from each x to each t a_i
    w = torch.softmax(-d2 / (2 * (1 - t) ** 2), dim=1)  # (B, M): each x's posterior over the points, stable
    return (w[:, :, None] * (points[None, :, :] - x[:, None, :])).sum(1) / (1 - t)  # (B, D)
    # END SOLUTION


# %%
checks.exact_velocity(exact_velocity)

# %% [markdown]
# Following that field from noise lands on the data points themselves: a perfect network would
# only ever reproduce its training data (a network learns a smoother field, which is why it makes
# new samples). The field is not defined at t = 1, so the sampler is told t = 0.999 at the end.

# %%
try:
    points = torch.tensor([[-1.5, 0.5], [1.0, 1.5], [0.5, -1.5]])
    noise = torch.randn((300, 2), generator=torch.Generator().manual_seed(1))
    landed = heun_sample(lambda x, t: exact_velocity(x, min(t, 0.999), points), noise, 50)
    nearest = torch.cdist(landed, points).min(1)
    print(f"farthest sample from its nearest data point: {nearest.values.max():.3f}")
    print("samples at each data point:", torch.bincount(nearest.indices, minlength=3).tolist())
except NotImplementedError:
    print("(finish exercises 16.1 and 16.2 to sample from the exact field)")

# %% [markdown]
# ## Exercise 16.3: paths that never cross, in one dimension
#
# Flow matching pairs each noise with a data point drawn independently, so many straight paths
# cross; reflow straightens the paths by pairing noise with what the model makes of it. In one
# dimension the best pairing (the **optimal transport** pairing, which makes the total squared
# distance travelled smallest) is easy to say: the i-th smallest noise goes to the i-th smallest
# data point. Then no two straight paths cross: two paths **cross** when the one that starts
# lower ends higher.
#
# Write `uncross_1d(x0, x1)`: x0 (N,) noise and x1 (N,) data, no two values equal; return y (N,),
# x1's values re-ordered (each once) so that the path from x0[i] to y[i] crosses no other.
# Leave x0 and x1 as they are.
#
# Hints: where in the ranking of the noise does x0[i] stand? Which data point stands at the
# same place in the ranking of the data?


# %%
def uncross_1d(x0, x1):
    """Noise (N,) and data (N,) -> x1's values (N,), re-ordered so that the paths x0[i] -> y[i] never cross."""
    # BEGIN SOLUTION
    y = torch.empty_like(x1)
    y[x0.argsort()] = x1.sort().values  # the k-th smallest noise gets the k-th smallest data point
    return y
    # END SOLUTION


# %%
checks.uncross_1d(uncross_1d)

# %% [markdown]
# How many pairs of paths cross, among 200 noise points paired with 200 data points from two
# clusters: drawn independently (flow matching's pairing) and re-ordered by your function.

# %%
try:
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(200, generator=g)
    x1 = torch.cat([torch.randn(100, generator=g) * 0.3 - 2, torch.randn(100, generator=g) * 0.3 + 2])

    def crossings(x0, y):
        return int(((x0[:, None] - x0[None]) * (y[:, None] - y[None]) < 0).sum()) // 2

    print(f"pairs of paths that cross, of {200 * 199 // 2}: independent {crossings(x0, x1)} | uncrossed {crossings(x0, uncross_1d(x0, x1))}")
    print(f"mean squared distance travelled: independent {((x1 - x0) ** 2).mean():.3f} | "
          f"uncrossed {((uncross_1d(x0, x1) - x0) ** 2).mean():.3f}")
except NotImplementedError:
    print("(finish exercise 16.3 to count the crossings)")
