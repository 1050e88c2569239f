"""Thread workers: the model never runs on the GUI thread.

- :class:`PredictionRunner` runs ``session.compute(prompt)`` in a napari thread worker. Requests
  that arrive while one runs are coalesced (only the newest is run next), and results whose token
  is stale (the user cleared the object or moved to another slice meanwhile) are dropped.
- :func:`start_worker` runs any function or generator off the GUI thread with callbacks, used for
  weights loading and slice propagation (generator: ``yielded`` per step, abortable).
- :func:`walker_pool` is one spare process for the random walker's solve: a thread worker that
  runs a long GIL-holding C call (sparse matrix build, ``astype``) stalls the event loop for its
  whole length (measured 450 ms during propagation on a loaded 2-core machine); in another
  process it cannot.

Callbacks run on the main thread (Qt signals), so they may touch layers.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from napari.qt.threading import create_worker

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from napari.qt.threading import WorkerBase

    from napari_iog.inference.interface import PromptPredictor
    from napari_iog.inference.session import InteractionSession
    from napari_iog.structures import MaskResult, Prompt


class _Failed:
    """An exception caught in the worker, delivered to ``on_error`` on the main thread (so it
    becomes one clear notification instead of napari's generic traceback dialog)."""

    def __init__(self, exc: BaseException):
        self.exc = exc


def _safe_call(func, *args):
    try:
        return func(*args)
    except Exception as exc:  # noqa: BLE001 - reported through on_error
        return _Failed(exc)


def _safe_gen(func, *args):
    try:
        return (yield from func(*args))
    except Exception as exc:  # noqa: BLE001
        yield _Failed(exc)


_RUNNING: set = set()  # workers started by start_worker that have not finished


def start_worker(
    func: Callable[..., Any],
    *args: Any,
    on_returned: Callable[[Any], object] | None = None,
    on_yielded: Callable[[Any], object] | None = None,
    on_error: Callable[[BaseException], object] | None = None,
    on_finished: Callable[[], object] | None = None,
) -> WorkerBase:
    """Start ``func(*args)`` in a napari thread worker and return the worker. A generator
    function gives a generator worker (``on_yielded`` per item). Exceptions raised by ``func``
    go to ``on_error(exc)`` (main thread), never to napari's error dialog."""
    is_gen = inspect.isgeneratorfunction(func)
    report = on_error or (lambda exc: None)

    def returned(value):
        if isinstance(value, _Failed):
            report(value.exc)
        elif on_returned is not None:
            on_returned(value)

    def yielded(value):
        if isinstance(value, _Failed):
            report(value.exc)
        elif on_yielded is not None:
            on_yielded(value)

    worker = create_worker(_safe_gen if is_gen else _safe_call, func, *args, _start_thread=False)
    worker.returned.connect(returned)
    if is_gen:
        worker.yielded.connect(yielded)
    if on_finished is not None:
        worker.finished.connect(on_finished)
    # keep the worker (and its Qt signals) alive until it ends, even when the widget that
    # started it is closed first: a worker emitting through deleted signals aborts the process
    _RUNNING.add(worker)
    worker.finished.connect(lambda w=worker: _RUNNING.discard(w))
    worker.start()
    return worker


_POOL: list = []


@contextlib.contextmanager
def _main_hidden():
    """Spawned children re-import ``__main__`` (re-running a script without a ``__name__``
    guard); hide it while the process starts: the walk needs nothing from it."""
    main = sys.modules["__main__"]
    saved = {k: main.__dict__.pop(k) for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def walker_pool() -> ProcessPoolExecutor:
    """The process pool (1 process, spawned on first use) that random-walker predictors used
    by the annotator solve in (a new one if the last one's process died); shut down when
    Python exits."""
    if _POOL and getattr(_POOL[0], "_broken", False):
        _POOL.clear()
    if not _POOL:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        with _main_hidden():  # the child needs only this package, not the caller's script
            pool.submit(int)  # starts the process now, not on the first prediction
        atexit.register(pool.shutdown, wait=False, cancel_futures=True)
        _POOL.append(pool)
    return _POOL[0]


def offload_walker(predictor: PromptPredictor | None) -> None:
    """Make a random-walker ``predictor`` solve in :func:`walker_pool` (others unchanged)."""
    from napari_iog.inference.classical import RandomWalkerPredictor

    if isinstance(predictor, RandomWalkerPredictor) and predictor.executor is None:
        predictor.executor = walker_pool()


class PredictionRunner:
    """Run predictions for a session one at a time, newest request wins.

    ``on_result(prompt, result, token)`` and ``on_error(exc)`` are called on the main thread.
    """

    def __init__(
        self,
        session: InteractionSession,
        on_result: Callable[[Prompt, MaskResult, int], object],
        on_error: Callable[[BaseException], object],
    ):
        self.session = session
        self._on_result = on_result
        self._on_error = on_error
        self._worker = None
        self._pending = None
        self._idle = threading.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        return self._worker is not None or self._pending is not None

    def request(self, prompt: Prompt, token: int) -> None:
        """Ask for ``prompt`` to be computed; ``token`` travels back to ``on_result``."""
        if self._worker is not None:
            self._pending = (prompt, token)
            return
        self._launch(prompt, token)

    def cancel_pending(self) -> None:
        self._pending = None

    def _launch(self, prompt, token) -> None:
        self._idle.clear()

        def done(result, prompt=prompt, token=token):
            self._on_result(prompt, result, token)

        self._worker = start_worker(
            self.session.compute,
            prompt,
            on_returned=done,
            on_error=self._on_error,
            on_finished=self._next,
        )

    def _next(self) -> None:
        self._worker = None
        if self._pending is not None:
            prompt, token = self._pending
            self._pending = None
            self._launch(prompt, token)
        else:
            self._idle.set()
