"""Django settings. Every knob comes from a RESOLUTE_* variable (see web/config.py)."""

from __future__ import annotations

from pathlib import Path

import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_markercluster

from . import config

PRODUCTION = config.is_production()
DATA_DIR = config.data_dir()
SECRET_KEY = config.secret_key(PRODUCTION, DATA_DIR)
DEBUG = (config.env("DEBUG", "0") == "1") and not PRODUCTION
ALLOWED_HOSTS = config.allowed_hosts(PRODUCTION)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_htmx",
    "resolute.accounts",
    "resolute.audit",
    "resolute.monitoring",
    "resolute.agreement",
    "resolute.commission",
    "resolute.support",
    "resolute.forces",
    "resolute.playbook",
    "resolute.interop",
    "resolute.reports",
    "resolute.demo",
    "resolute.web",
]

MIDDLEWARE = [
    "resolute.web.middleware.HeadWithoutBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "resolute.web.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "resolute.web.middleware.UserLanguageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "resolute.web.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "resolute.web.urls"
WSGI_APPLICATION = "resolute.web.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "resolute.web.context.navigation",
            ],
        },
    },
]

DATABASES = {"default": config.database(DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("uk", "Українська")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Leaflet and its marker-cluster plug-in come from their xstatic packages, served by us.
STATICFILES_DIRS = [("leaflet", xstatic.pkg.leaflet.BASE_DIR), ("leaflet-markercluster", xstatic.pkg.leaflet_markercluster.BASE_DIR)]
LOCALE_PATHS = [Path(__file__).resolve().parent.parent / "locale"]
# The situation map draws its base map from shipped vector data. A deployment with its own tile
# server may add raster tiles under it: an URL template such as
# https://tiles.example.mil/{z}/{x}/{y}.png (it is also allowed by the pages' CSP).
MAP_TILE_URL = config.env("MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = config.env("MAP_TILE_ATTRIBUTION", "")
# Above this many incidents in view the map receives grid cells, not incidents.
MAP_MAX_FEATURES = config.int_setting("MAP_MAX_FEATURES", 1500)

# Request size: Django's own limit guards form parsing; our middleware answers oversize
# bodies with a 413 problem document before any parsing (RESOLUTE_MAX_BODY_BYTES).
MAX_BODY_BYTES = config.int_setting("MAX_BODY_BYTES", 16 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
# Multipart bombs: at most this many file parts in one request (Django's default, made a
# setting); more is refused with 413 before anything is stored. Fields stay at Django's 1000.
DATA_UPLOAD_MAX_NUMBER_FILES = config.int_setting("MAX_UPLOAD_FILES", 100)
# One OpenRosa part (the submission XML or an attachment), refused with 413 as soon as it
# passes this size; the whole POST is bounded by MAX_BODY_BYTES.
OPENROSA_MAX_ATTACHMENT_BYTES = config.int_setting("OPENROSA_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
MAX_BULK_OBSERVATIONS = config.int_setting("MAX_BULK", 10_000)
# How far in the future an observed time may lie (device clock skew), seconds.
FUTURE_TOLERANCE_S = config.int_setting("FUTURE_TOLERANCE_S", 300)

# Fusion: per-family correlation parameters (JSON, docs/operations.md) and whether the API
# fuses new observations into incidents in the background as they arrive.
FUSION_PARAMS_FILE = config.env("FUSION_PARAMS")
FUSION_ON_INTAKE = config.env("FUSION_ON_INTAKE", "1") == "1"

# Verification and the Special Commission (docs/operations.md).
VERIFICATION_LOCK_MINUTES = config.int_setting("VERIFICATION_LOCK_MINUTES", 30)
VERIFICATION_REVIEW_HOURS = config.int_setting("VERIFICATION_REVIEW_HOURS", 24)
COMMISSION_MIN_SEVERITY = config.int_setting("COMMISSION_MIN_SEVERITY", 3)
COMMISSION_RULE = config.json_setting("COMMISSION_RULE", {"quorum": 2 / 3, "mode": "qualified_majority", "threshold": 2 / 3, "casting_vote": True})
RELIABILITY_RULE = config.json_setting("RELIABILITY_RULE", {"window_days": 14, "threshold": 5.0, "serious_severity": 4})
# Deadlines are stored in UTC and shown in this zone (the mission's local time).
DISPLAY_TIME_ZONE = config.env("DISPLAY_TIME_ZONE", "Europe/Kyiv")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = config.env("SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": config.env("LOG_LEVEL", "WARNING")},
}
