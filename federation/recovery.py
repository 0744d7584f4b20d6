"""A recovery key written as words, to print and keep in the place's safe.

The 32-byte Ed25519 seed of the recovery key is written as the 24 words of its BIP39
mnemonic (the French word list of the ``mnemonic`` package, Trezor's reference
implementation): the last word carries a checksum, so a mistyped word is detected. Words
are read back whatever their case and accents (the French list has no two words that
differ only by accents)."""

from __future__ import annotations

import unicodedata

from mnemonic import Mnemonic

from .keys import NodeKey

LANGUAGE = "french"
WORDS = 24


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.strip().lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_MNEMONIC = Mnemonic(LANGUAGE)
_BY_PLAIN = {_plain(word): word for word in _MNEMONIC.wordlist}


def recovery_words(key: NodeKey) -> list[str]:
    """The 24 words of ``key``'s seed."""
    return str(_MNEMONIC.to_mnemonic(key.seed())).split()


class BadRecoveryWords(ValueError):
    """Typed words that are not a recovery key. ``problem`` says what is wrong, for the
    node to say it in its operator's language: ``count`` (``given`` words, ``expected``
    needed), ``unknown_word`` (the ``word`` at ``position`` is not in the list) or
    ``checksum`` (a word is miscopied)."""

    def __init__(self, problem: str, *, given: int = 0, position: int = 0, word: str = "") -> None:
        english = {
            "count": f"{WORDS} words are needed ({given} given)",
            "unknown_word": f"word {position} {word!r} is not in the list",
            "checksum": "these words do not make a valid key: a word is miscopied",
        }[problem]
        super().__init__(english)
        self.problem, self.given, self.expected = problem, given, WORDS
        self.position, self.word = position, word


def key_from_words(text: str) -> NodeKey:
    """The recovery key written as ``text`` (24 words, any case, accents optional);
    ``BadRecoveryWords`` naming what is wrong."""
    typed = text.replace(",", " ").split()
    if len(typed) != WORDS:
        raise BadRecoveryWords("count", given=len(typed))
    words = []
    for position, word in enumerate(typed, start=1):
        known = _BY_PLAIN.get(_plain(word))
        if known is None:
            raise BadRecoveryWords("unknown_word", position=position, word=word)
        words.append(known)
    phrase = " ".join(words)
    if not _MNEMONIC.check(phrase):
        raise BadRecoveryWords("checksum")
    return NodeKey.from_seed(bytes(_MNEMONIC.to_entropy(words)))
