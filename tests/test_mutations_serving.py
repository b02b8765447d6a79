"""The mutation table of lesson 15 (genai_course.checks.serving): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests, no_quote_tests

_REFILL = "self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)"
_TAKE = ("        if self.tokens >= 1:\n            self.tokens -= 1\n            return 0.0\n"
         "        return (1 - self.tokens) / self.rate")
_DEADLINE = "total, deadline = arrivals[batch[0]][1], now + max_wait"
_FITS = "while queue and total + arrivals[queue[0]][1] <= max_batch:"
_MODEL = "    if model not in models and \"*\" not in models:"
_RANGE = "any(lo <= int(label) <= hi for lo, hi in ranges)"

ROWS = [
    # 15.1 a token bucket: starts full, the cap, the rate's unit, the wait, no debt, the refill kept, the clock
    Mutant("token_bucket", "MyTokenBucket", "self.tokens = self.capacity", "self.tokens = 0.0", ["a new bucket refused its first request"]),
    Mutant("token_bucket", "MyTokenBucket", _REFILL, "self.tokens = self.tokens + (now - self.last) * self.rate",
           ["let more than per_minute requests through at once"]),
    Mutant("token_bucket", "MyTokenBucket", "self.rate = per_minute / 60", "self.rate = per_minute",
           ["your bucket refills per_minute tokens a second"]),
    Mutant("token_bucket", "MyTokenBucket", "return (1 - self.tokens) / self.rate", "return 60 / self.capacity",
           ["your wait is always the time between two tokens"]),
    Mutant("token_bucket", "MyTokenBucket", "return (1 - self.tokens) / self.rate", "return -((self.tokens - 1) // self.rate)",
           ["rounded up to whole seconds"]),
    Mutant("token_bucket", "MyTokenBucket", "return (1 - self.tokens) / self.rate", "return (1 - self.tokens) / self.rate / 60",
           ["your waits are in minutes"]),
    Mutant("token_bucket", "MyTokenBucket", _TAKE,
           "        self.tokens -= 1\n        if self.tokens >= 0:\n            return 0.0\n        return (1 - self.tokens) / self.rate",
           ["a refused request took a token anyway"]),
    Mutant("token_bucket", "MyTokenBucket", _REFILL + "  # what flowed in since, up to full\n        self.last = now\n" + _TAKE,
           "tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)\n        self.last = now\n"
           "        if tokens >= 1:\n            self.tokens = tokens - 1\n            return 0.0\n        return (1 - tokens) / self.rate",
           ["the time before a refused request was lost"]),
    Mutant("token_bucket", "MyTokenBucket", _REFILL, "self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate // 1)",
           ["part of a token was lost"]),
    Mutant("token_bucket", "MyTokenBucket", "now = self.clock()", "now = self.last", ["read the clock it was given only once"]),
    Mutant("token_bucket", "MyTokenBucket", "if self.tokens >= 1:", "if self.tokens > 1:", ["take() returned 0; it should return 2"]),
    Mutant("token_bucket", "MyTokenBucket", "return 0.0", "return True", ["take() returned the boolean True"]),
    # 15.2 the batcher: the wait, where it is counted from, a request that does not fit, the busy worker, the order
    Mutant("gather_batches", "gather_batches", _DEADLINE, "total, deadline = arrivals[batch[0]][1], now",
           ["your batches close the moment they open"]),
    Mutant("gather_batches", "gather_batches", _DEADLINE, "total, deadline = arrivals[batch[0]][1], arrivals[batch[0]][0] + max_wait",
           ["count max_wait from when their first request arrived"]),
    Mutant("gather_batches", "gather_batches", "if queue or total >= max_batch or now >= deadline:", "if total >= max_batch or now >= deadline:",
           ["a batch whose next request does not fit went on waiting"]),
    Mutant("gather_batches", "gather_batches", "        now += service  # the worker is busy until the pass ends\n", "",
           ["your worker took a new batch while a pass was still running"]),
    Mutant("gather_batches", "gather_batches", _FITS, "while queue and total < max_batch:",
           ["with a request that does not fit, batch 0 holds 9 samples, more than max_batch=8"]),
    Mutant("gather_batches", "gather_batches", "batch = [queue.pop(0)]", "batch = [queue.pop()]", ["which arrived first", "in the order they came"]),
    Mutant("gather_batches", "gather_batches", "batches.append((now, batch))", "batches.append(batch)", ["each batch is a pair"]),
    # 15.3 scopes: exact models, ranges with both ends and as numbers, label:*, the default max, 403 first, no label, max inclusive
    Mutant("allowed", "allowed", _MODEL, "    if not any(model.startswith(m) for m in models) and \"*\" not in models:",
           ["a model word names one model exactly"]),
    Mutant("allowed", "allowed", _RANGE, "any(lo <= int(label) < hi for lo, hi in ranges)", ["a label range includes both its ends"]),
    Mutant("allowed", "allowed", _RANGE, "any(str(lo) <= label <= str(hi) for lo, hi in ranges)", ["compare class numbers as numbers"]),
    Mutant("allowed", "allowed", "label.isdigit() and " + _RANGE, _RANGE, ["raised ValueError", "a label need not be a class number"]),
    Mutant("allowed", "allowed", "        elif kind == \"label\" and value == \"*\":\n            every_label = True\n", "",
           ["label:* allows every label"]),
    Mutant("allowed", "allowed", "set(), set(), [], False, 16", "set(), set(), [], False, 10_000", ["at most 16 samples a request"]),
    Mutant("allowed", "allowed", _MODEL, "    if n > most:\n        return 413\n" + _MODEL, ["the scope check comes first"]),
    Mutant("allowed", "allowed", "if label is None or not (label in labels or in_range):", "if label is not None and not (label in labels or in_range):",
           ["a key limited to some labels must name one"]),
    Mutant("allowed", "allowed", "return 413 if n > most else None", "return 413 if n >= most else None", ["max:8 is the most samples a request may ask for"]),
]

test_mutant_is_caught = mutation_tests(ROWS)

test_no_message_quotes_the_solution = no_quote_tests(ROWS, "15")
