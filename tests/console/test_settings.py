"""Production settings: refuse to start without real secrets; `check --deploy` is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SECRET_KEY", "SECRET_ENCRYPTION_KEYS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DATABASE_URL": "postgres://console:secret@db.internal:5432/console",
    "SECRET_KEY": "k" * 20 + "Zq8#pL2!vR7@mN4$xW1^bT6&cY3*hJ9(" + "abcdefgh",
    "SECRET_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "console.example.com",
    "CACHE_URL": "redis://127.0.0.1:6379/0",
}


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stderr + result.stdout


def test_production_refuses_to_start_without_secrets():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_ENCRYPTION_KEYS"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY and SECRET_ENCRYPTION_KEYS must be set" in result.stderr


def test_production_refuses_a_weak_secret_key():
    result = manage("check", env={**PRODUCTION, "SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 characters" in result.stderr


def test_debug_is_off_unless_asked_for():
    result = manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)", env=PRODUCTION)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr


PRINT_EMAIL = (
    "from django.conf import settings as s; "
    "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS, s.ALLOW_SIGNUP)"
)


def test_production_reads_the_mail_server_from_email_url():
    env = {**PRODUCTION, "EMAIL_URL": "smtp+tls://mailer:pw@smtp.example.com:587", "ALLOW_SIGNUP": "true"}
    result = manage("shell", "-c", PRINT_EMAIL, env=env)
    assert result.stdout.strip().splitlines()[-1] == (
        "django.core.mail.backends.smtp.EmailBackend smtp.example.com 587 mailer True True"
    ), result.stderr


def test_production_reads_the_mail_server_from_separate_variables_and_sign_up_stays_closed():
    env = {**PRODUCTION, "EMAIL_HOST": "mail.internal", "EMAIL_PORT": "2525", "EMAIL_USE_TLS": "true"}
    result = manage("shell", "-c", PRINT_EMAIL, env=env)
    assert result.stdout.strip().splitlines()[-1] == (
        "django.core.mail.backends.smtp.EmailBackend mail.internal 2525  True False"
    ), result.stderr
