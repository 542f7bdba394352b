"""Piccolo's configuration for its CLI (`piccolo migrations forwards all`).

The engine comes from the same settings as the app's, so both always use one database.
"""

from onboarding.database import app_registry, engine_from_url
from onboarding.settings import load_settings

DB = engine_from_url(load_settings().database_url)
APP_REGISTRY = app_registry()
