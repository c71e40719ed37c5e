"""People: users, password hashing and login (the full permission model builds on this)."""
