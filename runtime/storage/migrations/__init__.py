"""Alembic migrations for the platform tables (entity tables are planned from packs instead)."""
