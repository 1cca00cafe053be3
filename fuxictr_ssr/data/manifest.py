"""The raw sources a preprocessed store was built from (``raw_sources.json`` in the store folder),
so that a store is reused only while its sources are the same files.

Each raw file is recorded by content, not by time or place: its path relative to the data root, its
size, and an md5 of its first and last MiB. A file replaced by another of the same size and mtime
(``cp -p``, ``rsync -a``) is seen as changed; a data folder moved or copied elsewhere (``--data-root``)
is not. Manifests written before this (absolute path, size, mtime) are still honoured: when they
match, the manifest is rewritten in the content form.
"""
import hashlib
import json
import os

from ..safe_files import write_json

MANIFEST_FILE = "raw_sources.json"
EDGE_BYTES = 1 << 20


def file_signature(path, data_root):
    """``[path relative to data_root, size, md5 of the first and last MiB]``."""
    size = os.path.getsize(path)
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        digest.update(handle.read(EDGE_BYTES))
        if size > EDGE_BYTES:
            handle.seek(max(EDGE_BYTES, size - EDGE_BYTES))
            digest.update(handle.read(EDGE_BYTES))
    return [os.path.relpath(os.path.abspath(path), os.path.abspath(data_root)), size, digest.hexdigest()]


def _legacy_signature(path):
    return [os.path.abspath(path), os.path.getsize(path), os.stat(path).st_mtime_ns]


def read_json_file(path):
    """A JSON file's content, or ``ValueError`` naming the file when it is not valid JSON."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}); delete it (and feature_map.json beside it) to rebuild "
                         "the store") from None


def signatures(files, data_root):
    """``{split key: [signature, ...]}`` of ``{split key: [path, ...]}``."""
    return {key: [file_signature(path, data_root) for path in paths] for key, paths in files.items()}


def changed_split(manifest_path, files, data_root):
    """The first split key whose raw files differ from the manifest's, or None. A manifest in the
    older (path, size, mtime) form that still matches is rewritten in the content form."""
    recorded = read_json_file(manifest_path)
    legacy = any(entries and isinstance(entries[0][2], int) for entries in recorded.values())
    if legacy:
        current = {key: [_legacy_signature(path) for path in paths] for key, paths in files.items()}
    else:
        current = signatures(files, data_root)
    changed = next((key for key, entries in current.items() if entries and entries != recorded.get(key)), None)
    if legacy and changed is None:
        write_json(manifest_path, signatures(files, data_root))
    return changed
