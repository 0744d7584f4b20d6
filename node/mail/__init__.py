"""Notification mails to the place's own contact address (off unless ``smtp_host`` is set).

- ``compose``: the French text of each event of a cooperation (no storage, no network);
- ``notify``: the one call a workflow makes, in its own transaction: ``queue_notification``;
- ``outbox``: the ``outbox_mails`` rows, the only module here that touches the database;
- ``states``: the lifecycle of a queued mail;
- ``smtp``: building the message and talking to the SMTP server (``smtplib``, in a thread);
- ``worker``: sends the due rows, with retries and backoff.
See docs/architecture.md, "Notification mails".
"""
