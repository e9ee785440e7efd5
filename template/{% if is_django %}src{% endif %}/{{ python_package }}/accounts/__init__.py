"""Users, sign-up and access tokens."""
