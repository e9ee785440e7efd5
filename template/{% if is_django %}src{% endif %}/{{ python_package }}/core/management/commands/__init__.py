"""`manage.py serve` and `manage.py ensuredb`."""
