"""Saved sessions: listing, replay order, every export format, and delete leaving nothing behind."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voice_app.cli import main
from voice_app.conversation import sessions
from voice_app.conversation.importing import ensure_demo
from voice_app.core import assets, config
from voice_app.storage.store import Store

LINES = [
    ("do you remember the goose?", "how could I forget, it chased me for a mile."),
    ("I never said sorry about Rotterdam.", "I know. I wasn't easy either."),
]


@pytest.fixture(scope="module")
def voice() -> object:
    from piper import PiperVoice

    return PiperVoice.load(str(assets.resolve("tts").path))


def speak(voice: object, text: str) -> tuple[np.ndarray, int]:
    chunks = list(voice.synthesize(text))  # type: ignore[attr-defined]
    audio = np.concatenate([c.audio_float_array for c in chunks])
    return audio, chunks[0].sample_rate


@pytest.fixture
def recorded_session(isolated_home: Path, voice: object) -> tuple[Store, int]:
    store = Store(isolated_home / "voice_app.sqlite3")
    ensure_demo(store)
    sid = store.start_session("demo", "voice", "embedded", "qwen2.5-1.5b")
    for idx, (said, heard) in enumerate(LINES):
        user_audio = store.write_audio(*speak(voice, said), f"audio/session-{sid}/turn-{idx}-user.flac")
        turn = store.begin_turn(sid, said, user_audio)
        reply_audio = store.write_audio(*speak(voice, heard), f"audio/session-{sid}/turn-{idx}-reply.flac")
        store.complete_turn(
            turn, reply_text=heard, reply_audio=reply_audio, timeline={"first_audio_out": 0.5 + idx / 10}
        )
    store.end_session(sid)
    return store, sid


def test_audio_files_are_private_flac(recorded_session: tuple[Store, int]) -> None:
    store, sid = recorded_session
    for turn in store.turns(sid):
        for ref in (turn["user_audio"], turn["reply_audio"]):
            path = config.data_dir() / ref
            assert path.stat().st_mode & 0o777 == 0o600
            assert sf.info(path).format == "FLAC" and sf.info(path).duration > 0.5


def test_sessions_json_lists_id_persona_started_duration_turns(
    recorded_session: tuple[Store, int], capsys: pytest.CaptureFixture[str]
) -> None:
    _, sid = recorded_session
    capsys.readouterr()
    assert main(["sessions", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"id": sid, "persona": "demo", "started": rows[0]["started"], "duration_s": rows[0]["duration_s"], "turns": 2}
    ]
    assert main(["sessions", "demo", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_replay_plays_both_sides_in_order(recorded_session: tuple[Store, int]) -> None:
    store, sid = recorded_session
    printed: list[str] = []
    played: list[tuple[int, int]] = []
    count = sessions.replay(store, sid, printer=printed.append, player=lambda s, r: played.append((len(s), r)))
    assert count == 4
    assert [line.split(": ", 1)[1].split("  (")[0] for line in printed] == [t for pair in LINES for t in pair]
    assert printed[0].startswith("[0] Sam:") and printed[1].startswith("[0] Alex:")
    assert len(played) == 4 and all(rate == 22050 for _, rate in played)
    printed.clear()
    played.clear()
    sessions.replay(
        store, sid, start_turn=1, speed=1.5, printer=printed.append, player=lambda s, r: played.append((len(s), r))
    )
    assert len(printed) == 2 and printed[0].startswith("[1] ")
    assert all(rate == int(22050 * 1.5) for _, rate in played)


def test_replay_no_audio_prints_timings(
    recorded_session: tuple[Store, int], capsys: pytest.CaptureFixture[str]
) -> None:
    _, sid = recorded_session
    capsys.readouterr()
    assert main(["replay", str(sid), "--no-audio"]) == 0
    out = capsys.readouterr().out
    assert "first_audio_out=0.50s" in out and out.index(LINES[0][0]) < out.index(LINES[1][1])


def test_export_markdown_json_and_wav(recorded_session: tuple[Store, int], tmp_path: Path) -> None:
    store, sid = recorded_session
    md = sessions.export_session(store, sid, "md", tmp_path / "s.md").read_text()
    assert md.startswith("# Conversation with Alex (simulation)")
    assert "This is a simulation" in md and "did not write or say them" in md
    assert re.search(r"\*\*Sam\*\* · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", md)
    assert md.index(LINES[0][1]) < md.index(LINES[1][0])
    data = json.loads(sessions.export_session(store, sid, "json", tmp_path / "s.json").read_text())
    assert data["simulation"] is True and [t["user_text"] for t in data["turns"]] == [a for a, _ in LINES]
    wav = sessions.export_session(store, sid, "wav", tmp_path / "s.wav")
    info = sf.info(wav)
    parts = [
        sf.info(config.data_dir() / t[k]).duration for t in store.turns(sid) for k in ("user_audio", "reply_audio")
    ]
    assert info.format == "WAV" and abs(info.duration - (sum(parts) + 4 * sessions.GAP_S)) < 0.05


def test_export_html_audio_has_durations_in_headless_chromium(
    recorded_session: tuple[Store, int], tmp_path: Path
) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (scripts/setup.sh installs the chromium package)")
    store, sid = recorded_session
    page = sessions.export_session(store, sid, "html", tmp_path / "s.html").read_text()
    assert "<script" not in page and page.count("<audio") == 4 and "data:audio/flac;base64," in page
    probe = page.replace(
        "</body>",
        "<script>const a=[...document.querySelectorAll('audio')];"
        "Promise.all(a.map(e=>e.readyState>=1?0:new Promise(r=>e.addEventListener('loadedmetadata',r))))"
        ".then(()=>{document.body.dataset.durations=a.map(e=>e.duration.toFixed(2)).join(',')});</script></body>",
    )
    (tmp_path / "probe.html").write_text(probe)
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            (tmp_path / "probe.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r'data-durations="([^"]+)"', result.stdout)
    assert match, result.stderr[-2000:]
    durations = [float(x) for x in match.group(1).split(",")]
    expected = [
        sf.info(config.data_dir() / t[k]).duration for t in store.turns(sid) for k in ("user_audio", "reply_audio")
    ]
    assert durations == pytest.approx(expected, abs=0.05)


def test_delete_removes_rows_and_every_audio_file(
    recorded_session: tuple[Store, int], capsys: pytest.CaptureFixture[str]
) -> None:
    store, sid = recorded_session
    files = [config.data_dir() / t[k] for t in store.turns(sid) for k in ("user_audio", "reply_audio")]
    assert all(f.exists() for f in files)
    store.close()
    assert main(["sessions", "delete", str(sid)]) == 0
    assert "4 audio files removed" in capsys.readouterr().out
    assert not any(f.exists() for f in files) and not files[0].parent.exists()
    with Store(config.data_dir() / "voice_app.sqlite3") as again:
        assert again.query("SELECT COUNT(*) FROM turns")[0][0] == 0
        assert again.list_sessions() == []
    assert main(["sessions", "delete", str(sid)]) == 2
