"""Selective reads of uncompressed MCAP files through their message indexes.

rosbags reads whole chunks; a rig bag's chunks mix images with joint states, so reading only
the joint states still reads every image. Uncompressed chunks (what rosbag2 and rosbags write
by default) can be read record by record: the message index gives each message's offset, so a
pass can fetch the small topics and just the first bytes (header stamp) of each image, and a
later pass only the images it needs. Compressed chunks: not used (``McapIndex.usable`` False).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, BinaryIO, Iterable, Iterator

import numpy as np

if TYPE_CHECKING:
    from rosbags.interfaces.typing import RPath
    from rosbags.rosbag2.storage_mcap import ChunkInfo, McapReader

__all__ = ["McapIndex"]

_MSG_HDR = 1 + 8 + 2 + 4 + 8 + 8  # op, length, channel, sequence, log time, publish time
_HEAD_BYTES = 16  # enough for CDR encapsulation + header.stamp


class McapIndex:
    """Message positions of one or more MCAP storages (rosbags ``McapReader`` objects).

    Attributes:
        usable: every chunk is uncompressed and indexed.
    """

    def __init__(self, storages: list[McapReader]) -> None:
        self.files: list[RPath] = []  # the storages' own paths (pathlib.Path for files)
        self._chunks: list[tuple[int, ChunkInfo]] = []  # (file index, chunk)
        self._topic_ids: dict[str, list[tuple[int, int]]] = {}  # topic -> [(file, channel)]
        usable = bool(storages)
        for k, st in enumerate(storages):
            chunks = getattr(st, "chunks", None)
            if not chunks or any(c.compression for c in chunks):
                usable = False
                break
            self.files.append(st.path)
            self._chunks.extend((k, c) for c in chunks)
            for conn in st.connections:
                self._topic_ids.setdefault(conn.topic, []).append((k, conn.id))
        self.usable = usable
        self._positions: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _index(self, topic: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(log times, file index, absolute record offset) of a topic's messages, in log-time
        order (ties in file order)."""
        cached = self._positions.get(topic)
        if cached is not None:
            return cached
        logs, files, offs = [], [], []
        handles: dict[int, BinaryIO] = {}
        try:
            for k, ch in self._chunks:
                f = handles.get(k) or handles.setdefault(k, self.files[k].open("rb"))
                records_start = ch.chunk_start_offset + 9 + 40 + len(ch.compression)
                for fk, cid in self._topic_ids.get(topic, []):
                    if fk != k or cid not in ch.message_index_offsets:
                        continue
                    f.seek(ch.message_index_offsets[cid])
                    head = f.read(1 + 8 + 2 + 4)
                    (n_bytes,) = struct.unpack_from("<I", head, 11)
                    pairs = np.frombuffer(f.read(n_bytes), "<u8").reshape(-1, 2)
                    logs.append(pairs[:, 0].astype(np.int64))
                    offs.append(pairs[:, 1].astype(np.int64) + records_start)
                    files.append(np.full(pairs.shape[0], k, np.int64))
        finally:
            for f in handles.values():
                f.close()
        if logs:
            log, fil, off = np.concatenate(logs), np.concatenate(files), np.concatenate(offs)
            order = np.lexsort((off, fil, log))
            out = (log[order], fil[order], off[order])
        else:
            z = np.zeros(0, np.int64)
            out = (z, z, z)
        self._positions[topic] = out
        return out

    def count(self, topic: str) -> int:
        return int(self._index(topic)[0].size)

    def messages(self, topics: Iterable[str], *, header_only: Iterable[str] = (),
                 only: dict[str, set[int]] | None = None
                 ) -> Iterator[tuple[str, int, int, bytes]]:
        """(topic, position on the topic, log time ns, raw) in log-time order.

        Args:
            header_only: topics of which only the first 16 bytes are read.
            only: {topic: positions}: read just these messages of that topic.
        """
        header_only = set(header_only)
        parts = []
        for t in topics:
            log, fil, off = self._index(t)
            pos = np.arange(log.size, dtype=np.int64)
            if only is not None and t in only:
                sel = np.zeros(log.size, bool)
                want = np.fromiter((i for i in only[t] if 0 <= i < log.size), np.int64)
                sel[want] = True
                log, fil, off, pos = log[sel], fil[sel], off[sel], pos[sel]
            parts.append((t, log, fil, off, pos))
        if not parts:
            return
        topic_id = np.concatenate([np.full(p[1].size, i, np.int64) for i, p in enumerate(parts)])
        log = np.concatenate([p[1] for p in parts])
        fil = np.concatenate([p[2] for p in parts])
        off = np.concatenate([p[3] for p in parts])
        pos = np.concatenate([p[4] for p in parts])
        order = np.lexsort((off, fil, log))
        names = [p[0] for p in parts]
        heads = [names[i] in header_only for i in range(len(names))]
        handles = [f.open("rb") for f in self.files]
        try:
            for j in order.tolist():
                f = handles[fil[j]]
                f.seek(int(off[j]) + 1)
                (length,) = struct.unpack("<Q", f.read(8))
                ti = topic_id[j]
                skip = _MSG_HDR - 9  # channel, sequence, log and publish time
                if length < skip:
                    raw = b""
                elif heads[ti]:
                    raw = f.read(skip + _HEAD_BYTES)[skip:]
                else:
                    f.seek(skip, 1)  # the payload in one read, without a second copy
                    raw = f.read(length - skip)
                yield names[ti], int(pos[j]), int(log[j]), raw
        finally:
            for f in handles:
                f.close()
