"""Exercise checks for lesson 15 (serving).

15.1 a token bucket on an injected clock ``token_bucket``, 15.2 the dynamic batcher as a pure
simulation ``gather_batches``, 15.3 what a key's scopes allow ``allowed``. Lessons call them through
``genai_course.checks``: ``checks.token_bucket(MyTokenBucket)``. Each is a probe (``def name(fn,
seen)``: runs the learner's code, records what it saw) and a judge (``@name.judge``: from those
observations to the verdict), see ``_protocol``. The answers they are held to are the library's
(``genai_course.serve``: ``TokenBucket``, ``Batcher``'s rules, ``parse_scopes(...).check``); the
slips they name are simulated beside them (``_serve_cases``), so that a learner's answer that
matches a slip everywhere hears that slip's name.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, NoReturn

from genai_course.serve import TokenBucket, parse_scopes

from ._protocol import CheckFailed, Observed, _call, _exercise, _record, _with_advice
from ._serve_cases import (BUCKET_SLIPS, SLIPS, _BUCKET_SCRIPTS, _SCOPE_CASES, _BatchCase, _batch_cases, _bucket_run,
                           _FakeClock, _simulate)
from .observations import observe

__all__ = ["token_bucket", "gather_batches", "allowed"]

_NUMBER_TYPES = ("int", "float", "float64", "float32", "int64", "int32")


def _number_or_none(rec: Any) -> float | None:
    """A record's number (None for a record that holds no number)."""
    rec = _record("a returned value", rec)
    return float(rec["value"]) if rec["type"] in _NUMBER_TYPES and math.isfinite(float(rec["value"])) else None


def _fmt(x: float) -> str:
    return f"{x:.6g}"


# --------------------------------------------------------------------------- 15.1 a token bucket


@_exercise("15.1", "a token bucket on a clock you are given")
def token_bucket(fn: Callable[..., Any], seen: dict) -> None:
    """fn(per_minute, clock) -> a bucket whose take() is 0.0 when it took a token, else the seconds until one is there."""
    for k, (per_minute, start, times) in enumerate(_BUCKET_SCRIPTS):
        clock = _FakeClock(start)
        bucket = _call(f"MyTokenBucket({per_minute}, clock)", fn, per_minute, clock)
        for j, t in enumerate(times):
            clock.now = start + t
            seen[f"{k}.{j}"] = observe(_call(f"take() at {_fmt(t)} s", lambda: bucket.take()))
        seen[f"{k}.reads"] = clock.reads


def _library_waits(per_minute: int, start: float, times: list[float]) -> list[float]:
    clock = _FakeClock(start)
    bucket = TokenBucket(per_minute, clock)
    out = []
    for t in times:
        clock.now = start + t
        out.append(bucket.take())
    return out


_BUCKET_SAYS = {
    "starts_empty": "a new bucket refused its first request: it starts full, so that a new key has its whole burst at once",
    "no_cap": "after a long idle time your bucket let more than per_minute requests through at once: it never holds more "
              "than per_minute tokens, however long it waited",
    "debt": "a refused request took a token anyway (the bucket went into debt, so the waits grow as requests keep coming): "
            "a request that is refused takes nothing",
    "lost_refill": "the time before a refused request was lost: a refused request takes no token, but what flowed in until "
                   "then stays in the bucket",
    "whole_tokens": "part of a token was lost: your bucket keeps whole tokens only, so time that refilled half a token counts "
                    "for nothing; keep the fraction",
    "per_second": "your bucket refills per_minute tokens a second: per_minute is a rate a minute",
    "minutes": "your waits are in minutes: take() returns the seconds until the next token",
    "fixed_wait": "your wait is always the time between two tokens: it shrinks as time passes, to the seconds until the "
                  "next token is there",
    "ceil": "your waits are rounded up to whole seconds: return the exact seconds (rounding up is for the Retry-After header)",
}


