"""Format ids, their human names, and the typed errors importers raise."""

from __future__ import annotations

from voice_app.core.errors import CorruptExportError, UnknownFormatError

SUPPORTED_FORMATS: dict[str, str] = {
    "whatsapp": "WhatsApp chat export (.txt or .zip, Android and iOS)",
    "telegram_json": "Telegram Desktop export, JSON (result.json, single chat or whole account)",
    "telegram_html": "Telegram Desktop export, HTML (messages.html pages, folder or .zip)",
    "messenger": "Facebook Messenger / Instagram download (message_N.json)",
    "wechat_csv": "WeChat CSV (WeChatMsg/MemoTrace, PyWxDump/WeClone)",
    "wechat_txt": "WeChat TXT (WeChatMsg/MemoTrace)",
    "qq_txt": "QQ message manager TXT export",
    "imessage": "iMessage TXT (imessage-exporter)",
    "signal": "Signal Markdown (signal-export chat.md)",
    "discord_json": "Discord JSON (DiscordChatExporter)",
    "discord_csv": "Discord CSV (DiscordChatExporter)",
    "line": "LINE chat history TXT (English, Japanese, Chinese)",
    "sms_xml": "Android SMS Backup & Restore XML (SMS and MMS)",
    "google_chat": "Google Chat Takeout (messages.json)",
    "generic_csv": "Generic CSV with timestamp/sender/text columns (mapping= to name them)",
    "generic_jsonl": "Generic JSON Lines with timestamp/sender/text keys (mapping= to name them)",
}


def supported_list() -> str:
    return ", ".join(f"{k} ({v})" for k, v in SUPPORTED_FORMATS.items())


def fix_text(extra: str | None = None) -> str:
    base = "Supported formats: " + supported_list() + "."
    return f"{extra} {base}" if extra else base


def unknown(message: str, extra_fix: str | None = None) -> UnknownFormatError:
    return UnknownFormatError(message, fix_text(extra_fix))


def corrupt(message: str, extra_fix: str | None = None) -> CorruptExportError:
    return CorruptExportError(
        message, fix_text(extra_fix or "Export the chat again (the file may be truncated or damaged).")
    )
