"""Settings for the test suite: the real settings (embedded or production mode, as the
environment says), plus what only tests want."""

from __future__ import annotations

from config.settings import *  # noqa: F403
from config.settings import PASSWORD_HASHERS

# Hashing a password with Argon2 costs ~100 ms and ~100 MiB; tests create thousands of users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
# collectstatic is not run for tests: serve from the source folders, unhashed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