@token_bucket.judge
def _judge_token_bucket(seen: Observed) -> str:
    got_all = []
    for k, (per_minute, start, times) in enumerate(_BUCKET_SCRIPTS):
        want = _library_waits(per_minute, start, times)
        got = []
        for j, t in enumerate(times):
            rec = _record("take()", seen[f"{k}.{j}"])
            value = _number_or_none(rec)
            if value is None:
                shown = (f"the boolean {rec['value']}" if rec["type"] == "bool" else "None" if rec["type"] == "NoneType"
                         else f"{rec['value']}" if rec["type"] in _NUMBER_TYPES else f"a {rec['type']}")
                raise CheckFailed(f"take() returned {shown}: return 0.0 when it took a token, else the seconds to wait (a finite number)")
            got.append(value)
        reads = seen[f"{k}.reads"]
        if got != want and reads == 0:
            raise CheckFailed("your bucket never read the clock it was given (the check moves a clock of its own by hand): "
                              "read the time through that clock only")
        if got != want and reads <= 1:
            raise CheckFailed("your bucket read the clock it was given only once: take() must read it each time it is called, "
                              "to know how long it has been")
        got_all.append(got)
    first = _first_wrong(got_all)
    if first is None:
        return "bursts, refills, the cap, waits that shrink, no debt: the same waits as the server's bucket"
    for slip in BUCKET_SLIPS:  # a slip that explains every script the answer gets wrong
        runs = [_bucket_run(per_minute, times, slip) for per_minute, _, times in _BUCKET_SCRIPTS]
        if all(_first_wrong([got], [run], [k]) is None or _first_wrong([got], None, [k]) is None
               for k, (got, run) in enumerate(zip(got_all, runs))):
            return _fail_bucket(_BUCKET_SAYS[slip], first, got_all)
    return _fail_bucket("", first, got_all)


def _first_wrong(got_all: list[list[float]], want_all: list[list[float]] | None = None,
                 scripts: list[int] | None = None) -> tuple[int, int] | None:
    """(script, call) of the first take() whose value differs from ``want_all`` (default: the library's), or None;
    ``scripts``: which scripts ``got_all`` and ``want_all`` hold (default: all)."""
    for n, k in enumerate(scripts if scripts is not None else range(len(_BUCKET_SCRIPTS))):
        per_minute, start, times = _BUCKET_SCRIPTS[k]
        want = want_all[n] if want_all is not None else _library_waits(per_minute, start, times)
        for j, (g, w) in enumerate(zip(got_all[n], want)):
            if abs(g - w) > 1e-6:
                return k, j
    return None


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _fail_bucket(says: str, first: tuple[int, int], got_all: list[list[float]]) -> NoReturn:
    k, j = first
    per_minute, start, times = _BUCKET_SCRIPTS[k]
    want = _library_waits(per_minute, start, times)[j]
    earlier = sum(1 for t in times[:j] if t == times[j])
    at = f"call {j + 1}, at {_fmt(times[j])} s after the bucket was made"
    at += f" (the {_ordinal(earlier + 1)} at that moment)" if 0 < earlier < j else ""
    should = "take a token and return 0.0" if want == 0.0 else f"return {_fmt(want)}, the seconds until the next token"
    example = f"with {per_minute} a minute, {at}, take() returned {_fmt(got_all[k][j])}; it should {should}"
    raise CheckFailed(f"{says} ({example})" if says else example)


# --------------------------------------------------------------------------- 15.2 the batcher as a simulation


@_exercise("15.2", "the dynamic batcher, simulated")
def gather_batches(fn: Callable[..., Any], seen: dict) -> None:
    """fn(arrivals, max_batch, max_wait, service) -> [(start of the pass, [request indices]), ...]."""
    for k, case in enumerate(_batch_cases()):
        arrivals = [tuple(a) for a in case.arrivals]
        given = copy.deepcopy(arrivals)
        what = f"gather_batches(arrivals, {case.max_batch}, {case.max_wait}, {case.service})"
        seen[f"{k}.out"] = observe(_call(what, fn, given, case.max_batch, case.max_wait, case.service))
        seen[f"{k}.edited"] = given != arrivals


