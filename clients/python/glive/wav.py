"""WAV files of gliveD's audio: 16-bit little-endian PCM, mono, 24 kHz unless the events say
otherwise (the ``rate=`` of their mime type)."""
from __future__ import annotations

import struct
from typing import BinaryIO, Iterable, Optional, Union

from .events import DEFAULT_RATE, Event


def wav_header(rate: int, data_bytes: int, channels: int = 1, bits: int = 16) -> bytes:
    """The canonical 44-byte header of a PCM WAV holding ``data_bytes`` bytes."""
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, bits)
            + b"data" + struct.pack("<I", data_bytes))


class WavWriter:
    """Writes PCM to a WAV file as it arrives; the sizes in the header are filled in by
    ``close()`` (or leaving the ``with`` block).

    >>> with WavWriter("answer.wav") as w:
    ...     for ev in client.send("main", "Hello?"):
    ...         w.write_event(ev)          # audio events are written, others ignored
    """

    def __init__(self, target: Union[str, BinaryIO], rate: Optional[int] = None):
        self._own = isinstance(target, str)
        self._f: BinaryIO = open(target, "wb") if isinstance(target, str) else target
        self._start = self._f.tell()
        self.rate = rate
        self.bytes = 0
        self._f.write(wav_header(rate or DEFAULT_RATE, 0))

    def write(self, pcm: bytes) -> None:
        """Appends s16le PCM."""
        self._f.write(pcm)
        self.bytes += len(pcm)

    def write_event(self, ev: Event) -> None:
        """Appends an ``audio`` event's PCM (other events are ignored). The first one sets the
        rate, unless the writer was given one."""
        if ev.kind != "audio":
            return
        if self.rate is None:
            self.rate = ev.rate
        self.write(ev.pcm)

    def close(self) -> None:
        """Writes the final header and closes the file (if the writer opened it)."""
        if self._f is None:
            return
        end = self._f.tell()
        self._f.seek(self._start)
        self._f.write(wav_header(self.rate or DEFAULT_RATE, self.bytes))
        self._f.seek(end)
        self._f.flush()
        if self._own:
            self._f.close()
        self._f = None  # type: ignore[assignment]

    def __enter__(self) -> "WavWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_wav(path: str, audio: Union[bytes, Iterable[Event]], rate: Optional[int] = None) -> int:
    """Writes a WAV from PCM bytes or from events (their ``audio`` ones); returns the PCM size."""
    with WavWriter(path, rate) as w:
        if isinstance(audio, (bytes, bytearray, memoryview)):
            w.write(bytes(audio))
        else:
            for ev in audio:
                w.write_event(ev)
        return w.bytes


def read_wav(path: str) -> "tuple[int, bytes]":
    """(rate, PCM) of a 16-bit mono PCM WAV with the canonical 44-byte header (as written here);
    ValueError for anything else."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:16] != b"WAVEfmt " or data[36:40] != b"data":
        raise ValueError(f"{path}: not a canonical PCM WAV")
    fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[20:36])
    size, = struct.unpack("<I", data[40:44])
    if (fmt, channels, bits) != (1, 1, 16) or size > len(data) - 44:
        raise ValueError(f"{path}: not 16-bit mono PCM, or truncated")
    return rate, data[44:44 + size]
