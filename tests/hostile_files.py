"""Small files made in code that lie about themselves (issue 22): headers claiming huge frames.

:func:`mkv_claiming_size` writes a real (tiny, 32 x 24) FFV1 Matroska clip whose header says
``width x height``: the frame size is written as a 2-byte Matroska element and patched in place,
so the file stays a few hundred bytes while every reader that trusts the header would allocate
gigabytes. :func:`y4m_claiming_size` writes a YUV4MPEG2 header with one short frame.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_PLACEHOLDER = (300, 301)  # sizes whose Matroska elements are 2 bytes long, like 16000


def mkv_claiming_size(path: Path, width: int, height: int, count: int = 3) -> Path:
    """A 32 x 24 FFV1 clip of ``count`` black frames whose Matroska header claims ``width x height``
    (each below 65536)."""
    container = av.open(str(path), "w")
    stream = container.add_stream("ffv1", rate=24)
    stream.width, stream.height, stream.pix_fmt = *_PLACEHOLDER, "bgr0"
    encoder = av.CodecContext.create("ffv1", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 32, 24, "bgr0"
    encoder.time_base = Fraction(1, 24)
    packets = []
    for index in range(count):
        frame = av.VideoFrame.from_ndarray(np.zeros((24, 32, 3), np.uint8), format="rgb24")
        frame.pts = index
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    for index, packet in enumerate(packets):
        packet.stream, packet.time_base = stream, Fraction(1, 24)
        packet.pts = packet.dts = index
        container.mux(packet)
    container.close()
    data = bytearray(path.read_bytes())
    for element, placeholder, value in ((b"\xb0\x82", _PLACEHOLDER[0], width), (b"\xba\x82", _PLACEHOLDER[1], height)):
        needle = element + placeholder.to_bytes(2, "big")
        assert data.count(needle) == 1, "the Matroska size element was not found once"
        at = data.index(needle) + 2
        data[at : at + 2] = value.to_bytes(2, "big")
    path.write_bytes(bytes(data))
    return path


def y4m_claiming_size(path: Path, width: int, height: int) -> Path:
    """A YUV4MPEG2 file whose header claims ``width x height``, with a few bytes of frame data."""
    header = f"YUV4MPEG2 W{width} H{height} F24:1 Ip A1:1 C420jpeg\nFRAME\n".encode()
    path.write_bytes(header + bytes(3000))
    return path
