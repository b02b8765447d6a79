"""Permission control over the generator: what a key may ask for, and how often.

A key's scopes are words separated by spaces or commas:

* ``model:NAME``: the key may sample the served model NAME (``model:*``: every model);
* ``label:SPEC``: and only these labels, where SPEC is one label (``3``, ``de_DE``), a range of
  class numbers (``0-4``) or ``*``; several ``label:`` words add up. Without any, every label;
* ``max:N``: at most N samples a request (default ``DEFAULT_MAX``);
* ``admin``: may reload the checkpoints and read the server's statistics.

Matching is exact: ``model:digits`` allows the model called ``digits`` and not ``digits-gan``
(prefix matching is a classic hole). ``Scopes.check`` answers a request with the status the
server sends: ``None`` (allowed), 403 (model or label not in scope) or 413 (too many samples).

A quota is ``N/min``: a token bucket per key (``quota.TokenBucket``) that holds N tokens and
refills N a minute; each request takes one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ScopeError", "Scopes", "parse_scopes", "parse_quota", "DEFAULT_MAX", "MAX_QUOTA"]

DEFAULT_MAX = 16  # samples a request, unless a max:N scope says otherwise
MAX_QUOTA = 1_000_000  # requests a minute: more is a typo
_WORD = re.compile(r"^(model|label|max):(.+)$")
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_LABEL = re.compile(r"^[A-Za-z0-9_]+$")


class ScopeError(ValueError):
    """Scopes or a quota that cannot be read; the message is one line saying what is wrong."""


@dataclass(frozen=True)
class Scopes:
    """A key's parsed scopes: models (``"*"`` for all), labels (``every_label`` or the named ones
    and class ranges), the most samples a request, admin."""

    models: frozenset[str] = frozenset()
    every_label: bool = True
    labels: frozenset[str] = frozenset()
    ranges: tuple[tuple[int, int], ...] = ()
    max_samples: int = DEFAULT_MAX
    admin: bool = False

    def allows_model(self, model: str) -> bool:
        return "*" in self.models or model in self.models

    def allows_label(self, label: str) -> bool:
        if self.every_label or label in self.labels:
            return True
        return label.isdigit() and any(lo <= int(label) <= hi for lo, hi in self.ranges)

    def describe_labels(self) -> str:
        if self.every_label:
            return "every label"
        return ", ".join(sorted(self.labels) + [f"{lo}-{hi}" for lo, hi in self.ranges])

    def check(self, model: str, label: str | None, n: int) -> tuple[int, str] | None:
        """The refusal this request earns, as (status, one line), or None if the key may make it.
        ``label`` None asks for every label in turn, so a key limited to some labels must name one."""
        if not self.allows_model(model):
            mine = ", ".join(sorted(self.models)) or "none"
            return 403, f"this key may not use model {model} (its models: {mine})"
        if label is None and not self.every_label:
            return 403, f"this key may only ask for some labels ({self.describe_labels()}): name one"
        if label is not None and not self.allows_label(label):
            return 403, f"this key may not ask for label {label} (its labels: {self.describe_labels()})"
        if n > self.max_samples:
            return 413, f"{n} samples is more than this key may ask for at once (at most {self.max_samples})"
        return None


def parse_scopes(text: str) -> Scopes:
    """Read a key's scopes (see the module); ``ScopeError`` names the first word it cannot read."""
    models: set[str] = set()
    labels: set[str] = set()
    ranges: list[tuple[int, int]] = []
    any_label, star, max_samples, admin = False, False, DEFAULT_MAX, False
    words = [w for w in re.split(r"[\s,]+", str(text).strip()) if w]
    if not words:
        raise ScopeError("no scopes: give at least one, e.g. 'model:cvae-digits max:16'")
    for word in words:
        if word == "admin":
            admin = True
            continue
        m = _WORD.match(word)
        if not m:
            raise ScopeError(f"scope {word!r} is not one of model:NAME, label:SPEC, max:N or admin")
        kind, value = m.groups()
        if kind == "model":
            models.add(value)
        elif kind == "max":
            if not value.isdigit() or not 1 <= int(value) <= 10_000:
                raise ScopeError(f"scope {word!r}: max takes a whole number of samples from 1 to 10000")
            max_samples = int(value)
        else:
            any_label = True
            r = _RANGE.match(value)
            if value == "*":
                star = True
            elif r:
                lo, hi = int(r.group(1)), int(r.group(2))
                if lo > hi:
                    raise ScopeError(f"scope {word!r}: a range runs from low to high (e.g. label:0-4)")
                ranges.append((lo, hi))
            elif _LABEL.match(value):
                labels.add(value)
            else:
                raise ScopeError(f"scope {word!r}: a label is a class number, a range like 0-4, a locale like de_DE, or *")
    every = star or not any_label  # no label: word, or label:*, allows every label
    return Scopes(frozenset(models), every, frozenset() if every else frozenset(labels),
                  () if every else tuple(ranges), max_samples, admin)


def parse_quota(text: str) -> int:
    """Requests a minute from ``N/min``; ``ScopeError`` otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*min\s*", str(text))
    if not m or not 1 <= int(m.group(1)) <= MAX_QUOTA:
        raise ScopeError(f"quota {text!r} should read N/min with N from 1 to {MAX_QUOTA:,} (e.g. 60/min)")
    return int(m.group(1))
