"""Tessera UI: templates, static files and vendored front-end assets."""
