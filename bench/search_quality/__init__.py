"""Search quality: a judged set of French queries over a realistic corpus (issue 12).

``corpus.py`` generates the offers, ``queries.py`` holds the queries and what they mean,
``judge.py`` freezes the relevant objects in ``judged.json``, ``evaluate.py`` measures.
"""

from .evaluate import main

__all__ = ["main"]
