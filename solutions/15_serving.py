# %% [markdown]
# # Exercises 15: Serving
#
# Three exercises from lesson 15 (`notebooks/15_serving.ipynb`), each one of the server's
# doors rebuilt by hand. The lesson uses the library's quota, batcher and scopes; here you write
# each of them yourself, as a plain function or class with no server around it, so that a
# check can try it on a clock, an arrival pattern or a key that it makes up. Replace each
# `raise NotImplementedError` with your code, then run the check cell below it: it prints ✅
# when your code is right, or says what is wrong.
#
# Terms, as in the lesson. A **token bucket** holds up to N tokens and refills at N a minute;
# each request takes one, and a request that finds no whole token is refused. **Dynamic
# batching** gathers requests that arrive close together into one forward pass of the model
# (a **pass**). A key's **scopes** say what it may ask for: which models, which labels, how
# many samples a request.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import random
import statistics

from genai_course import checks, serve, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)

# %% [markdown]
# ## Exercise 15.1: a token bucket on a clock you are given
#
# The server keeps one bucket per key (`serve.TokenBucket`) and answers 429 when it is empty.
# Write your own: `MyTokenBucket(per_minute, clock)`, where `clock()` returns the time in
# seconds (the server passes `time.monotonic`; the check passes a clock it moves by hand). Its
# `take()` returns `0.0` when it took a token, or else the seconds until a whole token will be
# there, taking nothing.
#
# - The bucket holds at most `per_minute` tokens, and starts full: a new key may send a burst
#   of `per_minute` requests at once.
# - It refills continuously at `per_minute` tokens a minute of `clock()` (a sixtieth of that
#   each second), fractions of a token included, and never beyond full however long it waits.
# - A refused request takes nothing: the wait it is told shrinks as time passes.
#
# For example, at 30 a minute: 30 requests at once pass, the 31st is told 2 s; asked again
# half a second later, 1.5 s.
#
# Hints: you need not add tokens on a timer. What two numbers, kept between calls, let
# `take()` work out how full the bucket is now? How long does it take to refill what is
# missing for one token?


# %%
class MyTokenBucket:
    """Holds up to per_minute tokens, starts full, refills per_minute a minute by clock(); take() -> 0.0 or seconds to wait."""

    def __init__(self, per_minute, clock):
        # BEGIN SOLUTION
        self.capacity = float(per_minute)
        self.rate = per_minute / 60  # tokens a second
        self.clock = clock
        self.tokens = self.capacity  # full: a new key has its whole burst
        self.last = clock()  # when self.tokens was last brought up to date
        # END SOLUTION

    def take(self):
        # BEGIN SOLUTION
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)  # what flowed in since, up to full
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate  # seconds until one whole token; nothing taken
        # END SOLUTION


# %%
checks.token_bucket(MyTokenBucket)

# %% [markdown]
# A client that sends a request every half second, for a minute, to a key of 30 a minute,
# with your bucket and the server's on the same hand-moved clock: the burst passes, then one
# request in four (a token every 2 s).

# %%
try:
    now = [0.0]
    mine, theirs = MyTokenBucket(30, lambda: now[0]), serve.TokenBucket(30, lambda: now[0])
    passed, same = [], True
    for k in range(120):
        now[0] = 0.5 * k
        wait = mine.take()
        same = same and abs(wait - theirs.take()) < 1e-9
        passed.append(wait == 0.0)
    print(f"requests passed in the first 30 s: {sum(passed[:60])} of 60 | in the next 30 s: {sum(passed[60:])} of 60")
    print("the same answers as serve.TokenBucket:", same)
except NotImplementedError:
    print("(finish exercise 15.1 to run the bucket)")

# %% [markdown]
# ## Exercise 15.2: the dynamic batcher, simulated
#
# The lesson's picture simulates requests of one sample each. Real requests ask for several
# samples (`"n"`), and the server's batcher (`genai_course/serve/batching.py`) counts samples.
# Write `gather_batches(arrivals, max_batch, max_wait, service)`, a simulation of it with no
# server and no real time: `arrivals` is a list of `(time_s, n_samples)`, sorted by time; the
# result is the list of passes, in order, each as a pair `(start_s, [request indices])`, where
# `start_s` is when the pass starts and the indices are positions in `arrivals`. The rules:
#
# - When the worker is free and a request is waiting, the first waiting request **opens** a
#   batch. A request is waiting from its arrival time on (requests that arrive at the same
#   moment are all waiting then).
# - The batch then takes waiting requests, in the order they came, while they fit in
#   `max_batch` samples. It waits for more until `max_wait` seconds after it opened.
# - It **closes**, and its pass starts, at the first of: it is full (`max_batch` samples); the
#   next waiting request does not fit (that request never lets a later one pass it: it waits
#   for the next batch); the deadline, `max_wait` after opening.
# - A request larger than `max_batch` on its own is never split: it opens a batch and runs
#   alone at once.
# - A pass takes `service` seconds, during which the worker is busy and new requests wait.
#
# Return the start times as computed, without rounding. Hints: keep the current time in one
# variable, and let it jump from event to event (an arrival, a deadline, the end of a pass)
# rather than stepping through time. Which of these events can close a batch early?


