"""Fidelity evaluation: split, classifier, distances, seeded determinism; one run on the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.persona.fakes import EchoModel
from voice_app.conversation.importing import ensure_demo
from voice_app.core.records import StoredMessage
from voice_app.evaluation import attribution, fidelity
from voice_app.persona.adapt import adapt_reply
from voice_app.storage.store import Store


@pytest.fixture(autouse=True)
def fewer_embedded_exchanges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retrieval by meaning stays on (the app's path), over each speaker's latest 100 exchanges: a short run."""
    monkeypatch.setattr(fidelity, "EVAL_EMBED_LIMIT", 100)


def conv(number: int, lines: list[tuple[bool, str]]) -> list[StoredMessage]:
    return [
        StoredMessage(number * 100 + i, f"2023-01-{number + 1:02d}T10:{i:02d}:00", "", them, "text", text, number)
        for i, (them, text) in enumerate(lines)
    ]


def test_split_holds_out_the_later_fifth() -> None:
    convs = [conv(n, [(False, "hi"), (True, "hey")]) for n in range(10)]
    train, test = fidelity.split_conversations(list(reversed(convs)))
    assert [c[0].conversation_id for c in train] == list(range(8))
    assert [c[0].conversation_id for c in test] == [8, 9]
    assert fidelity.split_conversations(convs[:2]) == (convs[:1], convs[1:2])


def test_contexts_pair_the_history_before_each_reply() -> None:
    c = conv(0, [(True, "yo"), (False, "hi"), (True, "hey"), (True, "sup"), (False, "how was it?"), (True, "good")])
    contexts = fidelity.contexts_of(c)
    assert [(x.line, x.real) for x in contexts] == [("hi", "hey\nsup"), ("how was it?", "good")]
    assert contexts[1].history == [("hi", "hey\nsup")]
    assert contexts[0].history == []  # a leading reply without its question is dropped


def test_classifier_attributes_by_character_habits() -> None:
    docs = {
        "loud": ["OMG YES!!!", "NO WAY!!", "THAT IS AMAZING!!!", "LOL OK!!"] * 5,
        "quiet": ["hmm ok... i guess", "maybe later...", "idk... sure", "fine i think..."] * 5,
        "zh": ["哈哈哈好的", "吃了吗", "我在家呢哈哈", "好呀"] * 5,
    }
    clf = attribution.CharNGramClassifier().fit(docs)
    assert clf.predict("WHAT!! NO!!") == "loud"
    assert clf.predict("ok... later i guess") == "quiet"
    assert clf.predict("哈哈你呢") == "zh"
    assert clf.rank("哈哈你呢", "zh") == 1 and clf.rank("哈哈你呢", "loud") > 1


def test_style_distance_is_zero_for_the_same_replies() -> None:
    replies = ["haha yeah\nsee you 😂", "ok.", "What?"]
    assert set(attribution.style_distance(replies, replies).values()) == {0.0}
    far = attribution.style_distance(["I completely understand how you feel. It is important to talk."], replies)
    assert far["length_log_ratio"] > 1 and far["vocabulary_cosine_distance"] > 0.8


def test_chitchat_eval_is_seeded_and_reproducible(tmp_path: Path) -> None:
    first = fidelity.run_chitchat(EchoModel(), speakers=3, contexts=2, seed=7)
    second = fidelity.run_chitchat(EchoModel(), speakers=3, contexts=2, seed=7)
    for result in (first, second):
        result.pop("seconds")
    assert first == second
    assert first["attribution"]["candidates"] == 3 and first["attribution"]["replies_per_set"] == 6
    assert {s["speaker"] for s in first["per_speaker"]} == {s["speaker"] for s in second["per_speaker"]}
    other = fidelity.run_chitchat(EchoModel(), speakers=3, contexts=2, seed=8)
    assert [s["speaker"] for s in other["per_speaker"]] != [s["speaker"] for s in first["per_speaker"]]
    fidelity.write_result(first, tmp_path / "out" / "r.json")
    assert json.loads((tmp_path / "out" / "r.json").read_text())["attribution"] == first["attribution"]