def _batches(rec: Any, case: _BatchCase) -> list[tuple[float, list[int]]]:
    """The learner's batches as (start, indices), or a failure that says what shape they should have."""
    rec = _record("gather_batches", rec)
    if rec["type"] not in ("list", "tuple"):
        raise CheckFailed(f"gather_batches returned a {rec['type']}: return a list of batches, each a pair (start time, request indices)")
    out = []
    for b, item in enumerate(rec["items"]):
        if item["type"] not in ("list", "tuple") or item.get("length") != 2:
            raise CheckFailed(f"batch {b} returned with {case.what} is a {item['type']}" + (f" of {item['length']}" if "length" in item else "")
                              + ": each batch is a pair (the time its pass starts, in seconds; the list of its request indices)")
        start, idx = item["items"]
        t = _number_or_none(start)
        if t is None:
            raise CheckFailed(f"the start time of batch {b} returned with {case.what} is a {start['type']}, not a number of seconds")
        if idx["type"] not in ("list", "tuple") or any(i["type"] not in ("int", "int64", "int32") for i in idx["items"]):
            raise CheckFailed(f"the requests of batch {b} returned with {case.what} should be a list of whole-number indices into arrivals")
        out.append((t, [int(i["value"]) for i in idx["items"]]))
    return out


def _structure(got: list[tuple[float, list[int]]], case: _BatchCase) -> None:
    """Every request once, in order, no batch over max_batch unless it is one big request alone."""
    n, sizes = len(case.arrivals), [s for _, s in case.arrivals]
    served = [i for _, idx in got for i in idx]
    where = f"with {case.what}"
    bad = [i for i in served if not 0 <= i < n]
    if bad:
        raise CheckFailed(f"{where}, a batch names request {bad[0]}, and there are only {n} requests (indices 0 to {n - 1})")
    for i in range(n):
        count = served.count(i)
        big = f"request {i} has {sizes[i]} samples, more than max_batch={case.max_batch}, and "
        if count > 1 and sizes[i] > case.max_batch:
            raise CheckFailed(f"{where}, {big}sits in {count} batches: a request is never split; one larger than max_batch runs alone, in a batch of its own")
        if count > 1:
            raise CheckFailed(f"{where}, request {i} sits in {count} batches: each request is served once")
        if count == 0 and sizes[i] > case.max_batch:
            raise CheckFailed(f"{where}, {big}is in no batch: it still runs, alone, in a batch of its own")
        if count == 0:
            raise CheckFailed(f"{where}, request {i} is in no batch: every request is served, once")
    for a, b in zip(served, served[1:]):
        if b < a:
            raise CheckFailed(f"{where}, request {a} was served before request {b}, which arrived first: requests leave the queue in the "
                              "order they came, and one that does not fit closes the batch rather than let later ones pass it")
    for b, (_, idx) in enumerate(got):
        total = sum(sizes[i] for i in idx)
        if total > case.max_batch and len(idx) > 1:
            raise CheckFailed(f"{where}, batch {b} holds {total} samples, more than max_batch={case.max_batch}: a request that does not "
                              "fit waits for the next batch (only a request larger than max_batch, alone, may go over)")


def _same(got: list[tuple[float, list[int]]], want: list[tuple[float, list[int]]]) -> bool:
    return len(got) == len(want) and all(gi == wi and abs(gt - wt) <= 1e-6 for (gt, gi), (wt, wi) in zip(got, want))


_BATCH_SAYS = {
    "no_wait": "your batches close the moment they open: a batch waits up to max_wait for more requests, unless it is full first",
    "until_full": "your batches wait until they are full: a batch closes max_wait after it opened, full or not",
    "from_arrival": "your batches count max_wait from when their first request arrived: the wait starts when the batch opens, "
                    "once the worker is free",
    "wait_when_blocked": "a batch whose next request does not fit went on waiting: that request closes the batch at once, since "
                         "nothing may pass it in the queue",
    "start_at_open": "your start times are when batches open: a pass starts when its batch closes",
    "no_service": "your worker took a new batch while a pass was still running: it is busy for service seconds after each start, "
                  "and requests that come meanwhile wait in the queue",
}


