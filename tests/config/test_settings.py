"""Production settings: refuse to start without real secrets; `check --deploy` is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


# What the test run itself sets up; a child process is started without it.
TEST_RUN_ENVIRONMENT = {
    "DATABASE_URL",
    "SECRET_KEY",
    "SECRET_ENCRYPTION_KEYS",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_SETTINGS_MODULE",
    "EMBEDDED_DATABASE_URL",
}


def clean_environment(**env: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in TEST_RUN_ENVIRONMENT}, **env}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_environment(**env),
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


def test_check_deploy_warns_when_production_has_no_shared_cache():
    env = {k: v for k, v in PRODUCTION.items() if k != "CACHE_URL"}
    result = manage("check", "--deploy", env=env)
    output = result.stdout + result.stderr
    assert "console.W002" in output, output
    assert "CACHE_URL" in output
    assert manage("check", "--deploy", "--fail-level", "WARNING", env=env).returncode != 0


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


CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


@pytest.mark.django_db
def test_every_page_answers_with_the_strict_content_security_policy(client, owner_client, organization):
    for response in (client.get("/login/"), owner_client.get(f"/o/{organization.slug}/")):
        assert response.status_code == 200
        directives = sorted(part.strip() for part in response["Content-Security-Policy"].split(";"))
        assert directives == sorted(part.strip() for part in CSP.split(";"))
        assert "unsafe" not in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_no_template_carries_inline_script_style_or_handlers(client, owner_client, organization):
    page = owner_client.get(f"/o/{organization.slug}/").content.decode()
    assert "<script>" not in page and " style=" not in page and "<style" not in page
    assert " onclick=" not in page and "hx-on" not in page
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        inline_code = ("<style", " style=", "<script>", " onclick=", " onload=", " onsubmit=", "hx-on", "js:")
        for inline in inline_code:
            assert inline not in text, f"{template.relative_to(ROOT)} has {inline!r}"


PRINT_SECURITY = (
    "from django.conf import settings as s; "
    "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT)"
)


def test_production_sends_hsts_and_marks_cookies_secure():
    result = manage("shell", "-c", PRINT_SECURITY, env=PRODUCTION)
    assert result.stdout.strip().splitlines()[-1] == "True True 31536000 True", result.stderr


def test_reading_the_settings_starts_nothing_and_writes_nothing(tmp_path):
    """`import config.settings` in a fresh clone: no PostgreSQL started, no secret generated."""
    data_dir = tmp_path / "fresh-clone-data"
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.EMBEDDED, repr(s.SECRET_KEY))"],
        cwd=ROOT,
        env=clean_environment(CONSOLE_DATA_DIR=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ''"
    assert not data_dir.exists()


def test_manage_py_prepares_the_embedded_mode_where_the_process_starts(server_tmp):
    """The entry point, not the settings, generates the secrets and starts the server."""
    data_dir = server_tmp / "data"
    try:
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from django.db import connection; print(connection.cursor().execute('SELECT current_user')"
                ".fetchone()[0])",
            ],
            cwd=ROOT,
            env=clean_environment(CONSOLE_DATA_DIR=str(data_dir)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        # The console's own role, not the superuser.
        assert result.stdout.strip().splitlines()[-1] == "console"
        assert (data_dir / "secrets.json").stat().st_mode & 0o777 == 0o600
        for server in ("postgres", "demo-postgres"):
            assert (data_dir / f"{server}.server.json").stat().st_mode & 0o777 == 0o600
    finally:
        from devtools import embedded_pg

        embedded_pg.stop(data_dir / "postgres")
        embedded_pg.stop(data_dir / "demo-postgres")


def test_check_deploy_warns_when_production_mail_would_print_links_to_the_log():
    env = {**PRODUCTION, "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "console.W001" in result.stderr and "password-reset link would be written" in result.stderr
