"""Shared pieces of the form, entity and view designers (issue 7, helper BB).

The designers are pages for department managers: they edit blueprint documents with the mouse and
never see JSON. These modules hold what the three pages share (the designer gate, reading and
saving documents of a pack's draft through the builder core, the field-type catalogue, the
server-side preview) so that each route module stays small.
"""
