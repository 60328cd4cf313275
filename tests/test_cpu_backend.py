"""llama.cpp's CPU code: the build carries a variant per x86-64 level; the best one that runs here is loaded."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from voice_app.core import assets
from voice_app.core.errors import ModelLoadError
from voice_app.llm import cpu_backend

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="setup.sh builds the variants on x86-64")

CHILD = """
import json, sys
from pathlib import Path
from voice_app.llm.cpu_backend import ensure_loaded
cpu = ensure_loaded(model=Path(sys.argv[1]))
print(json.dumps({"variant": cpu.variant, "score": cpu.score, "skipped": list(cpu.skipped)}))
"""


def found() -> dict[str, Path]:
    return cpu_backend.variants(cpu_backend.variant_dirs(cpu_backend.lib_dir()))


def ranked() -> list[str]:
    scores = {name: cpu_backend.score(path) for name, path in found().items()}
    return [name for name in sorted(scores, key=lambda n: -scores[n]) if scores[name] > 0]


def load_in_child(env: dict[str, str] | None = None) -> dict[str, object]:
    gguf = assets.resolve("llm").path
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(gguf)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_build_carries_a_variant_for_every_x86_level() -> None:
    names = set(found())
    assert {"x64", "sse42", "haswell", "skylakex", "icelake", "zen4", "sapphirerapids"} <= names
    assert "haswell" in ranked()  # every machine this runs on has AVX2


def test_the_model_runs_on_the_best_ranked_variant_that_computes_here() -> None:
    result = load_in_child()
    order = ranked()
    assert result["variant"] in order
    # Everything ranked above the chosen one was tried and crashed on this machine (remembered as such).
    assert result["skipped"] == order[: order.index(str(result["variant"]))]
    verdicts = json.loads(cpu_backend.verdicts_path().read_text())
    for name in result["skipped"]:  # type: ignore[union-attr]
        assert verdicts[f"{cpu_backend.machine_key(found()[name])}:{name}"] is False


def test_a_variant_that_crashed_here_before_is_passed_over_for_the_next(tmp_path: Path) -> None:
    order = ranked()
    first, second = order[0], order[1]
    verdicts = {
        f"{cpu_backend.machine_key(found()[first])}:{first}": False,
        f"{cpu_backend.machine_key(found()[second])}:{second}": True,
    }
    (tmp_path / "llama-cpu-variants.json").write_text(json.dumps(verdicts))
    result = load_in_child({"VOICE_APP_CACHE": str(tmp_path)})
    assert result == {"variant": second, "score": cpu_backend.score(found()[second]), "skipped": [first]}


def cut_model(folder: Path) -> Path:
    """The first megabyte of the shipped model: a GGUF llama.cpp cannot read, whatever the CPU."""
    broken = folder / "cut.gguf"
    with assets.resolve("llm").path.open("rb") as source:
        broken.write_bytes(source.read(1 << 20))
    return broken


def test_a_probe_tells_a_variant_that_computes_from_one_that_dies_and_a_model_it_cannot_read(tmp_path: Path) -> None:
    gguf = assets.resolve("llm").path
    assert cpu_backend.probe("haswell", gguf) is True
    # A child that dies of SIGILL, as the AMX variant did on a Sapphire Rapids VM: it does not run here.
    dies = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]
    assert cpu_backend.probe("sapphirerapids", gguf, dies) is False
    # A model llama.cpp cannot read fails on every variant: the probe cannot tell, and says so.
    assert cpu_backend.probe("haswell", cut_model(tmp_path)) is None


def test_a_variant_named_in_the_settings_is_loaded_as_named() -> None:
    result = load_in_child({cpu_backend.ENV: "haswell"})
    assert result == {"variant": "haswell", "score": cpu_backend.score(found()["haswell"]), "skipped": []}


def test_an_unknown_variant_name_is_refused_with_the_names_that_exist() -> None:
    with pytest.raises(ModelLoadError) as error:
        cpu_backend._load("pentium4", None)
    assert "pentium4" in error.value.message
    assert "haswell" in error.value.fix and "llm.cpu_variant" in error.value.fix


def test_a_model_llama_cpp_cannot_read_is_reported_as_the_model_not_as_the_cpu(tmp_path: Path) -> None:
    broken = cut_model(tmp_path)
    child = (
        "import sys\n"
        "from pathlib import Path\n"
        "from voice_app.core.errors import ModelLoadError\n"
        "from voice_app.llm.embedded import EmbeddedChat\n"
        "try:\n"
        "    EmbeddedChat(Path(sys.argv[1]))\n"
        "except ModelLoadError as exc:\n"
        "    print(exc.message)\n"
    )
    cache = tmp_path / "cache"  # no verdicts yet: the variants are probed with this model
    done = subprocess.run(
        [sys.executable, "-c", child, str(broken)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "VOICE_APP_CACHE": str(cache)},
        check=True,
    )
    assert f"could not load {broken}" in done.stdout
    assert not (cache / "llama-cpu-variants.json").exists()  # nothing was learnt about the CPU
