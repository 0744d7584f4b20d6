"""The one gateway to the database: every SQL string and every ORM query of the node
lives in this package (plus ``node/db.py``, ``node/migrations.py`` and ``node/models.py``,
which open the file and declare the schema).

One module per aggregate; functions take named parameters and give typed rows (frozen
dataclasses), never tuples whose column order the caller must know. Services call these
functions and own the rules and the transactions; handlers and web code call services.
A function that must run inside the caller's transaction takes ``conn``."""
