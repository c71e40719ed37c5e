"""Shared test support: databases, live servers, packs."""
