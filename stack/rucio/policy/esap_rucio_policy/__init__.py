"""Rucio policy package of the esap-dash local stack.

Rucio's generic policy, with one rule more: a user's scope (``user.<name>``)
is that user's own.  Only its owner (and ``root`` or an ``admin`` account)
may ask for replication rules on its data identifiers, so one scientist's
results cannot be copied about, or kept alive, by another.  Loaded by the
Rucio server and daemons through ``[policy] package`` in ``rucio.cfg``.
"""

SUPPORTED_VERSION = [">=41,<42"]
