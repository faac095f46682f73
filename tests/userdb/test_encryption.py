from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from userdb.encryption import DecryptionError, EncryptedTextField, decrypt, encrypt, is_encrypted

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _known_keys(settings):
    settings.SECRET_ENCRYPTION_KEYS = [OLD_KEY]


@given(st.text(max_size=300))
def test_encrypted_text_round_trips_and_never_contains_the_plaintext(plaintext):
    token = encrypt(plaintext)
    assert is_encrypted(token)
    assert decrypt(token) == plaintext
    if len(plaintext) >= 4:
        assert plaintext not in token


def test_a_token_under_an_unknown_key_is_an_error_not_an_empty_value(settings):
    token = encrypt("postgresql://app:hunter2hunter2@db.example.com/app")
    settings.SECRET_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(DecryptionError, match="could not be decrypted"):
        decrypt(token)


def test_tampered_or_foreign_values_are_errors():
    with pytest.raises(DecryptionError):
        decrypt(encrypt("secret")[:-4] + "AAAA")
    with pytest.raises(DecryptionError):
        decrypt("postgresql://app:hunter2@db/app")


def test_after_adding_a_new_key_first_old_secrets_still_open_and_new_ones_use_the_new_key(settings):
    old_token = encrypt("old secret")
    settings.SECRET_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert decrypt(old_token) == "old secret"
    new_token = encrypt("new secret")
    assert Fernet(NEW_KEY.encode()).decrypt(new_token.encode()) == b"new secret"


@given(st.text(max_size=200))
def test_no_plaintext_connection_string_passes_for_a_token(text):
    if is_encrypted(text):
        # Only something with the exact shape of a Fernet token may pass (vanishingly rare by chance).
        assert text.startswith("gAAAAA")
    assert not is_encrypted("postgresql://" + text)


def test_the_column_refuses_to_store_a_plaintext():
    field = EncryptedTextField()
    field.set_attributes_from_name("secret")
    field.model = type("Holder", (), {"__name__": "Holder"})  # only the name is read in the message
    with pytest.raises(ValueError, match="only stores encrypted values"):
        field.get_prep_value("postgresql://app:hunter2@db/app")
    token = encrypt("postgresql://app:hunter2@db/app")
    assert field.get_prep_value(token) == token
    assert field.get_prep_value("") == ""


@pytest.mark.django_db
def test_reencryptsecrets_reports_what_it_did(capsys):
    call_command("reencryptsecrets")
    assert "Re-encrypted" in capsys.readouterr().out
