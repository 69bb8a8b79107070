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


_POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "psql"}
_POSTGRES_EXAMPLES = (
    "postgres://user:password@host:5432/name, or a Unix socket as "
    "postgres://user@/name?host=/path/to/socket-folder"
)


def env_database(name: str) -> dict:
    """The PostgreSQL database named by a URL; unset, or any other database, is refused by name.

    PostgreSQL is the only database (SPEC 6.4). `bin/demo` and `bin/test` set the variable to
    their embedded server when it is unset; production and CI point it at a real server.
    """
    url = env.str(name, default="")
    if not url:
        raise ImproperlyConfigured(
            f"{name} is not set: bin/demo and bin/test start an embedded PostgreSQL and set it; "
            f"otherwise set it to {_POSTGRES_EXAMPLES}."
        )
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in _POSTGRES_SCHEMES or not rest:
        raise ImproperlyConfigured(
            f"{name}={url!r} is not a PostgreSQL URL (PostgreSQL is Tally's only database): "
            f"use {_POSTGRES_EXAMPLES}."
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as error:  # django-environ raises several types for bad URLs
        raise ImproperlyConfigured(f"{name}={url!r} could not be parsed: {error}") from error
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={url!r} names no database (the path after the host).")
    return config


def env_path(name: str) -> str:
    """A file path; a relative one is taken from the project folder (BASE_DIR), not from
    wherever the process happens to start. Empty or unset stays empty."""
    raw = env.str(name, default="").strip()
    if not raw:
        return ""
    return str(BASE_DIR / Path(raw).expanduser())
