"""REST API under /api/v1, generated from the deployed blueprints."""

from runtime.api.app import create_app

__all__ = ["create_app"]
