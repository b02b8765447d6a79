"""genai_course.serve.keys: keys stored only as salted hashes, read on every call, compared in constant time."""

from __future__ import annotations

import hmac
import json
import re
import stat

import pytest

from genai_course.serve.keys import KeyFileError, add_key, find, hash_key, list_keys, revoke_key
from genai_course.serve.scopes import ScopeError


def test_a_key_is_shown_once_and_stored_only_as_a_salted_hash(tmp_path):
    path = tmp_path / "serve" / "keys.json"
    key = add_key(path, "alice", "model:cvae-digits max:8", "30/min")
    assert re.fullmatch(r"gck_[A-Za-z0-9_-]{43}", key)
    text = path.read_text()
    assert key not in text and key[4:] not in text and key[4:20] not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (record,) = json.loads(text)["keys"]
    assert record["hash"] == hash_key(key, record["salt"]) and len(record["salt"]) == 32
    assert (record["name"], record["scopes"], record["quota"], record["revoked"]) == ("alice", "model:cvae-digits max:8", "30/min", False)
    assert find(path, key).name == "alice"
    assert find(path, key).per_minute() == 30 and find(path, key).parsed_scopes().max_samples == 8


def test_the_same_key_under_two_salts_gives_two_hashes(tmp_path):
    path = tmp_path / "keys.json"
    add_key(path, "a", "model:*")
    add_key(path, "b", "model:*")
    a, b = list_keys(path)
    assert a.salt != b.salt and a.hash != b.hash
    same = "gck_" + "x" * 43
    assert hash_key(same, a.salt) != hash_key(same, b.salt)
    assert hash_key(same, a.salt) == hash_key(same, a.salt)


def test_find_reads_the_file_every_time(tmp_path):
    path = tmp_path / "keys.json"
    assert find(path, "gck_nothing") is None  # no file yet: no keys
    key = add_key(path, "bob", "model:*")
    assert find(path, key).name == "bob"
    revoke_key(path, "bob")
    assert find(path, key) is None  # revoked: from the next call on
    assert [r.revoked for r in list_keys(path)] == [True]
    again = add_key(path, "bob2", "model:*")
    assert find(path, again).name == "bob2" and find(path, key) is None
    for wrong in (None, "", key + "x", key[:-1], "Bearer " + again, again.upper()):
        assert find(path, wrong) is None, wrong


def test_find_compares_every_entry_whatever_matched(tmp_path, monkeypatch):
    path = tmp_path / "keys.json"
    made = [add_key(path, f"k{i}", "model:*") for i in range(5)]
    revoke_key(path, "k2")
    calls = []
    real = hmac.compare_digest

    def counting(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for presented, expected in [(made[0], "k0"), (made[4], "k4"), (made[2], None), ("gck_" + "y" * 43, None)]:
        calls.clear()
        found = find(path, presented)
        assert (found.name if found else None) == expected
        assert len(calls) == 5, f"{presented[:8]}...: {len(calls)} comparisons for 5 entries"


def test_key_file_errors_are_one_line(tmp_path):
    path = tmp_path / "keys.json"
    add_key(path, "alice", "model:*")
    with pytest.raises(KeyFileError, match="there is already a key called alice"):
        add_key(path, "alice", "model:*")
    with pytest.raises(KeyFileError, match=r"no live key called carol in .* \(live keys: alice\)"):
        revoke_key(path, "carol")
    revoke_key(path, "alice")
    with pytest.raises(KeyFileError, match=r"no live key called alice .*\(live keys: none\)"):
        revoke_key(path, "alice")
    for bad in ("", "-x", "a b", "x" * 41, "a/b"):
        with pytest.raises(KeyFileError, match="should be 1-40 letters"):
            add_key(path, bad, "model:*")
    with pytest.raises(ScopeError, match="not one of"):
        add_key(path, "dave", "foo:bar")
    with pytest.raises(ScopeError, match="should read N/min"):
        add_key(path, "dave", "model:*", "10/hour")
    assert [r.name for r in list_keys(path)] == ["alice"]  # nothing written by a refused add
    for damaged in ("{not json", '{"version": 2, "keys": []}', '{"version": 1, "keys": [{"name": "x"}]}', "[]"):
        path.write_text(damaged)
        with pytest.raises(KeyFileError) as e:
            find(path, "gck_x")
        assert str(e.value) == f"key file {path} is damaged: not the JSON that 'genai-course keys' writes"
