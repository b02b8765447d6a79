# %% [markdown]
# # Exercises 09: Generating text
#
# Three exercises from lesson 09 (`notebooks/09_text.ipynb`): the pieces of a character-level
# language model of names. You count a bigram table, the simplest model of
# p(next character | previous character); you draw the next character with a temperature and
# a nucleus (top-p) cut, a variation on the lesson's top-k sampler; and you write the causal
# mask of self-attention, which keeps a transformer from reading the characters it has to
# predict, here with an optional window (a variation on the lesson). Replace each `raise NotImplementedError` with your code, then run the check cell
# below it: it prints ✅ when your code is right, or says what is wrong.
#
# Notation: a name is a row of token ids. Id 0 is START, which every name begins with, id 1
# is END, which ends it, and the characters follow; $V$ = `len(vocab)` tokens in all.
# `NameSplit.tensors(vocab)` gives `inputs` and `targets`, both (N, T) int64, such that
# `inputs[n, t]` is followed by `targets[n, t]`: for "Ada", inputs = START A d a END END ...
# and targets = A d a END -100 -100 ...; a target of -100 marks padding (nothing to predict).
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch

from genai_course import checks, text, threads
from genai_course.text import END, START

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
names = text.load_names()  # faker's first names in 8 languages, with a fixed held-out split
vocab = names.vocab
inputs, targets = names.train.tensors(vocab)  # (N, T) each
heldout_inputs, heldout_targets = names.heldout.tensors(vocab)
print(f"{len(names.train)} training names, {len(names.heldout)} held out, {len(vocab)} tokens; inputs {tuple(inputs.shape)}")

# %%
i = names.train.names.index("Ada")
print(names.train.names[i])
print("inputs: ", inputs[i, :6].tolist())
print("targets:", targets[i, :6].tolist())

# %% [markdown]
# ## Exercise 9.1: the bigram table
#
# Write `bigram_log_probs(inputs, targets, vocab_size, alpha)`: the table of
# $\log p(j \mid i)$, the log-probability that token $j$ follows token $i$, as a (V, V) float32
# tensor with row = previous token $i$ and column = next token $j$.
#
# Count the pairs: $n_{ij}$ is the number of positions (n, t) with `inputs[n, t]` $= i$ and
# `targets[n, t]` $= j$, skipping the padding (`targets == -100`). Then smooth the counts by
# adding $\alpha$ to each, except in START's column, since START never follows a character:
#
# $$\log p(j \mid i) = \log \frac{n_{ij} + \alpha}{n_i + \alpha (V - 1)} \quad (j \neq \text{START}), \qquad \log p(\text{START} \mid i) = -\infty, \qquad n_i = \sum_j n_{ij}$$
#
# Each row's probabilities sum to 1. Hints: leave the padding positions out before you count.
# A pair that occurs many times must be counted many times: indexed in-place addition with
# repeated indices adds only once unless you ask it to accumulate (or turn each pair into one
# integer and count those). START's column must come out as
# $\log 0 = -\infty$ after the normalisation, not as a smoothed count.


# %%
def bigram_log_probs(inputs: torch.Tensor, targets: torch.Tensor, vocab_size: int, alpha: float) -> torch.Tensor:
    """inputs, targets: (N, T) int64 (targets -100 = padding) -> (V, V) log p(next | previous), START's column -inf."""
    # BEGIN SOLUTION
    keep = targets != -100  # (N, T): real pairs, not padding
    counts = torch.zeros(vocab_size, vocab_size)
    counts.index_put_((inputs[keep], targets[keep]), torch.ones(int(keep.sum())), accumulate=True)
    smoothed = counts + alpha
    smoothed[:, START] = 0.0  # START begins a name, it never follows a character
    # log p(j | i) = log (n_ij + alpha) - log (n_i + alpha (V - 1))
    return smoothed.log() - smoothed.sum(dim=1, keepdim=True).log()
    # END SOLUTION


# %%
checks.bigram_log_probs(bigram_log_probs)