@gather_batches.judge
def _judge_gather_batches(seen: Observed) -> str:
    cases = _batch_cases()
    got_all = []
    for k, case in enumerate(cases):
        got = _batches(seen[f"{k}.out"], case)
        if seen[f"{k}.edited"]:
            raise CheckFailed("gather_batches changed the arrivals you were given (popped or edited them): work on a copy, or read them by index")
        _structure(got, case)
        got_all.append(got)
    wrong = [k for k, case in enumerate(cases) if not _same(got_all[k], _simulate(case)[0])]
    if not wrong:
        return f"the server's batches and start times on {len(cases)} arrival patterns"
    k = wrong[0]
    case, want = cases[k], _simulate(cases[k])[0]
    got = got_all[k]
    b = next((b for b, (g, w) in enumerate(zip(got, want)) if not _same([g], [w])), min(len(got), len(want)) - 1)
    example = (f"with {case.what}, batch {b} should start at {_fmt(want[b][0])} s with requests {want[b][1]}"
               + (f"; yours starts at {_fmt(got[b][0])} s with requests {got[b][1]}" if b < len(got) else "; you have no such batch"))
    for slip in SLIPS:  # a slip that explains every case the answer gets wrong
        if all(_same(g, _simulate(cases[j], slip)[0]) for j, g in enumerate(got_all) if j in wrong):
            raise CheckFailed(f"{_BATCH_SAYS[slip]} ({example})")
    raise CheckFailed(example)


# --------------------------------------------------------------------------- 15.3 what a key may ask for


@_exercise("15.3", "what a key's scopes allow")
def allowed(fn: Callable[..., Any], seen: dict) -> None:
    """fn(scopes, model, label, n) -> None (allowed), 403 or 413."""
    for k, case in enumerate(_SCOPE_CASES):
        seen[str(k)] = observe(_call(_ask(case), fn, case.scopes, case.model, case.label, case.n))


def _ask(case: Any) -> str:
    return f"allowed({case.scopes!r}, {case.model!r}, {case.label!r}, {case.n})"


def _status(case: Any) -> int | None:
    refused = parse_scopes(case.scopes).check(case.model, case.label, case.n)
    return None if refused is None else refused[0]


_SCOPE_SAYS = {
    "prefix": "a model word names one model exactly: {scopes} does not let in {model} (matching the start or a part of the "
              "name lets in models the key was never given)",
    "max_exclusive": "max:8 is the most samples a request may ask for: 8 is allowed",
    "default_max": "a key without a max word may ask for at most 16 samples a request: {n} is too many",
    "range_end": "a label range includes both its ends: label:0-4 allows 4",
    "text_compare": "label:0-4 does not allow label 10: compare class numbers as numbers (as text, '10' sorts between '0' and '4')",
    "substring_label": "label:3 allows label 3 only, not 13: a label word names one label exactly",
    "star": "label:* allows every label, as if the key had no label word at all",
    "not_a_number": "a label need not be a class number (de_DE is a locale): a range only ever allows numbers",
    "no_label": "a key limited to some labels must name one: a request without a label asks for every label in turn, so it is refused",
    "order": "the scope check comes first: a request for a model or label the key may not use is refused as such, however many samples it asks for",
}

_RAISE_ADVICE = [(("invalid literal for int()",), "a label need not be a class number: de_DE is a locale"),
                 (("NoneType",), "label may be None: a request that names no label")]


@allowed.judge
def _judge_allowed(seen: Observed) -> str:
    for k, case in enumerate(_SCOPE_CASES):
        try:
            rec = _record(_ask(case), seen[str(k)])
        except CheckFailed as failure:
            raise _with_advice(failure, _RAISE_ADVICE) from None
        want = _status(case)
        if rec["type"] == "NoneType":
            got: int | None = None
        elif rec["type"] in ("int", "int64", "int32"):
            got = int(rec["value"])
        elif rec["type"] == "tuple":
            raise CheckFailed(f"{_ask(case)} returned a tuple: return the status alone (403 or 413), or None when the key may make the request")
        else:
            raise CheckFailed(f"{_ask(case)} returned a {rec['type']}: return None when the key may make the request, else 403 or 413")
        if got == want:
            continue
        if got not in (None, 403, 413):
            raise CheckFailed(f"{_ask(case)} returned {got}: the answers are None (allowed), 403 (not in the key's scopes) and 413 (too many samples)")
        told = "allowed it" if got is None else f"returned {got}"
        example = f"{_ask(case)} {told}; the server answers " + ("by sampling (None)" if want is None else str(want))
        says = _SCOPE_SAYS.get(case.slip, "")
        raise CheckFailed(f"{says.format(**case._asdict())} ({example})" if says else example)
    return f"the server's answer on {len(_SCOPE_CASES)} requests: exact models, ranges, label:*, max, 403 before 413"
