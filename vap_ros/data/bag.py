"""Reading bags with ``rosbags``: rosbag2 folders (MCAP, sqlite3), a bare ``.mcap``/``.db3``
file, or ROS 1 ``.bag`` files, behind one small interface with clear errors.

A truncated MCAP (no footer: the recorder died) is read by scanning its records up to the cut;
the reader's ``warnings`` say so, and the lost tail is reported, never silently dropped.
"""

from __future__ import annotations

import struct
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from vap_ros.data.mcap_scan import typestore_from_definitions
from vap_ros.errors import BagError

if TYPE_CHECKING:
    from rosbags.highlevel import AnyReader
    from rosbags.interfaces import Connection
    from rosbags.rosbag2.storage_mcap import McapReader
    from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader
    from rosbags.typesys.store import Typestore

    from vap_ros.data.mcap_index import McapIndex
    from vap_ros.data.mcap_scan import TruncatedMcap

__all__ = ["BagReader", "TopicInfo", "bag_paths"]


@dataclass(frozen=True)
class TopicInfo:
    topic: str
    msgtype: str
    count: int


def bag_paths(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand inputs into bags: a rosbag2 folder (with metadata.yaml) is one bag; a folder
    without one holds bags (rosbag2 folders, .mcap, .db3, .bag files, one level deep); a file
    is one bag.

    Raises:
        BagError: an input does not exist or holds no bag.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise BagError(f"bag not found: {str(p)!r}")
        if p.is_file() or (p / "metadata.yaml").is_file():
            out.append(p)
            continue
        found = sorted(
            q for q in p.iterdir()
            if (q.is_dir() and (q / "metadata.yaml").is_file())
            or (q.is_file() and q.suffix in (".mcap", ".db3", ".bag")))
        if not found:
            raise BagError(f"{str(p)!r} is neither a bag nor a folder of bags (no metadata.yaml, "
                           ".mcap, .db3 or .bag inside)")
        out.extend(found)
    return out


def _typestore_from_connections(connections: Iterable[Connection],
                                fallback: Typestore) -> Typestore:
    """A typestore with the message definitions embedded in the bag (as AnyReader does)."""
    from rosbags.interfaces import MessageDefinitionFormat

    kinds = {MessageDefinitionFormat.MSG: "msg", MessageDefinitionFormat.IDL: "idl"}
    return typestore_from_definitions(
        ((c.msgtype, kinds.get(c.msgdef.format, ""), c.msgdef.data) for c in connections),
        fallback)


class BagReader:
    """One bag, opened with ``rosbags``. Use as a context manager.

    Args:
        path: a rosbag2 folder, a ``.mcap`` or ``.db3`` file (its folder is used when it has a
            metadata.yaml), or a ROS 1 ``.bag`` file.

    Attributes:
        topics: {topic: TopicInfo}.
        is_ros2: CDR (ROS 2) or ROS 1 serialisation.
        warnings: problems found while opening or reading (truncation, ...).

    Raises:
        BagError: the bag cannot be opened (missing, not a bag, corrupt header), naming it.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.topics: dict[str, TopicInfo] = {}
        self.warnings: list[str] = []
        self.is_ros2 = True
        self._stack: ExitStack | None = None
        self._any: AnyReader | None = None
        self._storage: McapReader | Sqlite3Reader | None = None  # a bare storage plugin
        self._scan: TruncatedMcap | None = None  # truncated MCAP: record scanner
        self._conns: dict[str, list[Connection]] = {}
        self._index: McapIndex | None = None  # selective reads of uncompressed MCAP
        self.typestore: Typestore | None = None

    # ------------------------------------------------------------------ open / close
    def __enter__(self) -> "BagReader":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        from rosbags.highlevel import AnyReader, AnyReaderError
        from rosbags.typesys import Stores, get_typestore

        p = self.path
        if not p.exists():
            raise BagError(f"bag not found: {str(p)!r}")
        if (p.is_file() and p.suffix in (".mcap", ".db3")
                and (p.parent / "metadata.yaml").is_file()):
            p = p.parent
        self._stack = stack = ExitStack()
        ros2_default = get_typestore(Stores.ROS2_HUMBLE)
        try:
            if p.is_file() and p.suffix in (".mcap", ".db3"):
                self._open_storage(p, ros2_default, stack)
            elif p.is_file() and p.suffix != ".bag":
                raise BagError(f"{str(p)!r} is not a bag: expected a rosbag2 folder, .mcap, "
                               ".db3 or ROS 1 .bag file")
            else:
                reader = AnyReader([p], default_typestore=ros2_default)
                try:
                    reader.open()
                except AnyReaderError as err:
                    mcaps = sorted(p.glob("*.mcap")) if p.is_dir() else []
                    if len(mcaps) == 1 and _is_truncated_mcap(mcaps[0]):
                        self._open_truncated(mcaps[0], str(err))
                        return
                    raise
                stack.callback(reader.close)
                self._any = reader
                self.is_ros2 = reader.is2
                self.typestore = reader.typestore
                for c in reader.connections:
                    self._conns.setdefault(c.topic, []).append(c)
                self._make_index([s for r in reader.readers for s in _storages(r)])
        except BagError:
            self.close()
            raise
        except Exception as err:  # rosbags raises several error types for unreadable bags
            self.close()
            raise BagError(f"cannot open bag {str(self.path)!r}: {err}") from err
        self._fill_topics()

    def _open_storage(self, p: Path, fallback: Typestore, stack: ExitStack) -> None:
        from rosbags.rosbag2.errors import ReaderError
        from rosbags.rosbag2.storage_mcap import McapReader
        from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader

        storage: McapReader | Sqlite3Reader = (
            McapReader(p) if p.suffix == ".mcap" else Sqlite3Reader(p))
        try:
            storage.open()
        except ReaderError as err:
            if p.suffix == ".mcap" and _is_truncated_mcap(p):
                self._open_truncated(p, str(err))
                return
            raise
        stack.callback(storage.close)
        self._storage = storage
        self.typestore = _typestore_from_connections(storage.connections, fallback)
        for c in storage.connections:
            self._conns.setdefault(c.topic, []).append(c)
        self._make_index([storage])

    def _make_index(self, storages) -> None:
        from rosbags.rosbag2.storage_mcap import McapReader

        from vap_ros.data.mcap_index import McapIndex

        if storages and all(isinstance(s, McapReader) for s in storages):
            index = McapIndex(storages)
            self._index = index if index.usable else None

    def _open_truncated(self, p: Path, reason: str) -> None:
        from vap_ros.data.mcap_scan import TruncatedMcap

        scan = TruncatedMcap(p)
        self._scan = scan
        self.typestore = scan.typestore
        self.warnings.append(
            f"{p.name} is truncated ({reason}); reading its intact records: "
            f"{scan.message_count} messages up to byte {scan.intact_bytes} of {scan.file_bytes}"
            f" ({scan.file_bytes - scan.intact_bytes} bytes lost)")
        for topic, (msgtype, count) in scan.topics.items():
            self.topics[topic] = TopicInfo(topic, msgtype, count)

    def _fill_topics(self) -> None:
        for topic, conns in self._conns.items():
            self.topics[topic] = TopicInfo(topic, conns[0].msgtype,
                                           sum(int(c.msgcount) for c in conns))

    def close(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
        self._any = self._storage = self._scan = self._index = None

    # ------------------------------------------------------------------ reading
    def topics_of_type(self, *msgtypes: str) -> list[str]:
        return sorted(t for t, i in self.topics.items() if i.msgtype in msgtypes)

    def messages(self, topics: Iterable[str]) -> Iterator[tuple[str, int, bytes]]:
        """(topic, log time ns, raw bytes) of the given topics, in log-time order.

        Raises:
            BagError: the bag breaks off while reading (naming where).
        """
        topics = set(topics)
        if self._scan is not None:
            yield from self._scan.messages(topics)
            return
        if self._any is None and self._storage is None:
            raise BagError(f"bag {str(self.path)!r} is not open")
        conns = [c for t in topics for c in self._conns.get(t, [])]
        if not conns:
            return
        n, last = 0, None
        try:
            if self._any is not None:
                gen = self._any.messages(connections=conns)
            elif self._storage is not None:
                gen = self._storage.messages(conns)
            else:  # not reached: checked above
                raise BagError(f"bag {str(self.path)!r} is not open")
            for conn, stamp, raw in gen:
                n += 1
                last = stamp
                yield conn.topic, int(stamp), raw
        except BagError:
            raise
        except Exception as err:
            where = f" after {n} messages (last at {last * 1e-9:.3f} s)" if last else ""
            raise BagError(f"bag {str(self.path)!r} cannot be read{where}: {err}") from err

    def read(self, topics: Iterable[str], *, header_only: Iterable[str] = (),
             only: dict[str, set[int]] | None = None) -> Iterator[tuple[str, int, int, bytes]]:
        """(topic, position on the topic, log time ns, raw) in log-time order.

        The fast path for the passes of the clip builder: on uncompressed MCAP, ``header_only``
        topics yield just their first 16 bytes (enough for ``header.stamp``) and ``only``
        ({topic: positions}) skips the other messages of a topic without reading them. Other
        storages read everything and filter.

        Raises:
            BagError: the bag breaks off while reading.
        """
        topics = list(topics)
        if self._index is not None:
            try:
                yield from self._index.messages(topics, header_only=header_only, only=only)
            except (OSError, ValueError, struct.error) as err:
                raise BagError(f"bag {str(self.path)!r} cannot be read: {err}") from err
            return
        pos: dict[str, int] = {}
        for topic, log_ns, raw in self.messages(topics):
            i = pos.get(topic, 0)
            pos[topic] = i + 1
            if only is not None and topic in only and i not in only[topic]:
                continue
            yield topic, i, log_ns, raw

    def deserialize(self, raw: bytes, msgtype: str):
        """A message object; raises whatever rosbags raises (callers count it as corrupt)."""
        if self.typestore is None:
            raise BagError(f"bag {str(self.path)!r} is not open")
        if self.is_ros2:
            return self.typestore.deserialize_cdr(raw, msgtype)
        return self.typestore.deserialize_ros1(raw, msgtype)


def _storages(reader) -> list:
    """The storage plugins behind a rosbags rosbag2 reader (a folder may hold several)."""
    st = getattr(reader, "storage", None)
    if st is None:
        return []
    return list(getattr(st, "storages", [st]))


def _is_truncated_mcap(p: Path) -> bool:
    """An MCAP whose start is fine but whose footer magic is missing."""
    try:
        with p.open("rb") as f:
            head = f.read(8)
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 8))
            tail = f.read(8)
    except OSError:
        return False
    return head == b"\x89MCAP0\r\n" and tail != b"\x89MCAP0\r\n"