# %% [markdown]
# Your table on the training names of all eight languages, and how well it predicts the
# held-out names: the mean $-\log p(\text{next} \mid \text{previous})$ over every held-out pair, in
# nats per character (lower is better; a uniform guess over the $V - 1$ tokens that can follow
# scores $\log(V - 1)$, printed below).
# It is the library's `BigramLM` (here with $\alpha = 0.5$), fitted by counting, without a language.

# %%
try:
    table = bigram_log_probs(inputs, targets, len(vocab), 0.5)  # (V, V)
    keep = heldout_targets != -100
    nll = -table[heldout_inputs[keep], heldout_targets[keep]].mean().item()
    library = text.BigramLM(len(vocab), 0, alpha=0.5).fit(inputs, targets)
    print(f"held-out NLL: {nll:.2f} nats per char (text.BigramLM: {text.nll_per_char(library, heldout_inputs, heldout_targets):.2f})")
    print("same table as text.BigramLM:", torch.allclose(table, library.log_probs[0]))
    print(f"a uniform guess: log(V - 1) = {torch.tensor(len(vocab) - 1.0).log():.2f} nats per char")
except NotImplementedError:
    print("(finish exercise 9.1 to evaluate your table)")

# %% [markdown]
# The table itself for the Latin letters: row = the previous character, column = the next
# one (END for the end of the name); the first row is START, followed by the capital letters.
# Dark cells are likely pairs.

# %%
try:
    table = bigram_log_probs(inputs, targets, len(vocab), 0.5)  # (V, V)
    letters = "abcdefghijklmnopqrstuvwxyz"
    lower = [vocab.stoi[c] for c in letters]
    first = table[START, [vocab.stoi[c.upper()] for c in letters] + [END]].exp()  # names begin with a capital
    probs = torch.cat([first[None], table[lower][:, lower + [END]].exp()])  # (27, 27)
    plt.figure(figsize=(6, 6))
    plt.imshow(probs, cmap="Blues")
    plt.xticks(range(27), [*letters, "END"], fontsize=7, rotation=90)
    plt.yticks(range(27), ["START (capitals)", *letters], fontsize=7)
    plt.xlabel("next character")
    plt.ylabel("previous character")
    plt.show()
except NotImplementedError:
    print("(finish exercise 9.1 to see the table)")

# %% [markdown]
# Why smooth? A held-out name can hold a pair the training names never show: with
# $\alpha \to 0$ its probability goes to 0 and its $-\log p$ to infinity. With a large $\alpha$ every
# row tends to the uniform distribution. Somewhere in between predicts unseen names best
# (the cell prints where on the grid): each row shares $\alpha (V - 1)$ pseudo-counts among 150
# tokens, most of which never follow that character.

# %%
try:
    alphas = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
    heldout_nll = []
    keep = heldout_targets != -100
    for a in alphas:
        t = bigram_log_probs(inputs, targets, len(vocab), a)
        heldout_nll.append(-t[heldout_inputs[keep], heldout_targets[keep]].mean().item())
    plt.figure(figsize=(5, 3))
    print("best alpha on the grid:", alphas[heldout_nll.index(min(heldout_nll))])
    plt.semilogx(alphas, heldout_nll, "o-")
    plt.xlabel("alpha")
    plt.ylabel("held-out NLL (nats per char)")
    plt.show()
except NotImplementedError:
    print("(finish exercise 9.1 to see the effect of alpha)")

