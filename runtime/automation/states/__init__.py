"""State machines and record actions (PL-08): named transitions with guards, roles, input forms and effects."""
