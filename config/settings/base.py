from datetime import timedelta
from typing import Any

from config.env import BASE_DIR, env, env_bool, env_database, env_path

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-development-only" if DEBUG else "")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

INSTALLED_APPS = [
    "config.apps.OperatorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "licensing",
    "tasks",
    "usage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.CommonMiddleware",  # no slash-appending redirect for API writes
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "licensing.tenancy.TenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "usage.context_processors.usage_banner",
            ],
        },
    },
]

# PostgreSQL only; unset, bin/demo and bin/test point DATABASE_URL at their embedded server.
DATABASES = {"default": env_database("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every path that sets a password runs these: add_user (licensing.services.user_add), the admin's
# user forms, password change and reset (Django's forms).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Licensing (SPEC §2)
LICENSE_ISSUER = env.str("LICENSE_ISSUER", default="tally")
# A PEM or JWKS file; a relative path is resolved against the project folder (BASE_DIR).
LICENSE_PUBLIC_KEYS = env_path("LICENSE_PUBLIC_KEYS")
LICENSE_DEV_KEY_DIR = VAR_DIR / "dev-license-keys"
# Cap guard (tasks/guards.py): True commits task creations without waiting for the WAL flush,
# so the counter row lock is not held through an fsync (faster, but a server crash can lose
# the last acknowledged tasks). Off by default: an acknowledged task is never lost.
TASK_CAP_ASYNC_COMMIT = env_bool("TASK_CAP_ASYNC_COMMIT", default=False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns "not logged in" into 401, not 403.
        "licensing.api_tokens.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["licensing.tenancy.IsTenantMember"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Tally API",
    "DESCRIPTION": "Licensing, caps and LLM usage of an AI-operations platform.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "LicenseKindEnum": "licensing.models.License.Kind",
        "PlanKindEnum": ["free_tier", "contract", "trial"],
        "TaskKindEnum": "tasks.models.Task.Kind",
        "GatewayKindEnum": "tasks.models.Gateway.Kind",
    },
}

# Production hardening; `manage.py check --deploy` passes with the .env.example values once
# LICENSE_PUBLIC_KEYS names a key file that exists.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# Only behind a proxy that sets X-Forwarded-Proto itself: otherwise any client could claim https.
TRUST_PROXY_HEADERS = env_bool("TRUST_PROXY_HEADERS", default=False)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Security (SPEC §6.1, issue 12): bad input, API tokens, rate limits, headers -----------
# Everything the security work adds to the settings above is in this one block.
INSTALLED_APPS += ["config.apps.TallyConfig"]  # config.text: text fields take text
# Refuse what no view could store (deep JSON, NUL, lone surrogates) before any view runs.
MIDDLEWARE.insert(
    MIDDLEWARE.index("config.middleware.CommonMiddleware") + 1,
    "config.middleware.InputGuardMiddleware",
)
# The API takes JSON only (SPEC §6.1), so one parser's rules cover every body and the schema
# documents one request format.
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = ["config.parsers.JSONParser"]
REST_FRAMEWORK["TEST_REQUEST_DEFAULT_FORMAT"] = "json"
# What a `usage` API token may do (POST only): what an agent needs, nothing more.
API_TOKEN_USAGE_PATHS = ["/api/v1/usage/events/", "/api/v1/usage/authorize/"]

# Rate limits (config.throttling), counted where every web worker counts the same requests:
# PostgreSQL (the table `tally_rate_counter` is made by `migrate`), or Redis when REDIS_URL is
# set (the cache "throttle").
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES["throttle"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "config.throttling.ApiClientRateThrottle",
    "config.throttling.GatewayRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "api_token": env.str("API_RATE_PER_TOKEN", default="1200/min"),
    "api_anonymous": env.str("API_RATE_ANONYMOUS", default="120/min"),
    "gateway": env.str("API_RATE_PER_GATEWAY", default="600/min"),
}

# Login lockout (django-axes): 10 failed logins in a row for one username from one address lock
# that pair out for 15 minutes; the login page says so (registration/locked_out.html).
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Content-Security-Policy (django-csp): only the app's own scripts, styles, images and fetches;
# no inline script anywhere (the 500 page's and API docs' inline styles are allowed on those
# responses alone, config.errors and config.urls).
MIDDLEWARE += ["csp.middleware.CSPMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Every operation in /api/schema/ documents the common error answers (config.schema).
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "config.schema.TallyAutoSchema"
# Request bodies get their own components, so they carry the input rules (minLength: 1 for text
# that may not be blank) that a response component leaves out.
SPECTACULAR_SETTINGS["COMPONENT_SPLIT_REQUEST"] = True
# --- Notifications (SPEC §7): the worker's queue, email, webhook delivery -------------------
# procrastinate keeps its jobs in PostgreSQL (its migrations run with `migrate`); it must be
# ready before `usage`, whose jobs it registers.
INSTALLED_APPS.insert(INSTALLED_APPS.index("usage"), "procrastinate.contrib.django")
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""  # "tasks" would be our tasks app, not jobs
PROCRASTINATE_IMPORT_PATHS = ["usage.notifications.jobs", "usage.budgets.jobs"]
vars().update(
    env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tally <tally@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Waits (seconds) between delivery attempts: about two days in all.
_retry_waits = env.list(
    "WEBHOOK_RETRY_SCHEDULE",
    default=["5", "300", "1800", "7200", "18000", "36000", "36000", "50400"],
)
if not all(wait.replace(".", "", 1).isdigit() for wait in _retry_waits):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"WEBHOOK_RETRY_SCHEDULE={','.join(_retry_waits)!r} must be seconds separated by commas."
    )
WEBHOOK_RETRY_SCHEDULE = [float(wait) for wait in _retry_waits]
ALERT_SWEEP_SECONDS = env.int("ALERT_SWEEP_SECONDS", default=60)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", default=False)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["BudgetKindEnum"] = ["hard", "soft"]
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["EndpointKindEnum"] = (
    "usage.notifications.models.Endpoint.Kind"
)
