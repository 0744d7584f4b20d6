"""What the words of a query may mean: the vocabulary of the index, stems, synonyms, typos.

``node/services/search.py`` asks the index for exactly what was typed first, then, when
that finds few objects, for what it may have meant. This module turns a query into those
alternatives, word by word:

- the word itself, and the words of the index sharing its stem (French Snowball stemmer,
  after a plural ``s``/``x``): "ordinateurs" also finds "ordinateur", "imprimer" finds
  "imprimante";
- for the last word, the words it begins (typing "proj" finds "projecteur");
- the synonyms of ``search_synonyms.txt`` (the field's jargon: "ordi", "APN", "mail"...);
- when expanding: the words of the index that contain it (parts of compound words:
  "projecteur" finds "vidéoprojecteur"), that it begins, and, for words of 5 letters or
  more that the index does not hold, the words one or two edits away (rapidfuzz, optimal
  string alignment distance: "imprimente" finds "imprimante").

The vocabulary is the index's own list of terms (``fts5vocab`` over ``search_index``), read
into memory with their document counts. Words are compared as the index stores them:
lower case, without diacritics (the ``unicode61 remove_diacritics 2`` tokenizer).
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import product
from pathlib import Path
from typing import Any

from ..store import search as index

_TOKEN = re.compile(r"[^\W_]+")
SYNONYMS_FILE = Path(__file__).with_name("search_synonyms.txt")

#: French words that say little about what is looked for: they need not match ("atelier
#: pour les seniors" finds "Atelier seniors"), unless the query has nothing else.
STOP_WORDS = frozenset(
    [
        "a",
        "au",
        "aux",
        "avec",
        "ce",
        "ces",
        "cet",
        "cette",
        "d",
        "dans",
        "de",
        "des",
        "du",
        "en",
        "et",
        "il",
        "j",
        "je",
        "l",
        "la",
        "le",
        "les",
        "leur",
        "leurs",
        "m",
        "ma",
        "mes",
        "mon",
        "n",
        "ne",
        "nos",
        "notre",
        "on",
        "ou",
        "par",
        "pas",
        "pour",
        "qu",
        "que",
        "s",
        "sa",
        "se",
        "ses",
        "son",
        "sur",
        "t",
        "ta",
        "te",
        "tes",
        "ton",
        "un",
        "une",
        "vos",
        "votre",
        "y",
    ]
)
#: Typos are looked for on words of at least this many letters: one edit away, two for
#: words of ``TYPO_TWO_EDITS`` letters or more (two edits on a short word reach anything).
TYPO_MIN_LENGTH = 5
TYPO_TWO_EDITS = 8
#: A stem this short says too little ("caf" of "café" and "CAF"): only the plural then.
STEM_MIN_LENGTH = 4
#: Words sharing a stem but longer or shorter by more letters than this are left apart
#: ("aspirateur" and "aspire" share "aspir").
STEM_MAX_LENGTH_GAP = 3
#: Parts of compound words are looked for on words of at least this many letters.
PART_MIN_LENGTH = 5
#: A prefix that begins more words than this stays an FTS5 prefix query.
MAX_COMPLETIONS = 16
#: At most this many alternatives of one word go to the index.
MAX_ALTERNATIVES = 24


#: Combining diacritical marks, left alone by NFD after the letter they go on.
_MARKS = re.compile("[\u0300-\u036f]+")


def fold(text: str) -> str:
    """Lower case without diacritics, as the index stores words."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    return _MARKS.sub("", unicodedata.normalize("NFD", lowered))


def words(text: str) -> list[str]:
    """The words of ``text`` as typed (letters and digits), in order."""
    return _TOKEN.findall(text)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word[-1] in "sx" else word


@cache
def _stemmer() -> Any:
    import Stemmer  # pystemmer: Snowball's French stemmer, in C

    return Stemmer.Stemmer("french")


def _key(found: str, word: str) -> str:
    return found if len(found) >= STEM_MIN_LENGTH else "=" + word


def keys(folded: Sequence[str]) -> list[tuple[str, ...]]:
    """What groups each folded word with its inflections: its stem, and the stem of its
    singular (Snowball keeps "photos" and "photo" apart, and "sociaux" is "social" only
    with its x); a word whose stem is too short to say much stands for itself."""
    singulars = [_singular(word) for word in folded]
    stemmer = _stemmer()
    found = []
    for word, singular, direct, plain in zip(
        folded, singulars, stemmer.stemWords(folded), stemmer.stemWords(singulars), strict=True
    ):
        found.append(tuple(dict.fromkeys((_key(direct, word), _key(plain, singular)))))
    return found