# %% [markdown]
# ## Exercise 9.2: nucleus (top-p) sampling
#
# The lesson cuts the tail of the next-character distribution with top-k: always k tokens,
# whether the model is sure of the next character (one likely token, and k - 1 that make
# nonsense) or unsure (many plausible ones, most of them cut). Nucleus sampling (Holtzman et
# al., 2020, arXiv:1904.09751), also called top-p sampling, adapts the cut to the row: it keeps
# the **nucleus**, the smallest set of most likely tokens whose probabilities add up to at
# least `top_p`, and draws from it.
#
# Write `sample_next(logits, temperature, top_p, generator)`: given the logits $\ell$ of a
# batch of next-token distributions, shape (B, V), draw one token id per row and return them as
# an int64 tensor of shape **(B,)**. For each row, with temperature $\tau > 0$ (tau; $T$ is a
# sequence's length) and $0 < $ `top_p` $\le 1$:
#
# 1. the probabilities $q_j = \exp(\ell_j / \tau) / \sum_m \exp(\ell_m / \tau)$, the temperature first;
# 2. the nucleus $N$: rank the tokens from the most likely down and keep adding them until the
#    total of the kept $q_j$ reaches `top_p` (the token that makes it reach `top_p` is kept);
# 3. draw from $p_j = q_j / \sum_{m \in N} q_m$ for $j \in N$, and $p_j = 0$ outside $N$.
#
# At `top_p` = 1.0 the nucleus is every token (those of probability 0 are never drawn anyway).
# Ties: when several tokens have the same probability at the edge of the nucleus, keep only as
# many of them as the total needs, as the lesson's top-k keeps exactly k (which of the tied ones
# stay does not matter). Don't change the caller's tensor in place.
#
# Hints: the nucleus is a property of one row: a row of a confident model keeps one or two
# tokens while the next row keeps twenty. Ranking the probabilities once tells you, for each
# token, how much probability lies ahead of it; that is enough to decide whether it is in.
# PyTorch draws from a row of non-negative weights for you (they need not sum to 1); pass the
# generator on, so the same seed gives the same names, and mind the shape it returns. The check
# draws 20,000 tokens at several temperatures and values of `top_p`, compares how often each
# token comes up with $p_j$, and says which usual slip it sees.


