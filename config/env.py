"""The one place the environment is read (SPEC §6.4), with strict parsing.

django-environ reads `.env` if present; a malformed value stops start-up with a
message naming the variable instead of silently falling back to a default.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, *, default: bool) -> bool:
    """A strict boolean: django-environ would read `DEBUG=maybe` as False."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean: use one of true/false, 1/0, yes/no, on/off."
    )


_DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql", "psql"}


def env_database(name: str, *, default: str) -> dict:
    """A database from a URL; anything but SQLite or PostgreSQL is refused by name."""
    url = env.str(name, default=default)
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in _DATABASE_SCHEMES or not rest:
        raise ImproperlyConfigured(
            f"{name}={url!r} is not a database URL Tally understands: use "
            "sqlite:////absolute/path.sqlite3 or postgres://user:password@host:5432/name."
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as error:  # django-environ raises several types for bad URLs
        raise ImproperlyConfigured(f"{name}={url!r} could not be parsed: {error}") from error
    if config["ENGINE"] != "django.db.backends.sqlite3" and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={url!r} names no database (the path after the host).")
    return config


def env_path(name: str) -> str:
    """A file path; a relative one is taken from the project folder (BASE_DIR), not from
    wherever the process happens to start. Empty or unset stays empty."""
    raw = env.str(name, default="").strip()
    if not raw:
        return ""
    return str(BASE_DIR / Path(raw).expanduser())
