"""Loads the llama.cpp CPU backend built for this processor, where llama-cpp-python carries every variant.

`scripts/setup.sh` builds llama.cpp once with `GGML_BACKEND_DL` and `GGML_CPU_ALL_VARIANTS`: one
`libggml-cpu-<variant>.so` per x86-64 level (sse42, haswell = AVX2, skylakex/icelake/zen4 = AVX-512,
sapphirerapids = AVX-512 + AMX…). The same build then runs at the speed of whatever CPU the machine
has, as llama.cpp's own releases do. llama.cpp looks for them beside the program (python) and in the
current folder only, and llama-cpp-python does not load them itself, so this does, once per process,
before the first model.

llama.cpp ranks the variants by the instructions the CPU reports. A virtual machine can report
instructions it cannot run: a 2-vCPU Sapphire Rapids VM reports AMX, grants it to the process, and
then faults on the first tile instruction (SIGILL). So `auto` tries the best-ranked variant in a child
process (the model loaded and a few tokens computed, ~2 s), falls back to the next when the child
dies of a signal, and remembers the verdicts per CPU and build in the cache folder. `llm.cpu_variant` (or
`VOICE_APP_CPU_VARIANT`) names one instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from voice_app.core import config
from voice_app.core.errors import DataDirError, ModelLoadError
from voice_app.core.files import write_private

PREFIX = "libggml-cpu-"
ENV = "VOICE_APP_CPU_VARIANT"
PROBE_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class CpuBackend:
    """Which llama.cpp CPU code runs the model."""

    variant: str  # "zen4", "haswell"…; "built-in" for a build with one CPU backend linked in
    score: int  # llama.cpp's ranking of the variant on this CPU (0 for built-in)
    available: tuple[str, ...]  # every variant the build has
    skipped: tuple[str, ...] = ()  # better-ranked variants that crashed on this machine


_lock = threading.Lock()
_loaded: CpuBackend | None = None


def lib_dir() -> Path:
    import llama_cpp

    return Path(llama_cpp.__file__).parent / "lib"


def variant_dirs(lib: Path) -> list[Path]:
    """Where a build's variants are: llama-cpp-python's CMake installs these module libraries as
    programs, into `bin/` beside the `llama_cpp` package, not into `llama_cpp/lib`."""
    return [lib, lib.parent.parent / "bin"]


def variants(folders: list[Path]) -> dict[str, Path]:
    """The CPU variants a build carries, by name (the first folder holding a name wins)."""
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob(f"{PREFIX}*.so")):
            found.setdefault(path.name[len(PREFIX) : -len(".so")], path)
    return found


def score(path: Path) -> int:
    """llama.cpp's score of one variant on this CPU (0: it needs an instruction this CPU lacks)."""
    library = ctypes.CDLL(str(path))
    function = library.ggml_backend_score
    function.restype = ctypes.c_int
    return int(function())


def ensure_loaded(choice: str | None = None, model: Path | None = None) -> CpuBackend:
    """Load the CPU backend once per process (later calls return the first result).

    `choice`: "auto" (or None: `VOICE_APP_CPU_VARIANT`, else auto) picks the best variant that runs
    here, tried with `model` (a GGUF file); a variant's name loads that one.
    """
    global _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        if choice in (None, "", "auto"):
            choice = os.environ.get(ENV) or "auto"
        _loaded = _load(choice, model)
        return _loaded


def _ggml() -> ctypes.CDLL:
    # The file libllama itself loads (by soname): a wheel holds copies, not links, of libggml.so*, and
    # another copy would be another library, whose backends llama.cpp would never see.
    folder = lib_dir()
    path = next(p for p in (folder / "libggml.so.0", folder / "libggml.so") if p.exists())
    ggml = ctypes.CDLL(str(path))
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    return ggml


def _load(choice: str, model: Path | None) -> CpuBackend:
    found = variants(variant_dirs(lib_dir()))
    if not found:
        return CpuBackend("built-in", 0, ())  # a build with its one CPU backend linked in
    if choice != "auto" and choice not in found:
        raise ModelLoadError(
            f"llama.cpp has no CPU variant named {choice!r}.",
            fix=f"Use one of: auto, {', '.join(found)} (`voice-app config set llm.cpu_variant …`).",
        )
    ggml = _ggml()
    if ggml.ggml_backend_reg_count() > 0:
        return CpuBackend("loaded before", 0, tuple(found))  # by whoever imported llama.cpp first
    skipped: list[str] = []
    if choice == "auto":
        scores = {name: score(path) for name, path in found.items()}
        ranked = [name for name in sorted(scores, key=lambda n: -scores[n]) if scores[name] > 0]
        best = None
        for name in ranked:
            if model is None or runs_here(name, found[name], model):
                best = name
                break
            skipped.append(name)
        if best is None:
            raise ModelLoadError(
                "None of llama.cpp's CPU variants runs on this processor.",
                fix="Rebuild llama-cpp-python for this machine: re-run scripts/setup.sh.",
            )
        chosen_score = scores[best]
    else:
        best, chosen_score = choice, score(found[choice])
    if not ggml.ggml_backend_load(str(found[best]).encode()):
        raise ModelLoadError(
            f"llama.cpp could not load its CPU variant {best}.",
            fix=f"Pick another: `voice-app config set llm.cpu_variant haswell` (or {ENV}=haswell).",
        )
    return CpuBackend(best, chosen_score, tuple(found), tuple(skipped))


# --- does a variant run here? -------------------------------------------------------------------


def machine_key(library: Path) -> str:
    """The CPU (as the kernel reports its instructions) and the build: a verdict holds for both."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = ""
    stat = library.stat()
    return hashlib.sha256(f"{flags}|{library}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def verdicts_path() -> Path:
    return config.cache_dir() / "llama-cpu-variants.json"


def runs_here(name: str, library: Path, model: Path) -> bool:
    """Whether a variant computes without crashing on this machine (remembered once known)."""
    key = f"{machine_key(library)}:{name}"
    path = verdicts_path()
    try:
        verdicts = json.loads(path.read_text())
    except (OSError, ValueError):
        verdicts = {}
    if key in verdicts:
        return bool(verdicts[key])
    verdict = probe(name, model)
    if verdict is None:  # the child could not tell (a model it cannot read, a timeout): not remembered
        return True
    verdicts[key] = verdict
    with contextlib.suppress(DataDirError):  # not remembered: tried again next time
        write_private(path, json.dumps(verdicts, indent=1).encode())
    return verdict


def probe(name: str, model: Path, command: list[str] | None = None) -> bool | None:
    """True: the variant computed; False: the child died of a signal (an instruction this machine
    cannot run); None: it could not tell. A model llama.cpp cannot read fails the same way on every
    variant, and the model's own load then says so; that is not the CPU's doing."""
    command = command or [sys.executable, "-m", "voice_app.llm.cpu_backend", name, str(model)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode < 0:
        return False
    return True if done.returncode == 0 else None


def _compute(name: str, model: Path) -> None:
    """In a child process: load the variant and the model as a conversation does, read and write a few tokens."""
    from llama_cpp import Llama

    ensure_loaded(name)
    llm = Llama(model_path=str(model), n_ctx=128, n_batch=32, n_threads=2, verbose=False)
    tokens = llm.tokenize(b"Do you remember the lake house we rented that summer?")
    llm.eval(tokens)  # a batch, as a prompt is read
    for _ in range(2):  # single tokens, as a reply is written
        llm.eval([llm.sample()])


if __name__ == "__main__":
    _compute(sys.argv[1], Path(sys.argv[2]))
