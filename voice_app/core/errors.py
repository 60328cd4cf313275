"""Typed errors: each carries a user-facing message and the fix to suggest."""

from __future__ import annotations


class VoiceAppError(Exception):
    """Base of every error the CLI shows to the user without a traceback."""

    default_fix: str | None = None

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix if fix is not None else self.default_fix

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"error": type(self).__name__, "message": self.message, "fix": self.fix}


# --- configuration and data dir -------------------------------------------------------


class ConfigError(VoiceAppError):
    """The settings file or a setting's value is invalid."""

    default_fix = "Run `voice-app config show` to see valid keys and their current values."


class DataDirError(VoiceAppError):
    """The data directory cannot be created or written."""

    default_fix = "Set VOICE_APP_HOME to a writable directory, or fix its permissions."


class DiskFullError(DataDirError):
    """Writing failed because the disk is full."""

    default_fix = "Free some disk space (or point VOICE_APP_HOME elsewhere) and try again; nothing was lost."


# --- models ---------------------------------------------------------------------------


class ModelNotFoundError(VoiceAppError):
    """No model could be found for a role (no setting, no installed package)."""


class ModelCorruptError(VoiceAppError):
    """A model file failed verification and could not be rebuilt."""


class ModelLoadError(VoiceAppError):
    """A model file exists but its library could not load it."""


# --- storage --------------------------------------------------------------------------


class StoreError(VoiceAppError):
    """The SQLite store is unreadable, locked or from a newer version."""

    default_fix = "Close other voice-app windows; if the database is damaged, restore it from a backup."


class NothingToCorrectError(VoiceAppError):
    """A correction was asked for before the persona said anything."""

    default_fix = "Say something first; then mark their reply."


class CorrectionNotFoundError(VoiceAppError):
    """The correction to undo does not exist for this persona."""


class PersonaNotFoundError(VoiceAppError):
    """No persona of that name exists."""

    default_fix = "List personas with `voice-app personas`, or create one with `voice-app import`."


class InvalidPersonaNameError(VoiceAppError):
    """A persona name that cannot be a handle (empty, too long, control characters, a leading dash)."""

    default_fix = "Pick a short name of letters, digits, spaces or - _ . (at most 64 characters), e.g. --persona alex."


class UnsafePathError(DataDirError):
    """A path derived from stored data points outside the data dir; nothing was read, written or deleted."""

    default_fix = "The database may have been tampered with: check it, or restore it from a backup."


class SessionNotFoundError(VoiceAppError):
    """No saved session with that id exists."""

    default_fix = "List sessions with `voice-app sessions`."


# --- chat history import ---------------------------------------------------------------


class ImportFormatError(VoiceAppError):
    """An export file could not be recognized or parsed."""


class UnknownFormatError(ImportFormatError):
    """No importer recognizes the file's content."""


class CorruptExportError(ImportFormatError):
    """The file looks like a known format but is damaged or truncated."""


class ParticipantNotFoundError(VoiceAppError):
    """--them/--me names nobody in the conversation."""


class ConsentRequiredError(VoiceAppError):
    """Creating a persona needs the user's explicit acknowledgement."""


# --- audio ----------------------------------------------------------------------------


class AudioUnavailableError(VoiceAppError):
    """PortAudio or a sound device is missing; the app falls back to typed input."""

    default_fix = (
        "Install PortAudio (`apt-get install libportaudio2`) and check `voice-app doctor`;"
        " you can still type instead of talking."
    )


# --- LLM backends -----------------------------------------------------------------------


class LLMError(VoiceAppError):
    """A language model backend failed."""


class OllamaUnavailableError(LLMError):
    """No Ollama server answers at the configured host."""

    default_fix = (
        "Start it with `ollama serve`, or use the embedded model: `voice-app config set llm.backend embedded`."
    )


class RemoteServerNotAllowedError(LLMError):
    """The configured model server is on another machine and the user has not allowed that."""

    default_fix = (
        "Use a server on this machine (e.g. `voice-app config set llm.ollama_host http://127.0.0.1:11434`), or"
        " allow it with `voice-app config set llm.allow_remote on`: the persona's messages then leave this machine."
    )


class OllamaModelMissingError(LLMError):
    """The Ollama server does not have the configured model."""


class OpenAIUnavailableError(LLMError):
    """No OpenAI-compatible server answers at `llm.openai_base_url`."""

    default_fix = (
        "Start your server (llama-server, vLLM, LM Studio…) or correct the address:"
        " `voice-app config set llm.openai_base_url http://127.0.0.1:8080/v1`;"
        " or use the embedded model: `voice-app config set llm.backend embedded`."
    )


class OpenAIAuthError(LLMError):
    """The OpenAI-compatible server refused the API key (401/403)."""

    default_fix = "Put the server's key in the environment: `export VOICE_APP_OPENAI_API_KEY=...` (never in a file)."


class OpenAIModelMissingError(LLMError):
    """The OpenAI-compatible server has no such model (or no such endpoint: 404)."""


class LLMConnectionLostError(LLMError):
    """The connection to the model server dropped mid-reply."""

    default_fix = "Check that `ollama serve` is still running, then say your line again."
