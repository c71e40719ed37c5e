"""Storage: engines, platform tables (alembic), entity tables, migration plans and deploys."""
