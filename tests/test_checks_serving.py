"""genai_course.checks.serving (lesson 15): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import math
import re
import time

import pytest

from genai_course import checks, serve, widgets
from genai_course.checks import serving as serving_checks
from genai_course.checks._serve_cases import _HAND_CASES, _BatchCase, _batch_cases, _simulate
from check_protocol import assert_named_mistake, assert_not_attempted, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- 15.1 a token bucket


def bucket(*, empty=False, cap=True, debt=False, lost=False, whole=False, per_second=False, minutes=False, fixed=False,
           ceil=False, real_clock=False, read_once=False, as_bool=False, none_on_take=False):
    """A token bucket class, right by default; each keyword makes it one of the usual wrong ways."""

    class Bucket:
        def __init__(self, per_minute, clock):
            self.capacity, self.rate = float(per_minute), per_minute / (1 if per_second else 60)
            self.clock = time.monotonic if real_clock else clock
            self.tokens = 0.0 if empty else self.capacity
            self.last = self.clock()

        def take(self):
            now = self.last if read_once else self.clock()
            tokens = self.tokens + (now - self.last) * self.rate
            tokens = min(self.capacity, tokens) if cap else tokens
            tokens = float(math.floor(tokens)) if whole else tokens
            self.last = now
            if tokens >= 1 or (debt and tokens - 1 >= 0):
                self.tokens = tokens - 1
                return True if as_bool else None if none_on_take else 0.0
            wait = (1 - tokens) / self.rate
            if debt:
                self.tokens = tokens - 1
                wait = (1 - self.tokens) / self.rate
            elif not lost:
                self.tokens = tokens
            wait = 60 / self.capacity if fixed else wait
            wait = wait / 60 if minutes else math.ceil(wait) if ceil else wait
            return False if as_bool else wait

    return Bucket


class CellRateBucket:
    """Right, written another way: the moment the bucket will be full again (a "theoretical arrival time")."""

    def __init__(self, per_minute, clock):
        self.interval, self.burst, self.clock = 60 / per_minute, per_minute, clock
        self.full_at = clock()

    def take(self):
        now = self.clock()
        full_at = max(self.full_at, now)
        earliest = full_at + self.interval - self.burst * self.interval  # a token is there once now reaches this
        if now >= earliest:
            self.full_at = full_at + self.interval
            return 0.0
        return earliest - now


# --------------------------------------------------------------------------- 15.2 the batcher, simulated


def batches(*, slip=None, first_fit=False, drop_big=False, split_big=False, repeat_last=False, no_start=False, pop=False):
    """A simulation of the batcher, right by default (the check's own reference, or one of its slips); each keyword is a wrong way."""

    def gather(arrivals, max_batch, max_wait, service):
        case = _BatchCase("", tuple(arrivals), max_batch, max_wait, service)
        out = _simulate(case, slip)[0]
        if first_fit or drop_big or split_big:
            out = by_hand(arrivals, max_batch, max_wait, service, first_fit=first_fit, drop_big=drop_big, split_big=split_big)
        if repeat_last:
            out = out + [out[-1]]
        if pop:
            arrivals.pop()
        return [idx for _, idx in out] if no_start else out

    return gather


def by_hand(arrivals, max_batch, max_wait, service, *, first_fit=False, drop_big=False, split_big=False):
    """Right, written as passes in closed form (each batch's closing moment from its members), unless a keyword says otherwise."""
    i, free, out, n = 0, 0.0, [], len(arrivals)
    skipped: list[int] = []
    while i < n or skipped:
        if skipped:
            out.append((free, [skipped.pop(0)]))
            free += service
            continue
        opened = max(free, arrivals[i][0])
        members, total, close, j = [i], arrivals[i][1], None, i + 1
        if total > max_batch and (drop_big or split_big):
            out += [(opened, [i])] * (2 if split_big else 0)
            free, i = opened + 2 * service, i + 1
            continue
        if total >= max_batch:
            close = opened
        while close is None and j < n and arrivals[j][0] <= opened + max_wait:
            if total + arrivals[j][1] > max_batch:
                if first_fit:
                    skipped.append(j)
                    j += 1
                    continue
                close = max(opened, arrivals[j][0])
                break
            total += arrivals[j][1]
            members.append(j)
            j += 1
            if total >= max_batch:
                close = max(opened, arrivals[j - 1][0])
        close = opened + max_wait if close is None else close
        out.append((close, members))
        free, i = close + service, j
    return out


# --------------------------------------------------------------------------- 15.3 what a key's scopes allow


def scoper(*, prefix=False, substring=False, range_open=False, star_ignored=False, no_default=False, size_first=False,
           no_label_ok=False, max_exclusive=False, text_ranges=False, int_labels=False, as_bool=False, as_tuple=False):
    """allowed(), right by default; each keyword makes it one of the usual wrong ways."""

    def allowed(scopes, model, label, n):
        words = scopes.split()
        models = [w[6:] for w in words if w.startswith("model:")]
        specs = [w[6:] for w in words if w.startswith("label:")]
        most = next((int(w[4:]) for w in words if w.startswith("max:")), 10**9 if no_default else 16)
        if prefix:
            ok_model = any(model.startswith(m) or m == "*" for m in models)
        elif substring:
            ok_model = any(m in model or m == "*" for m in models)
        else:
            ok_model = model in models or "*" in models
        every = not specs or ("*" in specs and not star_ignored)

        def fits(spec):
            m = re.fullmatch(r"(\d+)-(\d+)", spec)
            if m and text_ranges:
                return m.group(1) <= label <= m.group(2)
            if m and (int_labels or label.isdigit()):
                return int(m.group(1)) <= int(label) < int(m.group(2)) + (0 if range_open else 1)
            return spec == label

        ok_label = every or (no_label_ok and label is None) or (label is not None and any(fits(s) for s in specs))
        too_many = n >= most if max_exclusive else n > most
        order = [(too_many, 413), (not ok_model or not ok_label, 403)] if size_first else [(not ok_model or not ok_label, 403), (too_many, 413)]
        status = next((s for bad, s in order if bad), None)
        if as_bool:
            return status is None
        return (status, "refused") if as_tuple and status else status

    return allowed


def by_the_library(scopes, model, label, n):
    refused = serve.parse_scopes(scopes).check(model, label, n)
    return None if refused is None else refused[0]


CORRECT = {
    "token_bucket": [bucket(), CellRateBucket, serve.TokenBucket],
    "gather_batches": [batches(), by_hand],
    "allowed": [scoper(), by_the_library],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(serving_checks, {
        "token_bucket": "Exercise 15.1 (a token bucket on a clock you are given)",
        "gather_batches": "Exercise 15.2 (the dynamic batcher, simulated)",
        "allowed": "Exercise 15.3 (what a key's scopes allow)",
    })
    assert list(CORRECT) == serving_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


@pytest.mark.parametrize("name", list(CORRECT))
def test_unattempted_code_waits(name, capsys):
    assert_not_attempted(name, capsys)


def test_the_simulation_is_the_lessons_picture_for_one_sample_requests():
    """15.2's reference agrees with the lesson's timeline (widgets.serving) where requests draw one sample each."""
    for max_batch, max_wait, service in ((1, 10, 8), (4, 10, 8), (3, 0, 5), (8, 25, 40)):
        arrivals = [0, 2, 3, 5, 12, 14, 30, 31, 33, 34, 36, 40]
        ours = _simulate(_BatchCase("", tuple((t, 1) for t in arrivals), max_batch, max_wait, service))[0]
        theirs = widgets.serving.batching_timeline(arrivals, max_batch=max_batch, max_wait_ms=max_wait, pass_ms=service)
        assert ours == [(start, idx) for start, _, idx in theirs]


def test_the_arrival_patterns_stay_clear_of_ties():
    """No arrival falls on a deadline or the end of a pass (but the max_wait=0 case, where opening is the deadline)."""
    cases = _batch_cases()
    assert len(cases) == len(_HAND_CASES) + 30
    assert any(sum(s for _, s in c.arrivals) > 3 * c.max_batch for c in cases)  # batches fill
    assert any(s > c.max_batch for c in cases for _, s in c.arrivals)  # requests larger than a batch
    for case in cases:
        if case.max_wait > 0:
            moments = _simulate(case)[1]
            assert not [a for a, _ in case.arrivals for m in moments if abs(a - m) < 1e-6], case.what


# --------------------------------------------------------------------------- typical mistakes

MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    # 15.1: starts empty, no cap, debt, lost refill, whole tokens, the rate's unit, the wait's unit and shape, the clock, the answer's type
    ("token_bucket", bucket(empty=True), ["a new bucket refused its first request", "starts full", "call 1, at 0 s"]),
    ("token_bucket", bucket(cap=False), ["let more than per_minute requests through at once", "never holds more than per_minute"]),
    ("token_bucket", bucket(debt=True), ["a refused request took a token anyway", "takes nothing", "returned 4; it should return 2"]),
    ("token_bucket", bucket(lost=True), ["the time before a refused request was lost"]),
    ("token_bucket", bucket(whole=True), ["part of a token was lost", "keep the fraction"]),
    ("token_bucket", bucket(per_second=True), ["refills per_minute tokens a second", "a rate a minute"]),
    ("token_bucket", bucket(minutes=True), ["your waits are in minutes"]),
    ("token_bucket", bucket(fixed=True), ["your wait is always the time between two tokens", "it shrinks as time passes",
                                          "returned 2; it should return 1.5"]),
    ("token_bucket", bucket(ceil=True), ["rounded up to whole seconds", "exact seconds"]),
    ("token_bucket", bucket(real_clock=True), ["never read the clock it was given"]),
    ("token_bucket", bucket(read_once=True), ["read the clock it was given only once", "each time it is called"]),
    ("token_bucket", bucket(as_bool=True), ["take() returned the boolean True", "return 0.0 when it took a token"]),
    ("token_bucket", bucket(none_on_take=True), ["take() returned None"]),
    ("token_bucket", lambda per_minute, clock: object(), ["take() at 0 s raised AttributeError"]),
    # 15.2: the wait, the deadline, a request that does not fit, the start times, the busy worker, order, drops, splits, shapes
    ("gather_batches", batches(slip="no_wait"), ["close the moment they open", "waits up to max_wait",
                                                 "with a single request, batch 0 should start at 0.01 s with requests [0]; yours starts at 0 s"]),
    ("gather_batches", batches(slip="until_full"), ["your batches wait until they are full", "full or not"]),
    ("gather_batches", batches(slip="from_arrival"), ["count max_wait from when their first request arrived", "once the worker is free"]),
    ("gather_batches", batches(slip="wait_when_blocked"), ["went on waiting", "closes the batch at once"]),
    ("gather_batches", batches(slip="start_at_open"), ["start times are when batches open", "starts when its batch closes"]),
    ("gather_batches", batches(slip="no_service"), ["took a new batch while a pass was still running", "busy for service seconds"]),
    ("gather_batches", batches(slip="overfill"), ["with a request that does not fit, batch 0 holds 9 samples, more than max_batch=8",
                                                  "waits for the next batch"]),
    ("gather_batches", batches(first_fit=True), ["request 2 was served before request 1, which arrived first", "in the order they came"]),
    ("gather_batches", batches(drop_big=True), ["request 1 has 20 samples, more than max_batch=8, and is in no batch", "alone"]),
    ("gather_batches", batches(split_big=True), ["request 1 has 20 samples, more than max_batch=8, and sits in 2 batches", "never split"]),
    ("gather_batches", batches(repeat_last=True), ["with a single request, request 0 sits in 2 batches", "served once"]),
    ("gather_batches", batches(no_start=True), ["batch 0 returned with a single request is a list of 1", "each batch is a pair"]),
    ("gather_batches", batches(pop=True), ["changed the arrivals you were given"]),
    ("gather_batches", lambda a, b, w, s: {0: [0]}, ["gather_batches returned a dict", "return a list of batches"]),
    ("gather_batches", lambda a, b, w, s: [(0.0, list(range(len(a))))], ["batch 0 holds", "more than max_batch"]),
    # 15.3: exact models, range ends, label:*, the default max, 403 before 413, no label, max inclusive, ranges as numbers
    ("allowed", scoper(prefix=True), ["a model word names one model exactly", "model:cvae does not let in cvae-digits"]),
    ("allowed", scoper(substring=True), ["a model word names one model exactly", "does not let in cvae-digits"]),
    ("allowed", scoper(range_open=True), ["a label range includes both its ends", "label:0-4 allows 4"]),
    ("allowed", scoper(star_ignored=True), ["label:* allows every label"]),
    ("allowed", scoper(no_default=True), ["a key without a max word may ask for at most 16 samples", "17 is too many"]),
    ("allowed", scoper(size_first=True), ["the scope check comes first", "returned 413; the server answers 403"]),
    ("allowed", scoper(no_label_ok=True), ["a key limited to some labels must name one"]),
    ("allowed", scoper(max_exclusive=True), ["max:8 is the most samples a request may ask for: 8 is allowed"]),
    ("allowed", scoper(text_ranges=True), ["label:0-4 does not allow label 10", "compare class numbers as numbers"]),
    ("allowed", scoper(int_labels=True), ["raised ValueError", "a label need not be a class number"]),
    ("allowed", scoper(as_bool=True), ["returned a bool", "return None when the key may make the request"]),
    ("allowed", scoper(as_tuple=True), ["returned a tuple", "return the status alone"]),
    ("allowed", lambda s, m, l, n: 200, ["returned 200", "the answers are None (allowed), 403"]),
]


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)

_CODE = ("self.tokens", "self.last", "min(", "/ 60", "per_minute / 60", "(1 - ", "pop(0)", "deadline =", "now +", ".partition(",
         ".isdigit()", "int(low)", "parse_scopes", ".check(", "TokenBucket", "startswith", "<= int(")


@pytest.mark.parametrize("name, fn", [(m[0], m[1]) for m in MISTAKES], ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_the_messages_give_no_code(name, fn):
    """The messages say what is wrong in the learner's terms, never the line, the call or the formula that would fix it."""
    verdict = checks.REGISTRY[name].verdict(checks.REGISTRY[name].probe(fn), strict=True)
    assert verdict.status == "failed"
    assert not any(code in verdict.message for code in _CODE), verdict.message
