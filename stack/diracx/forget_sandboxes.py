"""Make DiracX forget the sandboxes of a sandbox store that started empty.

The local sandbox store (moto's S3 server) keeps sandboxes in memory.  DiracX
records each sandbox it was given in its SandboxMetadataDB and, asked to store
the same content again, answers that it has it: after a restart of the store
it would never take that sandbox again.  Run when the store starts:
``python forget_sandboxes.py SANDBOXMETADATADB.db``.
"""

import sqlite3
import sys
from pathlib import Path

path = Path(sys.argv[1])
if path.exists():
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        for table in ("sb_EntityMapping", "sb_SandBoxes"):
            if table in tables:
                db.execute(f"DELETE FROM {table}")  # one of the two names above
