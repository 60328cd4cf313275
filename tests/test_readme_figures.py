"""The benchmark figures the README and docs/PERFORMANCE.md quote are the ones in scripts/results (rerun a
benchmark, update both)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# The README quotes the headline figures; the measurements behind them are in docs/PERFORMANCE.md.
DOCS = README + "\n" + (ROOT / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8")


def result(name: str) -> dict:
    return json.loads((ROOT / "scripts" / "results" / name).read_text(encoding="utf-8"))


def test_fidelity_figures() -> None:
    data = result("fidelity_chitchat.json")
    a = data["attribution"]
    assert data["command"].removeprefix("python ") in README.replace("\n", " ")
    for key in ("ceiling_real", "simulated", "simulated_without_style_adapter", "baseline_no_persona"):
        assert f"{a[key] * 100:.1f}%" in README, key
    assert f"{a['ratio_to_ceiling']:.2f}× the ceiling and {a['ratio_to_baseline']:.2f}× the baseline" in README
    assert f"{a['replies_per_set']} replies per set" in README


def test_latency_figures() -> None:
    for name in ("bench_latency.json", "bench_latency_hands_free.json"):  # the current runs, in the README
        data = result(name)
        assert data["command"].removeprefix(".venv/bin/") in README, name
        assert f"**{data['v2v_p50_s']:.2f} s**" in README, name
        assert f"**{data['v2v_p95_s']:.2f} s**" in README, name
        assert f"{data['speedup']:.1f}×" in README, name
        assert f"{data['raw_prompt_tok_s']} / {data['raw_gen_tok_s']}" in README, name
        assert f"{data['pipeline_prompt_tok_s']} / {data['pipeline_gen_tok_s']}" in README, name
    for name in ("bench_latency_tenth_run1.json", "bench_latency_base.json"):  # and beside them
        data = result(name)
        assert data["command"].removeprefix(".venv/bin/") in DOCS or f"`{name}`" in DOCS, name
        assert f"{data['v2v_p50_s']:.2f} s" in DOCS and f"{data['v2v_p95_s']:.2f} s" in DOCS, name
        assert f"{data['speedup']:.1f}×" in DOCS, name
    for name in ("bench_latency.json", "bench_latency_tenth_run1.json", "bench_latency_hands_free.json"):
        data = result(name)
        row = f"{data['pipeline_prompt_tok_s']} / {data['pipeline_gen_tok_s']}"
        assert row in DOCS and f"{data['gen_speed_ratio']:.2f}×" in DOCS, name


def test_typed_and_startup_figures() -> None:
    data = result("bench_typed.json")
    text = README.replace("\n", " ")
    assert data["command"].removeprefix(".venv/bin/") in text.replace("--json ", "--json ")
    for key in ("typed_first_words_p50_s", "chat_once_first_s", "chat_once_cached_s", "talk_ready_cached_s"):
        assert f"**{data[key]:.2f} s**" in README or f"**{data[key]:.1f} s**" in README, key


def test_stt_window_figures() -> None:
    data = result("bench_stt.json")["results"]
    for key in ("whisper-base/standard", "whisper-base/fitted", "whisper-tiny.en/standard", "whisper-tiny.en/fitted"):
        assert f"{data[key]['wer'] * 100:.1f}%" in DOCS, key
        assert f"{data[key]['seconds_mean']:.2f} s" in DOCS, key


def test_import_speed_figures() -> None:
    data = result("bench_import.json")
    assert f"**{data['speed_ratio']:.1f}×**" in README
    assert f"{round(data['ours']['msgs_per_s']):,}" in README and f"{round(data['theirs']['msgs_per_s']):,}" in README


def test_endpoint_figures() -> None:
    data = result("bench_endpoint.json")
    assert data["command"].removeprefix("scripts/") in DOCS
    runs = data["by_sentence_end_ms"]
    for setting in ("250", "600"):
        run = runs[setting]
        assert f"**{run['split']} of {run['pause_lines']}**" in DOCS, setting
        assert f"{run['finished_delay_p50_s']:.2f} / {run['finished_delay_p95_s']:.2f} s" in DOCS, setting
    pause = result("bench_endpoint_pause.json")
    assert pause["command"].removeprefix("scripts/") in DOCS
    for setting, run in pause["by_pause_ms"].items():
        row = f"{run['settle_delay_p50_s']:.2f} / {run['settle_delay_p95_s']:.2f} s"
        mid = f"{run['mid_line_settles_one_breath']} / {run['mid_line_settles_two_breaths']}"
        assert f"| {setting} " in DOCS and row in DOCS and mid in DOCS, setting


def test_early_pass_figures() -> None:
    """The pass at the pause (before) and at the first silent window (now), on the same clips."""
    for name in ("bench_endpoint_pass_at_pause.json", "bench_endpoint_pass_at_silence.json"):
        data = result(name)
        run, turns = data["by_pause_ms"]["96"], data["by_sentence_end_ms"]["600"]
        row = (
            f"{run['kept_settle_delay_p50_s']:.2f} / {run['kept_settle_delay_p95_s']:.2f} s"
            f" | {run['dropped_settles_one_breath']} / {run['dropped_settles_two_breaths']}"
            f" | {turns['word_error_rate'] * 100:.1f}%"
        )
        assert row in DOCS, name
        assert run["kept_settles"] == run["lines"] == 48, name  # every line's last settle had its words
    assert result("bench_endpoint_pass_at_silence.json")["command"].removeprefix("scripts/") in DOCS


def test_contention_figures() -> None:
    data = result("bench_contention.json")
    text = " ".join(DOCS.split())
    assert data["command"].removeprefix(".venv/bin/") in text
    assert f"{data['alone_2_threads_tok_s']} tokens/s on two threads and {data['alone_1_threads_tok_s']} on one" in text
    assert f"{data['typed_no_voice_tok_s']} tokens/s" in text and f"{data['typed_with_voice_tok_s']} (" in text


def test_reply_screen_figures() -> None:
    care = " ".join((ROOT / "docs" / "CARE.md").read_text(encoding="utf-8").split())
    for name in ("bench_reply_screen.json", "bench_reply_screen_before.json"):
        data = result(name)
        assert f"**{data['stopped']} of {data['replies']}** were stopped" in care or (
            f"**{data['stopped']} of {data['replies']}** ({data['stopped_rate'] * 100:.1f}%)" in care
        ), name
    assert result("bench_reply_screen.json")["command"].removeprefix(".venv/bin/") in care
