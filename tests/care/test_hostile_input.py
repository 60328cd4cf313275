"""Hostile and unlucky input: names that look like paths or markup, escape sequences, bombs, full disks."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.test_chat import voice_app
from voice_app.cli import main
from voice_app.conversation.forget import forget
from voice_app.core import config
from voice_app.core.errors import InvalidPersonaNameError, UnsafePathError
from voice_app.core.records import check_persona_name
from voice_app.core.textsafe import printable
from voice_app.llm.backends import choose_backend, is_local
from voice_app.storage.store import Store

ESCAPES = "\x1b[2J\x1b]52;c;cGF5bG9hZA==\x07\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\"


def whatsapp(folder: Path, them: str = "Robin", text: str = "see you at the lighthouse tonight") -> Path:
    path = folder / "WhatsApp Chat with Robin.txt"
    lines = [
        f"01/02/2024, 10:00 - {them}: {text}",
        "01/02/2024, 10:01 - Me: the one with the red door, right?",
        f"01/02/2024, 10:02 - {them}: yes, the red one",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- 1. names that look like paths ------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["..", ".", "/tmp/victim", "../up", "~/home", "x" * 5000, "-rf", "  ", "tab\there", "bidi\u202egnp"]
)
def test_a_persona_name_that_looks_like_a_path_or_an_option_is_refused_before_anything_is_stored(
    isolated_home: Path, tmp_path: Path, name: str
) -> None:
    with pytest.raises(InvalidPersonaNameError):
        check_persona_name(name)
    export = whatsapp(tmp_path)
    code = main(["import", str(export), f"--persona={name}", "--them", "Robin", "--consent"])
    assert code == 2
    with Store(isolated_home / "voice_app.sqlite3") as store:
        assert [p["name"] for p in store.list_personas()] in ([], ["demo", "demo-zh"])


def test_forget_never_deletes_outside_the_data_dir_even_with_a_tampered_database(
    isolated_home: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("do not delete", encoding="utf-8")
    assert main(["import", str(whatsapp(tmp_path)), "--persona", "robin", "--them", "Robin", "--consent"]) == 0
    with Store(isolated_home / "voice_app.sqlite3") as store:
        persona = store.get_persona("robin")
        sid = store.start_session("robin", "voice", "embedded", "qwen")
        turn = store.begin_turn(sid, "hello there, are you around tonight")
        store.complete_turn(turn, reply_text="i am, for a bit")
        # An attacker who can write the database points the audio at files outside the data dir,
        # and renames the persona to a path (as an older version would have accepted).
        store.query(
            "UPDATE turns SET user_audio = ?, reply_audio = ? WHERE id = ?", ("../../victim", str(victim), turn)
        )
        store.query("UPDATE personas SET name = '..' WHERE id = ?", (persona.id,))
        (isolated_home / "personas").mkdir(exist_ok=True)
        report = forget(store, [".."])
    assert (victim / "precious.txt").read_text(encoding="utf-8") == "do not delete"
    assert (isolated_home / "voice_app.sqlite3").exists()  # the data dir itself was not removed
    assert not report.clean and any("outside the data dir" in e for e in report.errors)
    with Store(isolated_home / "voice_app.sqlite3") as store:
        with pytest.raises(UnsafePathError):
            store.inside("../outside")
        with pytest.raises(UnsafePathError):
            store.inside(str(victim))


def test_forget_reports_an_error_instead_of_clean_when_a_file_cannot_be_removed(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["import", str(whatsapp(tmp_path)), "--persona", "robin", "--them", "Robin", "--consent"]) == 0
    with Store(isolated_home / "voice_app.sqlite3") as store:
        sid = store.start_session("robin", "voice", "embedded", "qwen")
        ref = store.write_audio(np.zeros(1600, np.float32), 16000, f"audio/session-{sid}/turn-0-user.flac")
        turn = store.begin_turn(sid, "why the lighthouse of all places", ref)
        store.complete_turn(turn, reply_text="because you asked me to")

    def refuse(path: object, *args: object, **kwargs: object) -> None:  # a busy or read-only file system
        raise PermissionError(13, "Permission denied", str(path))

    import voice_app.conversation.forget as forget_module

    monkeypatch.setattr(forget_module.shutil, "rmtree", refuse)
    capsys.readouterr()
    code = main(["forget", "robin", "--yes", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["clean"] is False
    assert any("could not remove" in e and f"session-{sid}" in e for e in report["errors"])


# --- 2. markup and terminal escapes -------------------------------------------------------------


def test_markup_in_names_and_senders_is_shown_as_text(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = whatsapp(tmp_path, them="[bold red]Mal[/]")
    assert main(["inspect", str(export)]) == 0
    shown = capsys.readouterr().out
    assert "[bold red]Mal[/]" in shown
    assert main(["import", str(export), "--persona", "p [/] q", "--them", "[bold red]Mal[/]", "--consent"]) == 0
    capsys.readouterr()
    assert main(["personas"]) == 0
    listed = capsys.readouterr().out
    assert "p [/] q" in listed and "[bold red]Mal[/]" in listed
    assert main(["import", str(export), "--persona", "other", "--them", "Nobody", "--consent"]) == 2
    error = capsys.readouterr().err
    assert "[bold red]Mal[/]" in error  # the participant list names the sender as it is


def test_escape_sequences_in_messages_never_reach_the_terminal(isolated_home: Path, tmp_path: Path) -> None:
    export = whatsapp(tmp_path, text=f"hi {ESCAPES} there")
    assert (
        voice_app(isolated_home, "import", str(export), "--persona", "robin", "--them", "Robin", "--consent").returncode
        == 0
    )
    with Store(isolated_home / "voice_app.sqlite3") as store:
        sid = store.start_session("robin", "text", "embedded", "qwen")
        turn = store.begin_turn(sid, f"tell me {ESCAPES}")
        store.complete_turn(turn, reply_text=f"sure {ESCAPES}")
    for args in (("replay", str(sid), "--no-audio"), ("inspect", str(export)), ("sessions",), ("personas",)):
        result = voice_app(isolated_home, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout, args
    replayed = voice_app(isolated_home, "replay", str(sid), "--no-audio").stdout
    assert "␛[2J" in replayed and "tell me" in replayed  # made visible, not dropped
    assert printable("a\x1b]52;c;x\x07b\x9bc\x85d") == "a␛]52;c;x␇b␛[c\\x85d"


# --- 4. disk full -----------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.fail(f"a small tmpfs is needed to test a full disk (run as root): {done.stderr.decode()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_gives_a_clear_error_and_loses_nothing(tiny_disk: Path, tmp_path: Path) -> None:
    home = tiny_disk / "home"
    export = whatsapp(tmp_path)
    first = voice_app(home, "import", str(export), "--persona", "robin", "--them", "Robin", "--consent")
    assert first.returncode == 0, first.stderr
    big = tmp_path / "big.txt"
    lines = [f"01/02/2024, 10:{i % 60:02d} - Robin: message {i} " + "words " * 30 for i in range(20000)]
    big.write_text("\n".join(lines) + "\n", encoding="utf-8")
    filler = tiny_disk / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY)  # fill what is left of the disk
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    full = voice_app(home, "import", str(big), "--persona", "robin2", "--them", "Robin", "--consent")
    assert full.returncode == 2
    assert "Traceback" not in full.stderr and "full" in full.stderr.lower(), full.stderr
    assert "cannot rollback" not in full.stderr
    filler.unlink()
    after = voice_app(home, "personas", "--json")
    assert after.returncode == 0, after.stderr
    names = {row["name"]: row["messages"] for row in json.loads(after.stdout)}
    assert names["robin"] == 3 and "robin2" not in names


# --- 5. bounded memory -------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_without_expanding_it(isolated_home: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "WhatsApp Chat.zip"
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("WhatsApp Chat with Robin.txt", "w", force_zip64=True) as member,
    ):
        member.write(b"01/02/2024, 10:00 - Robin: hi\n")
        block = b"\n" * (1 << 20)
        for _ in range(1024):  # 1 GB of blank lines
            member.write(block)
    assert bomb.stat().st_size < 3 << 20
    probe = (  # VmHWM: this process's own peak (ru_maxrss would carry pytest's over the exec)
        "import re, sys; from voice_app.cli import main; code = main(['inspect', sys.argv[1]]);"
        " print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)); sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(bomb)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VOICE_APP_HOME": str(isolated_home)},
    )
    assert result.returncode == 2, result.stderr
    assert "zip bomb" in result.stderr and "Traceback" not in result.stderr
    peak_kb = int(result.stdout.strip().splitlines()[-1])
    assert peak_kb < 400_000, peak_kb  # the interpreter and its imports; nothing of the gigabyte


def test_blank_lines_without_end_do_not_grow_a_message_without_bound(isolated_home: Path, tmp_path: Path) -> None:
    export = tmp_path / "WhatsApp Chat with Robin.txt"
    with export.open("w", encoding="utf-8") as handle:
        handle.write("01/02/2024, 10:00 - Robin: hi\n")
        handle.write("more of it\n" * 200_000)
        handle.write("01/02/2024, 10:05 - Me: ok\n")
    result = voice_app(isolated_home, "inspect", str(export), "--json")
    data = json.loads(result.stdout)
    assert data["messages"] == 2
    assert any("cut" in w for w in data["warnings"])


# --- 6. folder scans -----------------------------------------------------------------------------------


def test_a_folder_with_twenty_thousand_photos_and_one_chat_imports_the_chat(
    isolated_home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "WhatsApp backup"
    media = folder / "Media"
    media.mkdir(parents=True)
    for i in range(20050):
        (media / f"IMG-{i:05d}.jpg").write_bytes(b"\xff\xd8\xff")
    whatsapp(folder)
    result = voice_app(isolated_home, "inspect", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["messages"] == 3
    assert any("skipped 20,050 files" in w and ".jpg" in w for w in data["warnings"])


# --- 7. modes and model servers ------------------------------------------------------------------------


def test_everything_the_app_creates_is_private_even_in_an_existing_open_data_dir(
    isolated_home: Path, tmp_path: Path
) -> None:
    os.chmod(isolated_home, 0o755)
    assert main(["config", "set", "care.country", "GB"]) == 0
    with Store(isolated_home / "voice_app.sqlite3") as store:
        sid = store.start_session("demo", "voice", "embedded", "qwen") if store.find_persona("demo") else None
    assert main(["import", str(whatsapp(tmp_path)), "--persona", "robin", "--them", "Robin", "--consent"]) == 0
    with Store(isolated_home / "voice_app.sqlite3") as store:
        sid = store.start_session("robin", "voice", "embedded", "qwen")
        ref = store.write_audio(np.zeros(1600, np.float32), 16000, f"audio/session-{sid}/turn-0-user.flac")
        turn = store.begin_turn(sid, "a line", ref)
        store.complete_turn(turn, reply_text="a reply")
    out = tmp_path / "exported.md"
    assert main(["export", str(sid), "--format", "md", "-o", str(out)]) == 0
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(isolated_home) == 0o700
    assert mode(isolated_home / "config.toml") == 0o600
    assert mode(isolated_home / "audio") == 0o700 and mode(isolated_home / "audio" / f"session-{sid}") == 0o700
    assert mode(isolated_home / ref) == 0o600
    assert mode(out) == 0o600
    shared = tmp_path / "shared.md"
    assert main(["export", str(sid), "-o", str(shared), "--mode", "644"]) == 0
    assert mode(shared) == 0o644


def test_a_model_server_on_another_machine_is_never_used_without_an_explicit_setting(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert is_local("http://127.0.0.1:11434") and is_local("localhost:11434") and is_local("http://[::1]:1")
    assert not is_local("http://10.1.2.3:11434") and not is_local("http://example.invalid:11434")
    monkeypatch.setenv("OLLAMA_HOST", "http://10.1.2.3:11434")
    settings = config.Settings()
    assert choose_backend(settings) == "embedded"  # not even probed
    result = voice_app(isolated_home, "doctor", "--json", OLLAMA_HOST="http://10.1.2.3:11434")
    report = json.loads(result.stdout)
    assert report["ollama"]["ok"] is False and "another machine" in report["ollama"]["detail"]
    assert "llm.allow_remote" in report["ollama"]["fix"]
    chat = voice_app(
        isolated_home, "chat", "demo", "--once", "hi", "--backend", "ollama", OLLAMA_HOST="http://10.1.2.3:11434"
    )
    assert chat.returncode == 2 and "not on this machine" in chat.stderr and "allow_remote" in chat.stderr


def _telegram(path: Path, count: int) -> Path:
    messages = [
        {
            "id": i,
            "type": "message",
            "date": f"2024-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00",
            "from": "Alex" if i % 2 else "Sam",
            "from_id": "user1" if i % 2 else "user2",
            "date_unixtime": str(1709287200 + i),  # what Telegram Desktop writes beside each message
            "text": f"message {i} about the lake, the boat and the long drive home",
            "text_entities": [
                {"type": "plain", "text": f"message {i} about the lake, the boat and the long drive home"}
            ],
            **({"reply_to_message_id": i - 1} if i % 7 == 0 and i else {}),
        }
        for i in range(count)
    ]
    path.write_text(
        json.dumps({"name": "Alex", "type": "personal_chat", "id": 9, "messages": messages}, separators=(",", ":")),
        encoding="utf-8",
    )
    return path


def test_a_large_telegram_export_is_streamed_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voice_app import chatlog
    from voice_app.chatlog import source, telegram
    from voice_app.core.errors import CorruptExportError

    path = _telegram(tmp_path / "result.json", 3000)
    whole = chatlog.load(path)
    monkeypatch.setattr(telegram, "STREAM_JSON_BYTES", 1000)
    monkeypatch.setattr(source, "CHUNK_BYTES", 4096)  # many chunk boundaries inside elements
    streamed = chatlog.load(path)
    assert [(m.timestamp, m.sender, m.text, m.reply_to) for m in streamed.messages] == [
        (m.timestamp, m.sender, m.text, m.reply_to) for m in whole.messages
    ]
    assert streamed.title == whole.title == "Alex"
    broken = tmp_path / "broken" / "result.json"
    broken.parent.mkdir()
    data = path.read_text(encoding="utf-8")
    cut = data.index("},{", len(data) // 2) + 2  # between two messages
    broken.write_text(data[:cut] + "}}}garbage," + data[cut:], encoding="utf-8")
    with pytest.raises(CorruptExportError):
        chatlog.load(broken)


def test_importing_a_large_telegram_export_needs_at_most_twice_its_size_in_memory(tmp_path: Path) -> None:
    path = _telegram(tmp_path / "result.json", 400_000)  # ~60 MB, streamed
    probe = (  # VmHWM: this process's own peak (ru_maxrss would carry pytest's over the exec)
        "import re, sys; from voice_app import chatlog;"
        " hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1));"
        " base = hwm(); c = chatlog.load(sys.argv[1]); print(len(c.messages), base, hwm())"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    count, base_kb, peak_kb = map(int, out.stdout.split())
    assert count == 400_000
    assert (peak_kb - base_kb) * 1024 <= 2 * path.stat().st_size, (peak_kb - base_kb, path.stat().st_size)