# %%
def sample_next(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """logits: (B, V) -> (B,) int64: one draw per row from softmax(logits / temperature), cut to the nucleus of top_p."""
    # BEGIN SOLUTION
    logits = logits / temperature
    probs = logits.softmax(dim=1)  # (B, V)
    ranked, order = probs.sort(dim=1, descending=True)  # (B, V) each: the most likely first
    ahead = ranked.cumsum(dim=1) - ranked  # (B, V): the probability of the tokens ranked before each one
    ranked = ranked.masked_fill(ahead >= top_p, 0.0)  # out once the tokens ahead already reach top_p
    probs = torch.zeros_like(probs).scatter(1, order, ranked)  # back in vocabulary order; the draw renormalises
    return torch.multinomial(probs, 1, generator=generator)[:, 0]  # (B,)
    # END SOLUTION


# %%
checks.sample_next(sample_next)

# %% [markdown]
# Names, one character at a time. A bigram model per language, fitted by counting (the same
# table as exercise 9.1, once for each language's names, with $\alpha = 0.03$ from the curve
# above), gives the logits of the next character: its log-probabilities, row
# `table[previous]`. Your `sample_next` draws it; a name stops at END.

# %%
bigram = text.BigramLM(len(vocab), len(names.locales), alpha=0.03).fit(inputs, targets, names.train.labels)


def generate(locale: str, n: int = 6, temperature: float = 1.0, top_p: float = 1.0, seed: int = 0) -> list[str]:
    """n names in the style of one language from the bigram model, drawn with your sample_next."""
    table = bigram.log_probs[names.locale_index(locale)]  # (V, V): log p(next | previous)
    g = torch.Generator().manual_seed(seed)
    ids = [torch.full((n,), START)]
    for _ in range(names.max_len + 1):
        ids.append(sample_next(table[ids[-1]], temperature, top_p, g))  # (n,): the next character of every name
    return [vocab.decode(row) for row in torch.stack(ids, dim=1)]  # decode stops at END


# %%
# NBVAL_IGNORE_OUTPUT
try:
    for locale in ("it_IT", "de_DE", "el_GR"):
        for temperature, top_p in ((0.5, 1.0), (1.0, 1.0), (2.0, 1.0), (1.0, 0.9)):
            drawn = generate(locale, temperature=temperature, top_p=top_p)
            print(f"{text.LANGUAGES[locale]:8} tau = {temperature}, top_p = {top_p}: {', '.join(drawn)}")
except NotImplementedError:
    print("(finish exercise 9.2 to sample names)")

# %% [markdown]
# A bigram only knows the previous character, so its names are pronounceable at best. At a
# low temperature they keep to the likeliest pairs; at $\tau = 1$ some wander off into other alphabets:
# the smoothing gave every token a little probability, and once a rare character is drawn,
# its row is nearly uniform. A higher temperature makes that worse. The nucleus cuts the tail
# off only where the row has a short one: the number of different characters your
# `sample_next` draws in 5,000 tries at `top_p` = 0.9, after a few previous characters of the
# Italian model.

# %%
try:
    table = bigram.log_probs[names.locale_index("it_IT")]  # (V, V)
    for previous in ("START", "a", "n", "C", "ö", "ω"):
        row = table[START if previous == "START" else vocab.itos.index(previous)]  # (V,) log p(next | previous)
        drawn = sample_next(row.expand(5000, -1), 1.0, 0.9, torch.Generator().manual_seed(0))  # (5000,)
        print(f"after {previous:5}: {len(drawn.unique()):3} different characters of {len(vocab)}")
except NotImplementedError:
    print("(finish exercise 9.2 to count the nucleus)")

# %% [markdown]
# After START or a common lower-case letter the nucleus holds a dozen or so characters. After
# C, which starts few Italian names, the smoothing holds much of the row, and after a character
# Italian names rarely or never contain (ö, ω) the row is the smoothing's nearly uniform one:
# there the nucleus keeps most of the vocabulary, which is why some Italian names above still
# wander at `top_p` = 0.9. Top-k would keep the same number in every row. Drawing is
# reproducible:

# %%
try:
    print("same seed, same names:", generate("it_IT", seed=1) == generate("it_IT", seed=1))
except NotImplementedError:
    print("(finish exercise 9.2 to sample names)")

# %% [markdown]
# The first letter of Italian names, $p(\cdot \mid \text{START})$, at three temperatures: the
# exact probabilities (bars) and how often your `sample_next` drew each letter in 5,000 tries
# (dots), for the 12 most likely letters.

# %%
try:
    first = bigram.log_probs[names.locale_index("it_IT"), START]  # (V,) log p(first char)
    top12 = first.topk(12).indices
    fig, axes = plt.subplots(1, 3, figsize=(11, 3), sharey=True)
    for ax, temperature in zip(axes, (0.5, 1.0, 2.0)):
        exact = (first / temperature).softmax(dim=0)[top12]
        drawn = sample_next(first.expand(5000, -1), temperature, 1.0, torch.Generator().manual_seed(0))  # (5000,)
        share = torch.bincount(drawn, minlength=len(vocab)).float()[top12] / 5000
        ax.bar(range(12), exact, color="lightsteelblue", label="exact")
        ax.plot(range(12), share, "ko", markersize=4, label="your draws")
        ax.set_xticks(range(12), [vocab.itos[int(j)] for j in top12])
        ax.set_title(f"tau = {temperature}")
    axes[0].set_ylabel("probability")
    axes[0].legend()
    plt.show()
except NotImplementedError:
    print("(finish exercise 9.2 to see the picture)")

# %% [markdown]
# ## Exercise 9.3: the causal attention mask
#
# Write `causal_attention(q, k, v, window=None)`: single-head self-attention where position $i$
# may look at positions $j \le i$ only, never at the characters after it (the ones it has to
# predict), as in the lesson; and, when `window` is an integer $w \ge 1$, only at the last $w$ of
# them, itself included: $i - w < j \le i$. This is the MLP's window (lesson, Model 2) in
# attention form, the idea of local or sliding-window attention (Beltagy et al., 2020,
# Longformer): what a position costs no longer grows with the length of the text.
# `q` and `k` have shape (B, T, d), `v` has shape (B, T, d_v) (usually $d_v = d$); return
# shape (B, T, d_v):
#
# $$s_{ij} = \frac{q_i \cdot k_j}{\sqrt{d}}, \qquad s_{ij} = -\infty \text{ for } j > i \text{ (and for } j \le i - w\text{)}, \qquad w_{ij} = \frac{\exp(s_{ij})}{\sum_{l} \exp(s_{il})}, \qquad \text{out}_i = \sum_{j} w_{ij} \, v_j$$
#
# Hints: the scores form a (B, T, T) tensor, row $i$ = query, column $j$ = key. Draw the
# (T, T) grid of which $(i, j)$ may be seen, for T = 6 and $w = 3$: a band along the diagonal.
# Hide the rest **before** the softmax, with a score whose exponential is 0, so that each row
# of weights still sums to 1 (zeroing weights after the softmax breaks that). Which dim does
# the softmax run over: the queries or the keys? With $w = 1$ each position sees only itself,
# so the output is $v$: a quick test of your own.


# %%
def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int | None = None) -> torch.Tensor:
    """q, k: (B, T, d), v: (B, T, d_v) -> (B, T, d_v): softmax(q k^T / sqrt(d), future masked) @ v; given a window w,
    position i sees positions i - w + 1 to i only."""
    # BEGIN SOLUTION
    T, d = q.shape[1], q.shape[2]
    scores = q @ k.transpose(-2, -1) / d**0.5  # (B, T, T): scores[b, i, j] = q_i . k_j / sqrt(d)
    visible = torch.tril(torch.ones(T, T, dtype=torch.bool, device=q.device))  # j <= i
    if window is not None:
        visible = visible & ~torch.tril(visible, diagonal=-window)  # and i - j < window
    scores = scores.masked_fill(~visible, float("-inf"))  # no peeking at later characters
    return scores.softmax(dim=-1) @ v  # (B, T, d_v)
    # END SOLUTION


