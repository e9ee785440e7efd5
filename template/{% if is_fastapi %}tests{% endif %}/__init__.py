"""The service's own tests (a package, so test modules can share conftest helpers)."""
