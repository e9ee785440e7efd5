"""Django's PostgreSQL backend with every call bounded on the client side too."""
