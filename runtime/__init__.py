"""Tessera runtime: interprets blueprint packs against a real database."""

__version__ = "0.1.0"
