"""Salvage the intact part of a truncated MCAP file (recorder killed, disk full, copy cut).

The ``mcap`` package's stream reader walks the records from the start; the scan stops at the
first incomplete record. Everything before it is readable; the rest is reported as lost.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

__all__ = ["TruncatedMcap", "typestore_from_definitions"]


def typestore_from_definitions(definitions: Iterable[tuple[str, str, str]],
                               fallback: Typestore) -> Typestore:
    """A rosbags typestore with the message definitions a bag embeds (as AnyReader builds it).

    Args:
        definitions: (msgtype, "msg" or "idl", text) per definition; other kinds are skipped.
        fallback: returned when there is no definition to register.
    """
    from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore

    typs: dict = {}
    for name, kind, text in definitions:
        if kind == "msg":
            typs.update(get_types_from_msg(text, name))
        elif kind == "idl":
            sep = "=" * 80 + "\n"
            parts = text.split(sep)[1:] if text.startswith(f"{sep}IDL: ") else [None]
            for part in parts:
                typs.update(get_types_from_idl(text if part is None
                                               else part.split("\n", 1)[1]))
    if not typs:
        return fallback
    store = get_typestore(Stores.EMPTY)
    store.register(typs)
    return store


class TruncatedMcap:
    """Schemas, channels and message counts of the intact records of an MCAP file.

    Attributes:
        topics: {topic: (msgtype, count)} of the intact messages.
        message_count: intact messages.
        intact_bytes / file_bytes: where the readable part ends / the file size.
        typestore: a rosbags typestore with the embedded message definitions.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.file_bytes = self.path.stat().st_size
        self.topics: dict[str, tuple[str, int]] = {}
        self._schemas: dict[int, tuple[str, str, str]] = {}  # id -> (name, encoding, text)
        self._channels: dict[int, tuple[str, int]] = {}  # id -> (topic, schema id)
        self.message_count = 0
        self.intact_bytes = 0
        for _ in self._scan(set(), collect=True):
            pass
        self.typestore = self._build_typestore()

    def _scan(self, topics: set[str], *, collect: bool = False
              ) -> Iterator[tuple[str, int, bytes]]:
        from mcap.records import Channel, Message, Schema
        from mcap.stream_reader import StreamReader

        with self.path.open("rb") as f:
            reader = StreamReader(f, skip_magic=False, record_size_limit=2**31)
            it = reader.records
            while True:
                try:
                    rec = next(it)
                except StopIteration:
                    break
                except Exception:  # noqa: BLE001 - EndOfFile / struct errors at the cut: stop
                    break
                if isinstance(rec, Schema):
                    self._schemas[rec.id] = (rec.name, rec.encoding, rec.data.decode())
                elif isinstance(rec, Channel):
                    self._channels[rec.id] = (rec.topic, rec.schema_id)
                elif isinstance(rec, Message):
                    ch = self._channels.get(rec.channel_id)
                    if ch is None:
                        continue
                    if collect:
                        topic = ch[0]
                        name = self._schemas.get(ch[1], ("", "", ""))[0]
                        _, n = self.topics.get(topic, (name, 0))
                        self.topics[topic] = (name, n + 1)
                        self.message_count += 1
                        self.intact_bytes = f.tell()
                    elif ch[0] in topics:
                        yield ch[0], int(rec.log_time), bytes(rec.data)

    def _build_typestore(self) -> Typestore:
        from rosbags.typesys import Stores, get_typestore

        kinds = {"ros2msg": "msg", "ros2idl": "idl"}
        return typestore_from_definitions(
            ((name, kinds.get(enc, ""), text) for name, enc, text in self._schemas.values()),
            get_typestore(Stores.ROS2_HUMBLE))

    def messages(self, topics: set[str]) -> Iterator[tuple[str, int, bytes]]:
        """(topic, log time ns, raw) of the intact messages, in file order."""
        yield from self._scan(set(topics))