def test_ablation_runs_leave_one_part_of_the_persona_out_and_generate_no_baseline() -> None:
    full_model = EchoModel()
    full = fidelity.run_chitchat(full_model, speakers=3, contexts=2, seed=7)
    neutral_system = fidelity.neutral_prompt(fidelity.CHITCHAT_THEM, fidelity.CHITCHAT_ME).system
    assert any(call[0]["content"] == neutral_system for call in full_model.calls)  # the full run has a baseline
    assert any(s["memories_used"] for s in full["samples"])
    for ablation in ("retrieval", "meaning", "examples"):
        model = EchoModel()
        result = fidelity.run_chitchat(model, speakers=3, contexts=2, seed=7, ablation=ablation)
        assert result["ablation"] == ablation and result["ablation_means"] == fidelity.ABLATIONS[ablation]
        assert (
            result["attribution"]["baseline_no_persona"] is None and result["attribution"]["ratio_to_baseline"] is None
        )
        neutral = fidelity.neutral_prompt(fidelity.CHITCHAT_THEM, fidelity.CHITCHAT_ME).system
        assert model.calls and not any(call[0]["content"] == neutral for call in model.calls)  # persona only
        assert result["attribution"]["ceiling_real"] == full["attribution"]["ceiling_real"]  # the same people, lines
        if ablation == "retrieval":
            assert not any(s["memories_used"] for s in result["samples"])
    with pytest.raises(fidelity.EvalError):
        fidelity.run_chitchat(EchoModel(), speakers=3, contexts=2, seed=7, ablation="style")
    targets, _ = fidelity.chitchat_targets(3, 2, seed=7)
    prompt = targets[0].prompt
    assert prompt.examples and prompt.memory is not None
    assert fidelity.ablated(prompt, "examples").prefix == prompt.prefix[:1]  # the system message alone
    assert fidelity.ablated(prompt, "retrieval").recall("do you remember that trip?") == []


def test_persona_eval_uses_the_user_and_distractors_as_candidates(store: Store) -> None:
    ensure_demo(store)
    model = EchoModel()
    result = fidelity.run_persona(store, "demo", model, contexts=3, seed=0, distractors=2)
    assert result["attribution"]["candidates"] == 4  # Alex, Sam (you), two chitchat speakers
    assert result["per_speaker"][0]["speaker"] == "Alex" and result["per_speaker"][0]["contexts"] == 3
    assert len(model.calls) == 6  # three persona replies, three baseline replies


@pytest.mark.slow
def test_real_model_eval_is_deterministic() -> None:
    model = fidelity.open_eval_model()
    targets, candidates = fidelity.chitchat_targets(3, 1, seed=0)
    runs = [fidelity.evaluate(targets[:1], candidates, model, seed=0, max_tokens=12) for _ in range(2)]
    for run in runs:
        run.pop("seconds")
    assert runs[0] == runs[1]
    sample = runs[0]["samples"][0]
    assert sample["simulated"].strip() and sample["baseline"].strip()
    # The simulated reply is what the app would show: the model's text through the person's style adapter.
    assert sample["simulated"] == adapt_reply(sample["simulated_unadapted"], targets[0].prompt.style)
    assert 0 <= runs[0]["attribution"]["simulated_without_style_adapter"] <= 1
    assert runs[0]["generation"] == {
        "backend": "embedded",
        "model": runs[0]["generation"]["model"],
        "temperature": 0.0,
        "max_tokens": 12,
        "seed": 0,
    }


def test_eval_report_shows_ceiling_adapter_and_baseline() -> None:
    from voice_app.cli.persona import render_eval

    result = fidelity.run_chitchat(EchoModel(), speakers=3, contexts=2, seed=7)
    text = render_eval(result)
    a = result["attribution"]
    assert f"real held-out replies (ceiling) {a['ceiling_real']:.0%}" in text
    assert f"the same before the style adapter {a['simulated_without_style_adapter']:.0%}" in text
    assert "before the adapter | baseline" in text and "length_log_ratio" in text
