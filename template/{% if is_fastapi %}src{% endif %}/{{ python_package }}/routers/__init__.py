"""One APIRouter per resource, mounted by main.create_app."""
