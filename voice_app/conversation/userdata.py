"""The user's store for a command or a screen: unlocked, settings in step, demo present; encryption switched."""

from __future__ import annotations

from voice_app.conversation.importing import ensure_demo
from voice_app.core import config
from voice_app.storage import encryption
from voice_app.storage.store import Store

__all__ = ["Store", "open_user_store", "switch_encryption"]


def open_user_store() -> Store:
    """The user's store, unlocked (the passphrase is asked for when encryption is on), with `demo` present."""
    store = encryption.open_unlocked(Store.open_default())
    settings = config.load()
    encrypted = store.encryption_state != "off"
    if settings.care.encryption != encrypted:  # the database is the truth (a conversion finished or was undone)
        settings.care.encryption = encrypted
        config.save(settings)
    ensure_demo(store)
    return store


def switch_encryption(on: bool) -> str:
    """Convert the data dir in place (the passphrase is asked for); returns what happened, for the user."""
    with Store.open_default() as store:
        if on:
            encryption.enable(store, encryption.read_passphrase(confirm=store.encryption_state == "off"))
            return "Encryption at rest is on: message texts, session texts and audio are now encrypted."
        encryption.disable(store, encryption.read_passphrase())
        return "Encryption at rest is off: your data was decrypted in place."
