"""What every endpoint shares: the API object, problem+json, middleware, health, commands."""
