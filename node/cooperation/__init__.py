"""Cooperation between places (BRIEF 8, docs/protocol.md section 9): loans of equipment,
registrations to events, offers of help, as signed steps of two logs.

- ``inbox``: which stored entries are addressed to this node (the hook of
  ``services/store.py``: a ``coop_tasks`` row in the transaction that stores them);
- ``rows``: the ``coop_tasks`` and ``loan_rules`` tables; ``reads``: reading objects and
  entries (the only modules here that touch the database);
- ``session``: one step of this node (read, sign, queue mails: one transaction under the
  write lock); ``processor``: the worker that runs the tasks' handlers in order;
- ``conversations``: a request, the owner's decision and their history;
- ``privacy``: sealing and opening personal data; ``errors``: what a step refuses;
- ``workflows``: the registries (handlers by kind, retention, periodic checks, /admin
  listings) that each workflow (``loans``...) fills;
- ``purge``: tombstones of this node's requests once their retention is over;
- the workflows: ``loans``, ``help_requests``.
See docs/architecture.md, "Cooperation".
"""