# -- synonyms ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Synonyms:
    """Groups of equivalent phrases, each phrase a tuple of folded words."""

    groups: tuple[tuple[tuple[str, ...], ...], ...]
    #: (a key of each word of a phrase) -> the index of its group, for matching a query.
    index: dict[tuple[str, ...], int] = field(default_factory=dict)
    longest: int = 1

    def match(self, found: Sequence[tuple[str, ...]], start: int) -> tuple[int, int] | None:
        """The longest phrase of a group at ``found[start:]`` (the keys of each word):
        (length, group)."""
        for length in range(min(self.longest, len(found) - start), 0, -1):
            for combination in product(*found[start : start + length]):
                group = self.index.get(combination)
                if group is not None:
                    return length, group
        return None


def parse_synonyms(lines: Iterable[str]) -> Synonyms:
    """One group per line, phrases separated by commas; ``#`` starts a comment line."""
    groups: list[tuple[tuple[str, ...], ...]] = []
    index: dict[tuple[str, ...], int] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        phrases: list[tuple[str, ...]] = []
        for written in line.split(","):
            folded = tuple(fold(word) for word in words(written))
            if folded and folded not in phrases:
                phrases.append(folded)
        if len(phrases) < 2:
            continue
        for phrase in phrases:
            for combination in product(*keys(phrase)):
                index.setdefault(combination, len(groups))
        groups.append(tuple(phrases))
    longest = max((len(key) for key in index), default=1)
    return Synonyms(tuple(groups), index, longest)


@cache
def synonyms() -> Synonyms:
    """The shipped synonym list (``search_synonyms.txt``)."""
    return parse_synonyms(SYNONYMS_FILE.read_text(encoding="utf-8").splitlines())


# -- vocabulary -------------------------------------------------------------------------


class Vocabulary:
    """The index's terms and how many objects hold each, with lookups by prefix, stem,
    part of word and edit distance. Built from a snapshot; ``cookie`` says which."""

    def __init__(self, documents: dict[str, int], cookie: bytes | None = None) -> None:
        self.cookie = cookie
        self.documents = documents
        self.terms = sorted(documents)
        self.by_stem: dict[str, list[str]] = {}
        for term, found in zip(self.terms, keys(self.terms), strict=True):
            for key in found:
                self.by_stem.setdefault(key, []).append(term)
        # Candidates for parts of words and typos: words, not numbers or model names.
        wordlike = [t for t in self.terms if t.isalpha() and len(t) >= 3]
        self.by_length: dict[int, list[str]] = {}
        for term in wordlike:
            self.by_length.setdefault(len(term), []).append(term)
        # "\n"-separated, so that a part of a word is found by one str.find per match.
        self._joined = "\n" + "\n".join(wordlike) + "\n"
        self._starts: list[int] = []
        position = 1
        for term in wordlike:
            self._starts.append(position)
            position += len(term) + 1
        self._wordlike = wordlike

    def __contains__(self, term: str) -> bool:
        return term in self.documents

    def __len__(self) -> int:
        return len(self.terms)

    def _best(self, terms: Iterable[str], limit: int) -> list[str]:
        """The ``limit`` terms found in most objects."""
        return sorted(terms, key=lambda t: (-self.documents.get(t, 0), t))[:limit]

    def completions(self, prefix: str) -> list[str] | None:
        """The terms that begin with ``prefix`` (itself included), or None when there are
        more than ``MAX_COMPLETIONS``."""
        low = bisect_left(self.terms, prefix)
        high = bisect_right(self.terms, prefix + "\U0010ffff", low)
        if high - low > MAX_COMPLETIONS:
            return None
        return self.terms[low:high]

    def siblings(self, word: str) -> list[str]:
        """The terms that share the stem of ``word`` and about its length."""
        found: dict[str, None] = {}
        for key in keys([word])[0]:
            for term in self.by_stem.get(key, ()):
                if abs(len(term) - len(word)) <= STEM_MAX_LENGTH_GAP:
                    found[term] = None
        return list(found)

    def containing(self, word: str) -> list[str]:
        """The terms that hold ``word`` inside them (parts of compound words)."""
        found: set[str] = set()
        position = self._joined.find(word)
        while position != -1 and len(found) < 4 * MAX_ALTERNATIVES:
            found.add(self._wordlike[bisect_right(self._starts, position) - 1])
            position = self._joined.find(word, position + 1)
        found.discard(word)
        return self._best(found, MAX_ALTERNATIVES)

    def near(self, word: str) -> list[str]:
        """The terms at the smallest edit distance from ``word`` (an adjacent swap counts
        as one edit), most common first; nothing for short words."""
        if len(word) < TYPO_MIN_LENGTH:
            return []
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        edits = 2 if len(word) >= TYPO_TWO_EDITS else 1
        by_distance: dict[int, list[str]] = {}
        for length in range(len(word) - edits, len(word) + edits + 1):
            choices = self.by_length.get(length)
            if not choices:
                continue
            for term, distance, _ in process.extract(
                word, choices, scorer=OSA.distance, score_cutoff=edits, limit=None
            ):
                if term != word:
                    by_distance.setdefault(int(distance), []).append(term)
        if not by_distance:
            return []
        return self._best(by_distance[min(by_distance)], MAX_ALTERNATIVES)


