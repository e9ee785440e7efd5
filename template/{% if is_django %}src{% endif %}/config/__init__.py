"""Django project configuration: settings, URLs and the ASGI application."""
