"""genai_course.serve.scopes: what a key may ask for; exact model names; labels; max; quotas."""

from __future__ import annotations

import pytest

from genai_course.serve.scopes import DEFAULT_MAX, ScopeError, Scopes, parse_quota, parse_scopes


def test_parse_reads_every_kind_of_word():
    s = parse_scopes("model:cvae-digits, label:0-4 label:7 max:8 admin")
    assert s == Scopes(frozenset({"cvae-digits"}), False, frozenset({"7"}), ((0, 4),), 8, True)
    assert parse_scopes("model:*").models == frozenset({"*"})
    plain = parse_scopes("model:charlm-names")
    assert (plain.every_label, plain.max_samples, plain.admin) == (True, DEFAULT_MAX, False)
    assert parse_scopes("model:x label:* label:3").every_label  # label:* allows every label, whatever else is named
    assert parse_scopes("model:charlm-names label:de_DE").labels == frozenset({"de_DE"})


def test_model_names_match_exactly_never_by_prefix():
    s = parse_scopes("model:cvae")
    assert s.check("cvae", None, 1) is None
    for other in ("cvae-digits", "cvae2", "cva", "CVAE"):
        assert s.check(other, None, 1) == (403, f"this key may not use model {other} (its models: cvae)")
    assert parse_scopes("model:*").check("anything", "3", 1) is None


def test_labels_ranges_and_names():
    s = parse_scopes("model:m label:0-4 label:7 label:de_DE")
    for y in ("0", "2", "4", "7", "de_DE"):
        assert s.check("m", y, 1) is None, y
    for y in ("5", "6", "8", "10", "04x", "en_US"):
        assert s.check("m", y, 1) == (403, f"this key may not ask for label {y} (its labels: 7, de_DE, 0-4)"), y
    # a key limited to some labels must name one (no label means every label in turn)
    assert s.check("m", None, 1) == (403, "this key may only ask for some labels (7, de_DE, 0-4): name one")
    assert parse_scopes("model:m").check("m", None, 1) is None


def test_max_samples_gives_413_after_the_scope_checks():
    s = parse_scopes("model:m max:8")
    assert s.check("m", None, 8) is None
    assert s.check("m", None, 9) == (413, "9 samples is more than this key may ask for at once (at most 8)")
    assert parse_scopes("model:m").check("m", None, DEFAULT_MAX + 1)[0] == 413
    assert s.check("other", None, 9)[0] == 403  # the model door comes first


@pytest.mark.parametrize("text, says", [
    ("model", "scope 'model' is not one of model:NAME, label:SPEC, max:N or admin"),
    ("foo:bar", "scope 'foo:bar' is not one of"),
    ("max:0", "scope 'max:0': max takes a whole number of samples from 1 to 10000"),
    ("max:10001", "max takes a whole number"),
    ("max:x", "max takes a whole number"),
    ("label:5-2", "scope 'label:5-2': a range runs from low to high"),
    ("label:a/b", "a label is a class number, a range like 0-4"),
    ("", "no scopes: give at least one"),
    ("  ,  ", "no scopes"),
])
def test_bad_scopes_are_refused_in_one_line(text, says):
    with pytest.raises(ScopeError) as e:
        parse_scopes(text)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_quota():
    assert parse_quota("60/min") == 60 and parse_quota(" 2 / min ") == 2
    for bad in ("10/hour", "0/min", "-1/min", "1.5/min", "60", "1000001/min", "/min"):
        with pytest.raises(ScopeError, match="should read N/min"):
            parse_quota(bad)