def read_vocabulary(connection: sqlite3.Connection) -> Vocabulary:
    """The index's terms, read through ``connection`` (in a read transaction, with the
    ``temp.search_terms`` fts5vocab table: see search_readers.py)."""
    return Vocabulary(index.term_documents(connection), index.index_cookie(connection))


# -- what a query may mean --------------------------------------------------------------


@dataclass
class Word:
    """One word of a query: as typed, folded, and what else it may be."""

    typed: str
    folded: str
    last: bool = False
    stop: bool = False
    #: Alternatives at each stage: exact (itself, same stem, completions if last) and
    #: expanded (adds parts of words, completions, typo corrections).
    exact: list[str] = field(default_factory=list)
    expanded: list[str] = field(default_factory=list)
    #: The word stays an FTS5 prefix query (too many completions to list them).
    prefix: bool = False
    #: Typo corrections among ``expanded`` (the best first), for "did you mean".
    corrections: list[str] = field(default_factory=list)


@dataclass
class Unit:
    """Words that must match together: one word, or a phrase of a synonym group."""

    words: list[Word]
    #: Other phrases of the synonym group, each as its words' alternatives (AND).
    synonyms: list[list[list[str]]] = field(default_factory=list)

    @property
    def stop(self) -> bool:
        return all(word.stop for word in self.words)


def _alternatives(word: str, vocabulary: Vocabulary | None) -> list[str]:
    """The word and the terms sharing its stem."""
    found = [word]
    if vocabulary is not None:
        found += [t for t in vocabulary.siblings(word) if t != word]
    return found[:MAX_ALTERNATIVES]


def _dedupe(terms: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(terms))[:MAX_ALTERNATIVES]


def analyse(text: str, vocabulary: Vocabulary | None, table: Synonyms | None = None) -> list[Unit]:
    """The units of a query with the alternatives of each word (at most 12 words)."""
    table = synonyms() if table is None else table
    typed = words(text)[:12]
    folded = [fold(word) for word in typed]
    found = keys(folded)
    units: list[Unit] = []
    position = 0
    while position < len(folded):
        matched = table.match(found, position)
        length = matched[0] if matched else 1
        unit = Unit(
            [
                Word(typed[i], folded[i], stop=folded[i] in STOP_WORDS)
                for i in range(position, position + length)
            ]
        )
        if matched:
            own = tuple(folded[position : position + length])
            for phrase in table.groups[matched[1]]:
                if phrase != own:
                    unit.synonyms.append([_alternatives(w, vocabulary) for w in phrase])
        units.append(unit)
        position += length
    if units:
        units[-1].words[-1].last = True
    for unit in units:
        for word in unit.words:
            # A word of the synonym list is known: no typo to look for ("appli").
            _expand(word, vocabulary, known=bool(unit.synonyms))
    return units


def _expand(word: Word, vocabulary: Vocabulary | None, known: bool) -> None:
    term = word.folded
    word.exact = _alternatives(term, vocabulary)
    if vocabulary is None:
        word.prefix = word.last
        word.expanded = list(word.exact)
        return
    completions = vocabulary.completions(term)
    if word.last:
        if completions is None:
            word.prefix = True
        else:
            word.exact = _dedupe([*word.exact, *completions])
    expanded = list(word.exact)
    if completions and len(term) >= 3:
        expanded += completions
    if len(term) >= PART_MIN_LENGTH and term.isalpha():
        # The singular, so that "projecteurs" finds "vidéoprojecteur" too.
        expanded += vocabulary.containing(_singular(term))
    if term not in vocabulary and term.isalpha() and len(word.exact) == 1 and not known:
        word.corrections = vocabulary.near(term)
        for correction in word.corrections[:3]:
            expanded += [correction, *vocabulary.siblings(correction)]
        expanded += word.corrections
    word.expanded = _dedupe(expanded)


