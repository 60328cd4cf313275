"""Every llama.cpp call of a model on one thread, and a clean exit while it still computes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from voice_app.llm.model_thread import ModelThread


def test_jobs_run_in_order_on_one_thread_and_raise_in_the_caller() -> None:
    worker = ModelThread(name="test")
    try:
        seen: list[tuple[int, str]] = []
        futures = [worker.submit(lambda i=i: seen.append((i, threading.current_thread().name))) for i in range(5)]
        for future in futures:
            future.result(5)
        assert [i for i, _ in seen] == list(range(5)) and {name for _, name in seen} == {"test"}
        with pytest.raises(ZeroDivisionError):
            worker.call(lambda: 1 / 0)
        assert worker.call(lambda: worker.call(lambda: 7)) == 7  # a job may call back in without waiting on itself
    finally:
        worker.stop()


def test_after_stop_a_job_runs_on_the_callers_thread_instead_of_waiting_forever() -> None:
    worker = ModelThread(name="test")
    worker.stop()
    assert worker.call(threading.current_thread) is threading.current_thread()


@pytest.mark.slow
def test_the_process_exits_cleanly_while_the_model_reads_ahead() -> None:
    """A prefill still running on the model's thread when the program ends: no crash, no hang."""
    script = textwrap.dedent(
        """
        import threading
        from voice_app.core import assets
        from voice_app.llm.embedded import EmbeddedChat

        model = EmbeddedChat(assets.resolve("llm").path, context_size=2048)
        long = [{"role": "user", "content": "tell me about the lake house " * 120}]
        started = threading.Event()
        threading.Thread(target=lambda: (started.set(), model.prefill(long, chunk=32)), daemon=True).start()
        started.wait()
        import time; time.sleep(1.0)  # mid-prefill
        print("leaving", flush=True)
        """
    )
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "leaving" in done.stdout and time.monotonic() - start < 100
