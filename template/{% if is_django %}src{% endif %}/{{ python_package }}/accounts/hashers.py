"""Password hashing: argon2id, at the same cost in every service of this template."""

from django.contrib.auth import hashers


class Argon2PasswordHasher(hashers.Argon2PasswordHasher):
    """OWASP's parameters (19 MiB, 2 passes, 1 lane): ~30 ms of one core per hash, where
    Django's default (100 MiB, 8 lanes) costs eight times the CPU of each login. Stored hashes
    carry their parameters: older ones still verify, and are re-hashed at the next login."""

    time_cost = 2
    memory_cost = 19_456
    parallelism = 1
