"""Migrations of the accounts app (`make migration name=...` adds more)."""