def _quoted(terms: Sequence[str], prefix: bool = False) -> str:
    parts = [f'"{term}"' for term in terms]
    if prefix:
        parts[0] += "*"
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def unit_expression(unit: Unit, expanded: bool) -> str:
    """The FTS5 expression of one unit: its words (each any of its alternatives) and,
    when expanding, any phrase of its synonym group."""
    own = [
        _quoted(word.expanded if expanded else word.exact, word.prefix)
        for word in unit.words
        if not word.stop or unit.stop
    ]
    options = [" AND ".join(own)]
    if expanded:
        for phrase in unit.synonyms:
            options.append(" AND ".join(_quoted(alternatives) for alternatives in phrase))
    if len(options) == 1:
        return options[0] if len(own) == 1 else f"({options[0]})"
    return "(" + " OR ".join(f"({option})" for option in options) + ")"


def _kept(units: Sequence[Unit]) -> list[Unit]:
    """The units that must match: stop words only when the query has nothing else."""
    return [unit for unit in units if not unit.stop] or list(units)


def _primary(word: Word, expanded: bool) -> str:
    return word.corrections[0] if expanded and word.corrections else word.folded


def expression(units: Sequence[Unit], expanded: bool) -> str:
    """Every unit must match (stop words only when the query has nothing else)."""
    return " AND ".join(unit_expression(unit, expanded) for unit in _kept(units))


def relaxed_expression(units: Sequence[Unit]) -> str | None:
    """All the units but one (any one), when the query has at least three: a long query
    whose every word is nowhere in one object still finds the objects missing a word."""
    kept = _kept(units)
    if len(kept) < 3:
        return None
    options = []
    for left_out in range(len(kept)):
        parts = [unit_expression(unit, True) for i, unit in enumerate(kept) if i != left_out]
        options.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(options)


def highlight_terms(units: Sequence[Unit], expanded: bool) -> list[str]:
    """The whole terms that snippets mark (no prefix query: see search.py)."""
    terms: list[str] = []
    for unit in units:
        for word in unit.words:
            if not word.stop or unit.stop:
                terms += word.expanded if expanded else word.exact
        for phrase in unit.synonyms:
            for alternatives in phrase:
                terms += alternatives
    return list(dict.fromkeys(terms))


#: How many titles' folded words are kept (``title_words``): at most 200 characters each.
TITLES_KEPT = 4096


class TitleMatch:
    """How well a title answers the query: how many of its words (any of their
    alternatives, or a synonym phrase for the whole unit) the title holds, and how many
    as typed (or as corrected). Offer titles are short and say what the offer is: among
    the best bm25 matches, the titles that hold every word come first."""

    def __init__(self, units: Sequence[Unit], expanded: bool) -> None:
        self.units: list[tuple[list[tuple[set[str], str, bool]], list[set[str]]]] = []
        for unit in _kept(units):
            own = [
                (set(word.expanded if expanded else word.exact), _primary(word, expanded),
                 word.prefix)
                for word in unit.words
                if not word.stop or unit.stop
            ]  # fmt: skip
            phrases = [set(p) for p in _phrase_words(unit)] if expanded else []
            self.units.append((own, phrases))

    def __call__(self, title: str) -> tuple[int, int]:
        held = title_words(title)
        matched = primary = 0
        for own, phrases in self.units:
            if any(phrase <= held for phrase in phrases):
                matched += len(own)
                continue
            for alternatives, first, prefix in own:
                if first in held:
                    primary += 1
                if alternatives & held or (prefix and any(h.startswith(first) for h in held)):
                    matched += 1
        return matched, primary


@lru_cache(maxsize=TITLES_KEPT)
def title_words(title: str) -> frozenset[str]:
    """The folded words of ``title``. Kept for the titles last seen: the offers of many
    places share their titles ("Atelier numérique"), and folding them again for every
    search was a third of its ranking by title."""
    return frozenset(words(fold(title)))


def _phrase_words(unit: Unit) -> list[list[str]]:
    """Each synonym phrase of ``unit`` by its words' first alternative (the word itself)."""
    return [[alternatives[0] for alternatives in phrase] for phrase in unit.synonyms]


def corrected(units: Sequence[Unit]) -> list[tuple[Word, str]]:
    """The words that have a typo correction, with the best one."""
    return [
        (word, word.corrections[0]) for unit in units for word in unit.words if word.corrections
    ]
