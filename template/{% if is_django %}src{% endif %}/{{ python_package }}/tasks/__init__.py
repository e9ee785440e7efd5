"""Tasks: each user's own, with an event sent on creation."""
