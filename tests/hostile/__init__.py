"""Issue 12's hostile portal and acceptance tests.

- ``server.py``: the portal (forwards to a sandbox, rewrites per ``Case``,
  records every request as a ``Call``).
- ``cases.py``: the repertoire; ``READ_CASES`` is the read catalogue, one test
  each. Add a read case there: ``on_connection("ReadUsers", change, page=1)``
  with ``change(connection, call)`` editing the answer in place.
- ``write_cases.py``: mutation answers and apply-time reads gone wrong.
- ``interleave.py``: two konvsync runs scheduled the worst way.
- ``harness.py``: the seeded portal and config, konvsync as a subprocess with a
  deadline, the one-error-line assertions.
"""
