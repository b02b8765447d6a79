"""docs/glossary.md: every term a lesson defines, one row each, with the lesson that defines it.

The rows must stay true as lessons change: a row names a lesson that exists and mentions the term,
no term is listed twice, and the table stays in alphabetical order (the website links into it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.md"


def _table(heading: str) -> list[tuple[str, str, str]]:
    """The rows (term, meaning, lesson) of the table under ``## heading``."""
    text = GLOSSARY.read_text(encoding="utf-8").split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("| term ") or line.startswith("| symbol ") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 3, f"a glossary row needs three cells (term | meaning | lesson): {line}"
        rows.append((cells[0], cells[1], cells[2]))
    return rows


TERMS = _table("Terms")
NOTATION = _table("Notation")


def _name(term: str) -> str:
    """The words a lesson writes: the term before any ' (' or ', ' (acronyms and symbols follow), without backticks."""
    return re.split(r" \(|, ", term.replace("`", ""), maxsplit=1)[0].strip()


def _lesson_text(number: str) -> str:
    paths = [*ROOT.glob(f"notebooks/{number}_*.py"), *ROOT.glob(f"solutions/{number}_*.py")]
    assert paths, f"the glossary names lesson {number}, which does not exist"
    text = "\n".join(p.read_text(encoding="utf-8") for p in paths)
    text = re.sub(r"\n#( |$)", " ", text, flags=re.M)  # Markdown cells: one paragraph, not lines of "# "
    return re.sub(r"\s+", " ", text).lower()


def test_the_glossary_covers_the_lessons_it_was_built_for():
    assert len(TERMS) >= 200 and len(NOTATION) >= 8
    assert {lesson for _, _, lesson in TERMS} >= {f"{n:02d}" for n in range(1, 17)}


def test_terms_are_listed_once_in_alphabetical_order():
    names = [_name(t).lower() for t, _, _ in TERMS]  # "generator (G)" and "generator (GAN)" are one term
    assert len(set(names)) == len(names), [n for n in names if names.count(n) > 1]
    keys = [re.sub(r"[^a-z0-9 ]", "", t.lower().replace("`", "")) for t, _, _ in TERMS]
    assert keys == sorted(keys)


@pytest.mark.parametrize("term, meaning, lesson", TERMS, ids=[t for t, _, _ in TERMS])
def test_each_term_is_a_sentence_in_the_lesson_that_uses_it(term, meaning, lesson):
    assert re.fullmatch(r"\d\d", lesson), f"{term}: the lesson is two digits, got {lesson!r}"
    assert (meaning[:1].isupper() or meaning[:1] in "$`") and meaning.endswith((".", ".)")), f"{term}: the meaning should be one sentence"
    assert _name(term).lower() in _lesson_text(lesson), f"{term}: lesson {lesson} never mentions {_name(term)!r}"
