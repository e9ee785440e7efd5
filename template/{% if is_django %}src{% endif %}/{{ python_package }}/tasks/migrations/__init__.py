"""Migrations of the tasks app (`make migration name=...` adds more)."""
