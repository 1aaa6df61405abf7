"""Artifacts of a training job: folders copied to and from the artifact root (a folder or an fsspec URL).

A stored folder is complete once its ``_COMPLETE`` marker exists (written last), so a reader never
takes a half-uploaded checkpoint.
"""

from __future__ import annotations

from pathlib import Path


def join_uri(root: str, *parts: str) -> str:
    """Join path parts onto a folder path or fsspec URL.

    >>> join_uri("s3://bucket/tf/", "jobs", "job_1")
    's3://bucket/tf/jobs/job_1'
    """
    return "/".join([root.rstrip("/"), *parts])


def upload_dir(local: Path, uri: str) -> str:
    """Copy a local folder to `uri` (folder or fsspec URL); a ``_COMPLETE`` marker is written last.

    Args:
        local: the folder.
        uri: destination.

    Returns:
        `uri`.
    """
    import fsspec

    fs, root = fsspec.core.url_to_fs(uri)
    for path in sorted(p for p in Path(local).rglob("*") if p.is_file()):
        dest = f"{root}/{path.relative_to(local).as_posix()}"
        fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(path), dest)
    with fs.open(f"{root}/_COMPLETE", "wb") as fh:
        fh.write(b"ok\n")
    return uri


def download_dir(uri: str, local: Path) -> Path | None:
    """Copy a folder written by ``upload_dir`` to `local`; None when it is absent or incomplete.

    Args:
        uri: the stored folder.
        local: destination folder.

    Returns:
        `local`, or None.
    """
    import fsspec

    fs, root = fsspec.core.url_to_fs(uri)
    if not fs.exists(f"{root}/_COMPLETE"):
        return None
    for path in fs.find(root):
        rel = path[len(root):].lstrip("/")
        if rel == "_COMPLETE":
            continue
        target = Path(local) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(path, str(target))
    return Path(local)
