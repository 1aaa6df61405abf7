"""Content-addressed artifact store over fsspec (a local folder by default, any fsspec URL at scale).

Objects live at `<root>/sha256/<aa>/<digest>`. A file is copied to a temporary name under
`<root>/tmp/`, checksummed while copying, then moved into place: a reader never sees a half-written
object, and the same bytes are stored once.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

CHUNK = 1024 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class StorageError(RuntimeError):
    """The artifact store could not be read or written (disk full, permissions, network)."""


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int
    uri: str


class ArtifactStore:
    """Immutable, content-addressed blobs."""

    def __init__(self, url: str):
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.root = self.root.rstrip("/")
        self._local = isinstance(self.fs, LocalFileSystem)

    def _path(self, digest: str) -> str:
        if not _DIGEST.match(digest):
            # Digests come from manifests, never from a client path: refuse anything else outright.
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return f"{self.root}/sha256/{digest[:2]}/{digest}"

    def uri(self, digest: str) -> str:
        path = self._path(digest)
        return path if self._local else self.fs.unstrip_protocol(path)

    def put_file(self, source: Path, sha256: str | None = None) -> StoredObject:
        """Store a local file; return its digest, size and URI.

        Args:
            source: the file.
            sha256: its digest when the caller computed it while writing the file (the generator's
                manifest), so the bytes are not hashed a second time; None: hashed while copied.

        Raises:
            StorageError: the store could not be written; nothing partial is left visible.
        """
        tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
        digest = hashlib.sha256() if sha256 is None else None
        size = 0
        try:
            self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
            with open(source, "rb") as src, self.fs.open(tmp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    if digest is not None:
                        digest.update(chunk)
                    size += len(chunk)
                    dst.write(chunk)
            sha256 = sha256 or digest.hexdigest()  # type: ignore[union-attr]
            final = self._path(sha256)
            if self.fs.exists(final):
                self.fs.rm(tmp)
            else:
                self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
                self.fs.mv(tmp, final)
        except OSError as exc:
            try:
                if self.fs.exists(tmp):
                    self.fs.rm(tmp)
            except OSError:
                pass
            raise StorageError(f"cannot write to the artifact store {self.url}: {exc}") from exc
        return StoredObject(sha256, size, self.uri(sha256))

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._path(digest)))

    def size(self, digest: str) -> int:
        return int(self.fs.size(self._path(digest)))

    def open(self, digest: str):  # type: ignore[no-untyped-def]
        """Open an object for binary reading (seekable)."""
        return self.fs.open(self._path(digest), "rb")

    def iter_bytes(self, digest: str, chunk: int = CHUNK, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The object's bytes in chunks: all of them, or `length` bytes from offset `start`."""
        with self.open(digest) as fh:
            if start:
                fh.seek(start)
            left = length
            while left is None or left > 0:
                data = fh.read(chunk if left is None else min(chunk, left))
                if not data:
                    return
                if left is not None:
                    left -= len(data)
                yield data

    def local_path(self, digest: str) -> Path | None:
        """The object's path on this machine, when the store is a local folder."""
        return Path(self._path(digest)) if self._local else None

    def delete(self, digest: str) -> None:
        path = self._path(digest)
        if self.fs.exists(path):
            self.fs.rm(path)