# %%
checks.causal_attention(causal_attention)

# %% [markdown]
# Your function inside the library's attention layer: `text.CausalSelfAttention` with one head
# computes q, k and v from its input with one linear layer, attends, and projects the result.
# On random embeddings of the characters of a name (an untrained layer), your attention in
# its place gives the same output. With `v` the identity matrix, the output is the weights
# themselves: a lower triangle, each row summing to 1; with a window of 3, a band three wide.

# %%
try:
    torch.manual_seed(0)
    d = 16
    attn = text.CausalSelfAttention(d, heads=1, block_size=names.max_len + 1).eval()
    attn.keep_attention = True
    embed = torch.nn.Embedding(len(vocab), d)  # random vectors for the characters
    name = "Giulia"
    x = embed(torch.tensor([[START, *vocab.encode(name)]]))  # (1, 7, d)
    with torch.no_grad():
        q, k, v = attn.qkv(x).split(d, dim=2)  # each (1, 7, d)
        mine = attn.proj(causal_attention(q, k, v))
        weights = causal_attention(q, k, torch.eye(x.shape[1])[None])  # (1, 7, 7): out = weights @ I
        banded = causal_attention(q, k, torch.eye(x.shape[1])[None], 3)  # (1, 7, 7), a window of 3
        library = attn(x)
    print("same output as text.CausalSelfAttention:", torch.allclose(mine, library, atol=1e-6))
    print("same weights:", torch.allclose(weights, attn.attention[:, 0], atol=1e-6))
    print("positions seen, window 3:", (banded[0] > 0).sum(dim=1).tolist())
    labels = ["START", *name]
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for ax, w, title in ((axes[0], weights, "no window"), (axes[1], banded, "window = 3")):
        ax.imshow(w[0], cmap="Blues", vmin=0)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.set(xlabel="looks at (key j)", title=title)
    axes[0].set_ylabel("position (query i)")
    plt.show()
except NotImplementedError:
    print("(finish exercise 9.3 to see the weights)")

# %% [markdown]
# The point of the mask: what comes later cannot change what came before. "Giulia" and
# "Giulio" differ in their last character only, so every output before it is the same.

# %%
try:
    with torch.no_grad():
        a, b = (embed(torch.tensor([[START, *vocab.encode(s)]])) for s in ("Giulia", "Giulio"))
        out_a, out_b = (causal_attention(*attn.qkv(x).split(d, dim=2)) for x in (a, b))  # (1, 7, d) each
    print("outputs before the last character agree:", torch.allclose(out_a[:, :-1], out_b[:, :-1]))
    print("the last output differs:", not torch.allclose(out_a[:, -1], out_b[:, -1]))
except NotImplementedError:
    print("(finish exercise 9.3 to compare)")
