"""The database schema: migrations from a database made before them, and in step with
the code's tables."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from esap_dash.core.cart import Cart
from esap_dash.core.config import Profile
from esap_dash.core.provenance import FORM, Provenance
from esap_dash.core.store import META, MIGRATIONS, store_for

DATA = Path(__file__).parent / "data"
#: Made by esap-dash 96dbbd9, before migrations: alice's and bob's carts (one shared),
#: searches, an async TAP job, a Rucio rule, a finished and a running workflow run.
BEFORE = DATA / "esap-dash-2026-11-28.db"


def _head() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _schema_differences(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), META)


def test_a_database_made_before_migrations_keeps_everything(profile: Profile,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(BEFORE, path)
    old = replace(profile, database=f"sqlite:///{path}")
    store = store_for(old.database)
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == _head()
    assert _schema_differences(store.engine) == []

    m1 = Cart.open_as("alice-sub", "M1 study", profile=old, create=False)
    items = {i.item_id: i for i in m1.items()}
    assert set(items) == {"26311", "26451", "NGC1952"}
    assert '"vmag": 3.0' in items["26451"].record
    assert items["26311"].note == "bright neighbour" and items["26311"].tags == "check"
    assert "FROM hipparcos.main" in items["NGC1952"].query
    # Every item's provenance is in the one form now, naming the cart's owner.
    for item in items.values():
        assert json.loads(item.query)["provenance"] == FORM
        record = Provenance.from_json(item.query)
        assert record.user == "alice-sub" and record.services and record.at
    assert Cart.names_of("alice-sub", profile=old) == ["M1 study", "empty"]
    token = (DATA / "esap-dash-2026-11-28.token").read_text().strip()
    shared = Cart.from_share(token, profile=old)
    assert [i.item_id for i in shared.items()] == ["NGC1952"]
    table = m1.archive_tables()
    hip = next(t for t in table if "vmag" in t.colnames)
    assert str(hip["vmag"].unit) == "mag"

    assert [h["query"]["target"] for h in store.history("alice-sub")] == ["M1"]
    assert [h["row_counts"] for h in store.history("bob-sub")] == [{"OpenNGC": 3}]
    jobs = {j["kind"]: j for j in store.jobs("alice-sub")}
    assert jobs["tap"]["detail"]["maxrec"] == 10 and jobs["tap"]["abort_requested"] is None
    assert [j["ref"] for j in store.jobs("bob-sub")] == ["7f1c0d5e2b3a4c59a1b2c3d4e5f60718"]
    finished = next(j for j in store.jobs("alice-sub", "dask")
                    if j["detail"]["state"] == "COMPLETED")
    assert store.result("alice-sub", finished["id"])["table_ecsv"].startswith(b"# %ECSV")


def test_a_new_database_has_exactly_the_code_s_tables(tmp_path: Path) -> None:
    store = store_for(f"sqlite:///{tmp_path / 'new.db'}")
    assert _schema_differences(store.engine) == []
    again = store_for(f"sqlite:///{tmp_path / 'new.db'}")  # opening again changes nothing
    assert again is store


@pytest.mark.stack
def test_postgresql_is_migrated_too(secrets: dict[str, str]) -> None:
    store = store_for(secrets["ESAP_DASH_PG_URL"])
    try:
        with store.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == _head()
        assert _schema_differences(store.engine) == []
    finally:
        store.engine.dispose()
