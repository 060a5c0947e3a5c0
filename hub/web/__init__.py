"""The hub's web layer: the Flask app, its blueprints (pages, the staff API, the sync endpoints) and templates.

Everything Flask touches lives here; the domain below takes a session and values and never imports Flask.
``create_app(data_dir)`` builds the app for one data directory; ``pointkit-hub serve`` runs it.
"""

from hub.web.app import create_app

__all__ = ["create_app"]
