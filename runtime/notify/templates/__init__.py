"""Message templates (pack folder templates/): sandboxed Jinja2 texts per channel and language, checked at load."""
