"""The dask side of a harvest run: the cluster, the sliding window of image tasks, and worker
failures turned into per-image results.

One dask task per image; at most ``4 x workers`` images are in flight, so client memory stays
bounded for any number of images. Each finished result is handed to ``persist`` (the client
writes it at once) before the next image is submitted. A worker that dies is replaced by dask
and its image re-run elsewhere; an image whose worker dies repeatedly (dask's
``allowed-failures``) comes back as ``failed: worker died``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from napari_iog.harvest.config import HarvestConfig, HarvestConfigError
from napari_iog.harvest.plan import ImageTask
from napari_iog.harvest.task import image_failure

if TYPE_CHECKING:
    from distributed import Client

_Event = TypeVar("_Event")


def default_workers(config: HarvestConfig) -> int:
    """Local cluster size: one single-threaded worker per CPU core, or ONE worker when the model
    runs on a GPU (workers of a LocalCluster would all share the same device)."""
    from napari_iog.devices import resolve_device

    device = str(resolve_device(config.device))
    if device.startswith(("cuda", "mps")):
        return 1
    return max(1, os.cpu_count() or 1)


def _open_client(scheduler: str | None, n_workers: int | None, config: HarvestConfig):
    from napari_iog.extras import require

    require("distributed", "Harvesting on dask (napari-iog harvest --workers/--scheduler)")
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as err:
            raise HarvestConfigError(
                f"Cannot reach the dask scheduler at {scheduler!r} ({err}). Start one "
                "(`dask scheduler` + `dask worker ADDRESS`) or leave --scheduler out for a local cluster."
            ) from None
    cluster = LocalCluster(
        n_workers=n_workers or default_workers(config),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    return Client(cluster), cluster


def _dask_failure(task: ImageTask, err: BaseException) -> dict:
    if type(err).__name__ == "KilledWorker":
        reason, detail = (
            "worker died",
            (
                f"the dask worker running {task.file_name!r} died repeatedly (out of memory or a crash); "
                "re-run to retry, with fewer workers or a smaller --batch-size."
            ),
        )
    else:
        reason, detail = "dask error", f"{task.file_name!r}: {type(err).__name__}: {str(err)[:200]}"
    return image_failure(task, reason, detail)


def run_on_dask(
    todo: Sequence[ImageTask],
    task_fn: Callable[..., dict],
    args: tuple[Any, ...],
    config: HarvestConfig,
    scheduler: str | None,
    client: Client | None,
    n_workers: int | None,
    cancel: Callable[[], bool] | None,
    on_result: Callable[[ImageTask, dict], _Event],
) -> Iterator[_Event]:
    """Run ``task_fn(task, *args)`` for every task of ``todo`` on dask; yields
    ``on_result(task, result)`` per finished image (in completion order). ``client`` = an existing
    Client, else one is opened (``scheduler`` address or a new LocalCluster of ``n_workers``) and
    closed at the end. Stops submitting and cancels what is in flight when ``cancel()`` is True."""
    from distributed import as_completed

    own_client = client is None
    own_cluster = None
    if own_client:
        client, own_cluster = _open_client(scheduler, n_workers, config)
    try:
        n_live = max(1, len(client.scheduler_info().get("workers", {})))
        limit = 4 * n_live
        pending = list(reversed(todo))
        by_key = {}

        def submit():
            task = pending.pop()
            fut = client.submit(
                task_fn,
                task,
                *args,
                pure=False,
                key=f"iog-harvest-{task.image_id}-{os.urandom(4).hex()}",
            )
            by_key[fut.key] = task
            return fut

        queue = as_completed([submit() for _ in range(min(limit, len(pending)))])
        for fut in queue:
            task = by_key.pop(fut.key)
            try:
                result = fut.result()
            except Exception as err:  # KilledWorker, CancelledError, unpicklable result, ...
                result = _dask_failure(task, err)
            fut.release()
            yield on_result(task, result)
            if cancel is not None and cancel():
                for other in list(queue.futures):
                    other.cancel()
                queue.clear()
                break
            if pending:
                queue.add(submit())
    finally:
        if own_client:
            client.close()
        if own_cluster is not None:
            own_cluster.close()
