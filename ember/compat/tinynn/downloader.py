"""``tn.downloader``: fetch a file to a path unless a copy with the expected MD5 checksum is already there."""

from __future__ import annotations

import hashlib
import os
from urllib.error import URLError
from urllib.request import urlretrieve

__all__ = ["download_url", "md5_checksum", "show_progress"]


def show_progress(blk_num: int, blk_sz: int, tot_sz: int) -> None:
    """A ``urlretrieve`` report hook printing the percentage done on one line."""
    if tot_sz > 0:
        print(f"Progress: {min(100.0, 100.0 * blk_num * blk_sz / tot_sz):.1f} %", end="\r", flush=True)


def md5_checksum(file_path: str) -> str:
    """The hex MD5 digest of a file's bytes."""
    digest = hashlib.md5()
    with open(file_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_url(url: str, file_path: str, checksum: str) -> None:
    """Download ``url`` to ``file_path`` (creating its folder) unless the file is there with MD5 ``checksum``;
    a download that fails, or whose checksum differs, raises RuntimeError."""
    folder = os.path.dirname(file_path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    if os.path.exists(file_path):
        if md5_checksum(file_path) == checksum:
            print(f"{file_path} already exists.")
            return
        print(f"{file_path}: wrong checksum, downloading it again")
    print(f"Downloading {url} to {file_path}")
    try:
        urlretrieve(url, file_path, show_progress)
    except (URLError, OSError) as error:
        raise RuntimeError(f"download_url: could not download {url} to {file_path}: {error}") from error
    got = md5_checksum(file_path)
    if got != checksum:
        raise RuntimeError(f"download_url: {file_path} downloaded from {url} has MD5 {got}, expected {checksum}")