# %%
def gather_batches(arrivals, max_batch, max_wait, service):
    """[(time_s, n_samples)] sorted by time -> [(start_s, [request indices])], the passes in order."""
    # BEGIN SOLUTION
    batches, queue, nxt, now = [], [], 0, 0.0

    def arrive(t):  # every request that has arrived by t joins the queue
        nonlocal nxt
        while nxt < len(arrivals) and arrivals[nxt][0] <= t:
            queue.append(nxt)
            nxt += 1

    while nxt < len(arrivals) or queue:
        if not queue:
            now = max(now, arrivals[nxt][0])  # the free worker waits for the next request
        arrive(now)
        batch = [queue.pop(0)]  # the first waiting request opens the batch
        total, deadline = arrivals[batch[0]][1], now + max_wait
        while total < max_batch:
            arrive(now)
            while queue and total + arrivals[queue[0]][1] <= max_batch:
                total += arrivals[queue[0]][1]
                batch.append(queue.pop(0))
            if queue or total >= max_batch or now >= deadline:
                break  # blocked by a request that does not fit, full, or out of time
            now = arrivals[nxt][0] if nxt < len(arrivals) and arrivals[nxt][0] <= deadline else deadline
        batches.append((now, batch))
        now += service  # the worker is busy until the pass ends
    return batches
    # END SOLUTION


# %%
checks.gather_batches(gather_batches)

# %% [markdown]
# What batching buys and costs: 400 requests of 1 to 4 samples arriving at random, about 60 a
# second (a Poisson stream: the gaps between arrivals are drawn at random, independently, each
# a sixtieth of a second on average), to a model whose pass takes 50 ms whatever its size. With
# batching off (`max_batch` 1) the worker runs one pass per request, fewer passes a second than
# requests come, so the queue grows and so do the waits; with batching on, a request may wait
# for company but the queue drains. **Latency** is the time from a request's arrival to the end
# of its pass.

# %%
try:
    rng = random.Random(0)
    t, stream = 0.0, []
    for _ in range(400):
        t += rng.expovariate(60)
        stream.append((t, rng.randint(1, 4)))
    print(f"requests a second: {len(stream) / stream[-1][0]:.0f} | passes a second the worker can run: {1 / 0.05:.0f}")
    print(f"{'max_batch':>9} {'max_wait':>8} {'passes':>6} {'requests a pass':>15} {'median latency':>14} {'95th pct':>9}")
    for max_batch, max_wait in ((1, 0.0), (16, 0.0), (16, 0.01), (64, 0.01), (64, 0.05)):
        passes = gather_batches(stream, max_batch, max_wait, 0.05)
        latency = sorted(start + 0.05 - stream[i][0] for start, idx in passes for i in idx)
        p95 = latency[int(0.95 * len(latency))]
        print(f"{max_batch:>9} {max_wait * 1000:>6.0f}ms {len(passes):>6} {len(stream) / len(passes):>15.1f} "
              f"{statistics.median(latency) * 1000:>12.0f}ms {p95 * 1000:>7.0f}ms")
except NotImplementedError:
    print("(finish exercise 15.2 to simulate the batcher)")

# %% [markdown]
# ## Exercise 15.3: what a key's scopes allow
#
# The server decides with `serve.parse_scopes(text).check(model, label, n)`. Write the decision
# yourself: `allowed(scopes, model, label, n)` returns `None` when the key may make the request,
# or the status the server sends: `403` (the model or label is not in the key's scopes) or
# `413` (too many samples). `scopes` is the key's text, words separated by spaces:
#
# - `model:NAME`: the key may use the model called exactly NAME; `model:*`: every model.
# - `label:SPEC`: only these labels, where SPEC is one label (`3`, or a locale like `de_DE`),
#   a range of class numbers (`0-4`, both ends included) or `*` (every label). Several
#   `label:` words add up; a key with no `label:` word may ask for every label.
# - `max:N`: at most N samples a request; without it, at most 16.
# - `admin`: a word about other doors; it changes nothing here.
#
# `label` is a string, or `None` for a request that names no label, which asks for every label
# in turn (so a key limited to some labels must name one). The model and label are checked
# first: a request that fails both gets 403.
#
# Hints: what does "exactly" rule out, for a model word? Labels arrive as text: which of them
# can be compared with a range, and how?


# %%
def allowed(scopes, model, label, n):
    """A key's scopes (text), a request (model, label or None, n samples) -> None if allowed, else 403 or 413."""
    # BEGIN SOLUTION
    models, labels, ranges, every_label, most = set(), set(), [], False, 16
    for word in scopes.split():
        kind, _, value = word.partition(":")
        low, dash, high = value.partition("-")
        if kind == "model":
            models.add(value)
        elif kind == "max":
            most = int(value)
        elif kind == "label" and value == "*":
            every_label = True
        elif kind == "label" and dash and low.isdigit() and high.isdigit():
            ranges.append((int(low), int(high)))  # both ends included
        elif kind == "label":
            labels.add(value)
    if model not in models and "*" not in models:
        return 403
    if not every_label and (labels or ranges):  # no label word at all: every label
        in_range = label is not None and label.isdigit() and any(lo <= int(label) <= hi for lo, hi in ranges)
        if label is None or not (label in labels or in_range):
            return 403
    return 413 if n > most else None
    # END SOLUTION


# %%
checks.allowed(allowed)

# %% [markdown]
# Your answers and the server's for a few requests, with the server's one-line reason where it
# refuses (the body of its error response).

# %%
try:
    key = "model:cvae-digits label:0-4 max:8"
    for model, label, n in (("cvae-digits", "3", 8), ("cvae-digits", "7", 1), ("cvae-digits", None, 1),
                            ("cvae-digits", "4", 9), ("cvae", "1", 1)):
        refused = serve.parse_scopes(key).check(model, label, n)
        print(f"{model:>11} label={label!s:<4} n={n}: yours {allowed(key, model, label, n)!s:<4} | server: "
              + ("samples" if refused is None else f"{refused[0]} {refused[1]}"))
except NotImplementedError:
    print("(finish exercise 15.3 to compare)")
