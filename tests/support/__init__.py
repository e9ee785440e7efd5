"""What the template's tests share: generated projects, databases, PgBouncer, Node prebuilds,
commands, and generated services run as black boxes. Fixtures live in the conftest files."""
