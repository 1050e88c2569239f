"""Download one file into a folder with pooch (sha256-checked when the hash is known).

Plain transport, no registry knowledge: ``napari_iog.models.weights`` turns the two errors here
into messages that say how to get the file by hand. ``file://`` URLs (local mirrors, shared
cluster folders, tests) are copied by a small pooch downloader.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname


class DownloadError(OSError):
    """The file could not be downloaded (no network, blocked, moved, bad URL)."""


class DownloadHashError(ValueError):
    """The downloaded file's sha256 differs from the expected one (pooch deleted it)."""


def _file_downloader(url: str, output_file, pooch_obj=None) -> None:
    src = Path(url2pathname(urlparse(url).path))
    if not src.is_file():
        raise OSError(f"no such file: {src}")
    if hasattr(output_file, "write"):
        with open(src, "rb") as fh:
            shutil.copyfileobj(fh, output_file)
    else:
        shutil.copyfile(src, output_file)


def download(
    url: str,
    folder: str | os.PathLike,
    filename: str,
    sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """Fetch ``url`` to ``folder/filename`` (pooch: temp file, hash check, then move)."""
    import pooch

    if url.startswith("https://drive.google.com/"):
        url += "&confirm=t"  # skip Drive's "cannot scan for viruses" page for large files
    try:
        got = pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}" if sha256 else None,
            fname=filename,
            path=folder,
            downloader=_file_downloader if url.startswith("file:") else None,
            progressbar=progress,
        )
    except ValueError as exc:  # pooch: hash mismatch, or a malformed URL
        first = str(exc).strip().splitlines()[0][:160]
        if "hash" in first.lower():
            raise DownloadHashError(first) from None
        raise DownloadError(first) from None
    except Exception as exc:  # requests errors, OSError, ...
        raise DownloadError(failure_reason(exc, url)) from None
    return Path(got)


def failure_reason(exc: BaseException, url: str) -> str:
    """A short, complete reason for a failed download: "no network: could not reach HOST" for
    connection errors (refused, name resolution, timeout), "HOST answered HTTP 404" for an HTTP
    error, else the error's first sentence cut at a word (never a "... (Cause" fragment)."""
    host = urlparse(url).hostname or url
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        return f"{host} answered HTTP {status}"
    name = type(exc).__name__
    if isinstance(exc, (ConnectionError, TimeoutError)) or any(
        k in name for k in ("Connection", "Timeout", "NameResolution", "MaxRetry", "gaierror")
    ):
        return f"no network: could not reach {host}"
    text = " ".join(str(exc).split(" (Caused by")[0].split()) or name
    if len(text) > 160:
        text = text[:160].rsplit(" ", 1)[0] + " ..."
    return f"{name}: {text}"
