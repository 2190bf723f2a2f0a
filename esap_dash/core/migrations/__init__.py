"""Schema migrations of the deployment's database (Alembic), run when a store opens."""
