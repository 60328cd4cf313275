"""Saved conversations: listing, transcripts, export (md, html, json, wav), replay and delete."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from voice_app.core.errors import UnsafePathError, VoiceAppError
from voice_app.core.files import write_private
from voice_app.core.records import SessionInfo
from voice_app.core.signal import resample
from voice_app.storage.store import Store

EXPORT_FORMATS = ("md", "html", "json", "wav")
SIMULATION_NOTE = (
    "This is a simulation. The replies were written by a language model imitating {them} from old"
    " messages; {them} did not write or say them."
)
GAP_S = 0.4  # silence between turns in a WAV export


def session_json(info: SessionInfo) -> dict[str, Any]:
    """The `voice-app sessions --json` shape."""
    return {
        "id": info.id,
        "persona": info.persona,
        "started": info.started_at,
        "duration_s": round(info.duration_s, 1),
        "turns": info.turns,
    }


# --- export -------------------------------------------------------------------------------------


def _clock(stamp: str | None) -> str:
    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _names(store: Store, info: SessionInfo) -> tuple[str, str]:
    persona = store.get_persona(info.persona)
    return persona.them_name or info.persona, persona.me_name or "You"


def export_session(store: Store, session_id: int, fmt: str, out: Path | None = None, mode: int = 0o600) -> Path:
    """Write the session in `fmt` (mode 0600 unless asked otherwise); returns the file written."""
    if fmt not in EXPORT_FORMATS:
        raise VoiceAppError(f"Unknown export format {fmt!r}.", fix=f"Use one of: {', '.join(EXPORT_FORMATS)}.")
    info = store.get_session(session_id)
    turns = store.turns(session_id)
    out = out or Path.cwd() / f"voice_app-session-{session_id}.{fmt}"
    if fmt == "wav":
        _export_wav(store, turns, out, mode)
        return out
    them, me = _names(store, info)
    if fmt == "html":
        text = _html(info, turns, them, me, lambda ref: _data_uri(store, ref))
    else:
        text = {"md": _markdown, "json": _json}[fmt](info, turns, them, me)
    write_private(out, text.encode("utf-8"), what=f"the export {out}", mode=mode, own_folder=False)
    return out


def _markdown(info: SessionInfo, turns: list[dict[str, Any]], them: str, me: str) -> str:
    lines = [
        f"# Conversation with {them} (simulation)",
        "",
        f"> {SIMULATION_NOTE.format(them=them)}",
        "",
        f"Session {info.id}, persona `{info.persona}`, started {_clock(info.started_at)},"
        f" {info.turns} turns, {info.duration_s:.0f} s, model {info.model or '?'} ({info.backend or '?'}).",
        "",
    ]
    for turn in turns:
        lines.append(f"**{me}** · {_clock(turn['started_at'])}  ")
        lines.append(turn["user_text"] or "_(no words recognised)_")
        lines.append("")
        reply = turn["reply_text"] or ""
        if turn["status"] != "complete":
            reply = (reply + " " if reply else "") + "_(interrupted: the session ended before this reply finished)_"
        elif turn["interrupted"]:
            reply += " _(you interrupted)_"
        lines.append(f"**{them} (simulated)** · {_clock(turn['completed_at'])}  ")
        lines.append(reply or "_(no reply)_")
        lines.append("")
    return "\n".join(lines)


def _data_uri(store: Store, relative: str | None) -> str | None:
    if not relative:
        return None
    path = store.inside(relative)
    if not path.exists():
        return None
    return "data:audio/flac;base64," + base64.b64encode(store.audio_bytes(path)).decode("ascii")


def _html(
    info: SessionInfo, turns: list[dict[str, Any]], them: str, me: str, audio_uri: Callable[[str | None], str | None]
) -> str:
    def block(who: str, cls: str, text: str, stamp: str | None, audio: str | None) -> str:
        player = f'<audio controls preload="metadata" src="{audio}"></audio>' if audio else ""
        return (
            f'<div class="turn {cls}"><div class="who">{html.escape(who)} '
            f'<span class="when">{html.escape(_clock(stamp))}</span></div>'
            f"<p>{html.escape(text)}</p>{player}</div>"
        )

    body = []
    for turn in turns:
        body.append(block(me, "me", turn["user_text"], turn["started_at"], audio_uri(turn["user_audio"])))
        reply = turn["reply_text"] or ("(interrupted)" if turn["status"] != "complete" else "")
        body.append(block(f"{them} (simulated)", "them", reply, turn["completed_at"], audio_uri(turn["reply_audio"])))
    title = html.escape(f"Conversation with {them} (simulation)")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
.note {{ background: #fff6d6; border-left: 4px solid #e0b000; padding: .6rem 1rem; }}
.turn {{ margin: 1rem 0; padding: .5rem 1rem; border-radius: .6rem; }}
.me {{ background: #e8f0ff; }} .them {{ background: #f2f2f2; }}
.who {{ font-weight: 600; }} .when {{ font-weight: 400; color: #777; font-size: .85em; }}
audio {{ width: 100%; }}
</style></head><body>
<h1>{title}</h1>
<p class="note">{html.escape(SIMULATION_NOTE.format(them=them))}</p>
<p>Session {info.id} · started {html.escape(_clock(info.started_at))} · {info.turns} turns</p>
{"".join(body)}
</body></html>
"""


