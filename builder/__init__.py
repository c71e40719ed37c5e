"""Authoring tools for blueprints: the drag-and-drop designers, drafts, versions and pack export.

Empty until the builder issue; it will call `runtime` (never the other way round).
"""
