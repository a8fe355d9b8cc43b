"""Run the emulator on its own thread and event loop, as a remote exchange would be.

The demo (and anyone scripting against the emulator from synchronous code) uses this so the
bot's event loop and the exchange's never share a scheduler.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from bot.emulator.app import start_emulator
from bot.emulator.state import EmulatorState


class BackgroundEmulator:
    """``with BackgroundEmulator(state) as emu: emu.base_url``; stops cleanly on exit."""

    def __init__(self, state: EmulatorState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.host = host
        self.port = port
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="derivbot-emulator", daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._runner, self.base_url = loop.run_until_complete(start_emulator(self.state, self.host, self.port))
        except BaseException as exc:  # surfaced to the caller of start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def start(self, timeout: float = 10.0) -> str:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the emulator did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the emulator failed to start: {self._error}") from self._error
        return self.base_url

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
