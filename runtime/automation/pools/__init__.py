"""Pools (公海) of records people claim and release, with caps, protection and auto-recycle (PL-12)."""
