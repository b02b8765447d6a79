"""genai_course.text.data: the names in eight languages, their split and vocabulary, and the running text."""

from __future__ import annotations

import pytest
import torch

from genai_course import text
from genai_course.text.data import _clean
from shared import names  # noqa: F401 (fixtures)


def test_names_cover_eight_languages_without_duplicates(names):
    d = names
    assert d.locales == text.LOCALES
    pairs = list(zip(d.train.names + d.heldout.names, torch.cat([d.train.labels, d.heldout.labels]).tolist()))
    assert len(pairs) == len(set(pairs)) > 5000  # each (name, language) once
    for k in range(len(d.locales)):
        assert int((d.train.labels == k).sum()) >= 180 and int((d.heldout.labels == k).sum()) >= 40
    assert "Γιώργος" in d.train.names + d.heldout.names or any("ς" in n for n in d.train.names)


def test_split_is_by_name_string_fixed_and_about_a_fifth(names):
    d = names
    assert not set(d.train.names) & set(d.heldout.names)  # a held-out name is really unseen
    distinct = len(set(d.train.names)) + len(set(d.heldout.names))
    assert abs(len(set(d.heldout.names)) / distinct - 0.2) < 0.01
    text.load_names.cache_clear()
    again = text.load_names()
    assert again.heldout.names == d.heldout.names and torch.equal(again.heldout.labels, d.heldout.labels)


def test_names_several_languages_list_are_dropped_or_kept_per_language(names):
    def languages(d):
        out = {}
        for n, k in zip(d.train.names + d.heldout.names, torch.cat([d.train.labels, d.heldout.labels]).tolist()):
            out.setdefault(n, set()).add(d.locales[k])
        return out

    assert all(len(ls) == 1 for ls in languages(names).values())  # the default: one language per name
    assert "Anna" not in languages(names)
    kept = languages(text.load_names(shared="keep"))
    assert sum(len(ls) > 1 for ls in kept.values()) > 500 and {"de_DE", "sv_SE"} <= kept["Anna"]
    with pytest.raises(ValueError, match="shared must be 'drop' or 'keep'"):
        text.load_names(shared="first")


def test_faker_glitches_are_dropped():
    tr = text.faker_first_names("tr_TR")
    assert all(_clean(n) == n for n in tr)
    assert "Emine." not in tr and not any("˜" in n for n in tr)
    with pytest.raises(ValueError, match="no person provider"):
        text.faker_first_names("xx_XX")


def test_vocab_round_trip_and_clear_error(names):
    v = names.vocab
    assert v.itos[text.START] == "<s>" and v.itos[text.END] == "</s>"
    for name in ("Şükrü", "Ελένη", "José María", "Anna-Lena"):
        ids = v.encode(name)
        assert min(ids) >= 2 and v.decode(ids) == name
        assert v.decode([text.START, *ids, text.END, *ids]) == name  # stops at END
    with pytest.raises(ValueError, match="'Ж'.*not in the vocabulary"):
        v.encode("Жанна")


def test_tensors_align_inputs_and_targets(names):
    d = names
    split = text.NameSplit(("Ann", "Jo"), torch.tensor([0, 1]))
    inputs, targets = split.tensors(d.vocab)
    a, n, j, o = (d.vocab.stoi[c] for c in "Anjo".replace("j", "J"))
    S, E = text.START, text.END
    assert inputs.tolist() == [[S, a, n, n], [S, j, o, E]]
    assert targets.tolist() == [[a, n, n, E], [j, o, E, -100]]


def test_locale_errors_name_the_choices(names):
    with pytest.raises(ValueError, match="unknown language 'fr_FR': choose one of en_US, de_DE"):
        names.locale_index("fr_FR")
    with pytest.raises(ValueError, match="unknown language 9"):
        names.locale_index(9)
    assert names.locale_index("el_GR") == 7 and names.labels_for("de_DE", 3).tolist() == [1, 1, 1]


def test_topics_text():
    data = text.load_text()
    assert len(data.train) > 400_000 and len(data.heldout) > 40_000
    assert "with" in data.vocab.decode(data.train[:5000].tolist())