def _json(info: SessionInfo, turns: list[dict[str, Any]], them: str, me: str) -> str:
    data = {"session": asdict(info), "them": them, "me": me, "simulation": True, "turns": turns}
    return json.dumps(data, ensure_ascii=False, indent=2)


def _export_wav(store: Store, turns: list[dict[str, Any]], out: Path, mode: int) -> None:
    import soundfile as sf

    rate = 22050
    pieces: list[np.ndarray] = []
    gap = np.zeros(int(GAP_S * rate), dtype=np.float32)
    for turn in turns:
        for ref in (turn["user_audio"], turn["reply_audio"]):
            audio = store.read_audio(ref)
            if audio is not None:
                pieces += [resample(audio[0], audio[1], rate), gap]
    if not pieces:
        raise VoiceAppError(
            "This session has no recorded audio to export as WAV.",
            fix="Export it as text instead: --format md, html or json.",
        )
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate(pieces), rate, format="WAV", subtype="PCM_16")
    write_private(out, buffer.getvalue(), what=f"the export {out}", mode=mode, own_folder=False)


# --- replay -------------------------------------------------------------------------------------

Printer = Callable[[str], None]
Player = Callable[[np.ndarray, int], None]


def replay(
    store: Store,
    session_id: int,
    *,
    start_turn: int = 0,
    speed: float = 1.0,
    printer: Printer = print,
    player: Player | None = None,
) -> int:
    """Print each line and play its audio in order; without a player, print with timings. Returns lines."""
    info = store.get_session(session_id)
    them, me = _names(store, info)
    shown = 0
    for turn in store.turns(session_id):
        if turn["idx"] < start_turn:
            continue
        timeline = turn["timeline"] or {}
        sides = (
            (me, turn["user_text"], turn["user_audio"], ""),
            (them, turn["reply_text"], turn["reply_audio"], _timing(timeline)),
        )
        for who, text, ref, timing in sides:
            if not text and ref is None:
                continue
            printer(f"[{turn['idx']}] {who}: {text}{timing}")
            shown += 1
            audio = store.read_audio(ref) if player else None
            if player and audio is not None:
                samples, rate = audio
                player(samples, int(rate * speed))
    return shown


def _timing(timeline: dict[str, float]) -> str:
    if not timeline:
        return ""
    parts = [f"{k}={v:.2f}s" for k, v in timeline.items() if isinstance(v, int | float)]
    return "  (" + ", ".join(parts) + ")" if parts else ""


def speaker_player(device: str = "") -> Player:
    """Plays through the configured output device, blocking until each clip ends."""
    from voice_app.core.errors import AudioUnavailableError

    try:
        import sounddevice as sd
    except OSError as exc:
        raise AudioUnavailableError(f"Cannot play audio: PortAudio is missing ({exc}).") from None

    def play(samples: np.ndarray, rate: int) -> None:
        try:
            sd.play(samples, rate, device=int(device) if device.isdigit() else (device or None), blocking=True)
        except Exception as exc:  # noqa: BLE001 - PortAudio raises plain exceptions for device errors
            raise AudioUnavailableError(
                f"Cannot play audio: {exc}.", fix="Check `voice-app doctor`, or replay with --no-audio."
            ) from None

    return play


# --- delete ---------------------------------------------------------------------------------------


def delete_session(store: Store, session_id: int) -> list[Path]:
    """Remove the session's rows and audio files; returns the files removed."""
    store.get_session(session_id)
    refs = [ref for turn in store.turns(session_id) for ref in (turn["user_audio"], turn["reply_audio"]) if ref]
    store.delete_session_rows(session_id)
    removed = []
    for ref in refs:
        try:
            path = store.inside(ref)  # a reference that leaves the data dir is never followed
        except UnsafePathError:
            continue
        if path.exists():
            path.unlink()
            removed.append(path)
            if path.parent != store.root and not any(path.parent.iterdir()):
                path.parent.rmdir()
    return removed
