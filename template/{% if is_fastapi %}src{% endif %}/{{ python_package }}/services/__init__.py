"""Business rules, independent of HTTP: routers call these with a session and plain values."""
