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


def key_from_words(text: str) -> NodeKey:
    """The recovery key written as ``text`` (24 words, any case, accents optional);
    ``ValueError`` with a French message naming what is wrong."""
    typed = text.replace(",", " ").split()
    if len(typed) != WORDS:
        raise ValueError(f"il faut les {WORDS} mots de la clé de secours ({len(typed)} donnés)")
    words = []
    for position, word in enumerate(typed, start=1):
        known = _BY_PLAIN.get(_plain(word))
        if known is None:
            raise ValueError(f"le mot n° {position} « {word} » n'est pas dans la liste")
        words.append(known)
    phrase = " ".join(words)
    if not _MNEMONIC.check(phrase):
        raise ValueError("ces mots ne forment pas une clé valide : un mot est mal recopié")
    return NodeKey.from_seed(bytes(_MNEMONIC.to_entropy(words)))
