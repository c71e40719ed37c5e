"""Message catalogues of the UI, one module per area, merged into :data:`ui.i18n.MESSAGES`.

Each module holds a ``MESSAGES`` dict shaped like the core catalogue: key -> {"zh": ..., "en": ...}.
Keeping areas apart lets admin, account and export pages grow without one huge file.
"""
