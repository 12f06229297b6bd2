"""Just enough H.264 bitstream handling to reuse encoded P-frames as disposable pictures.

The renderer encodes, once per loudness level, a P-frame that predicts from the same IDR picture
(the base image). Marked as non-reference (``nal_ref_idc = 0``) such a frame never becomes a
reference itself, so every later frame still predicts from that IDR and any sequence of levels
decodes exactly. Making it disposable means rewriting its slice headers: clear ``nal_ref_idc``,
drop the ``dec_ref_pic_marking`` bit that only reference slices carry, and set ``frame_num`` and
``pic_order_cnt_lsb`` for its place in the stream. Only what x264 emits with CAVLC, progressive
frames and no weighted prediction is supported; anything else raises :class:`Unsupported` and the
renderer encodes every frame instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class Unsupported(Exception):
    """The stream uses a feature this rewriter does not handle."""


_EMULATED = re.compile(b"\x00\x00\x03")
_NEEDS_ESCAPE = re.compile(b"\x00\x00(?=[\x00-\x03])")


def unescape(payload: bytes) -> bytes:
    """NAL payload to RBSP: drop the emulation-prevention byte of every 00 00 03."""
    return _EMULATED.sub(b"\x00\x00", payload)


def escape(rbsp: bytes) -> bytes:
    """RBSP to NAL payload: insert 03 wherever 00 00 is followed by a byte <= 03."""
    return _NEEDS_ESCAPE.sub(b"\x00\x00\x03", rbsp)


class BitReader:
    def __init__(self, data: bytes) -> None:
        self.bits = "".join(f"{b:08b}" for b in data)
        self.pos = 0

    def u(self, n: int) -> int:
        if self.pos + n > len(self.bits):
            raise Unsupported("truncated header")
        value = int(self.bits[self.pos : self.pos + n], 2) if n else 0
        self.pos += n
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise Unsupported("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


@dataclass(frozen=True, slots=True)
class StreamParams:
    """The SPS and PPS fields that decide how a slice header is laid out."""

    log2_max_frame_num: int
    log2_max_poc_lsb: int
    bottom_field_pic_order: bool
    redundant_pic_cnt: bool


_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def _sps_reader(sps_nal: bytes) -> BitReader:
    """A reader over an SPS, placed just before ``log2_max_frame_num_minus4``."""
    r = BitReader(unescape(sps_nal[1:]))
    profile = r.u(8)
    r.u(16)  # constraint flags, level
    r.ue()  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        if r.ue() == 3:  # chroma_format_idc
            r.u(1)
        r.ue()
        r.ue()
        r.u(1)
        if r.u(1):
            raise Unsupported("scaling matrices")
    return r


def parse_params(sps_nal: bytes, pps_nal: bytes) -> StreamParams:
    r = _sps_reader(sps_nal)
    log2_max_frame_num = r.ue() + 4
    if r.ue() != 0:
        raise Unsupported("pic_order_cnt_type other than 0")
    log2_max_poc_lsb = r.ue() + 4
    r.ue()  # max_num_ref_frames
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    r.ue()
    r.ue()  # picture size in macroblocks
    if not r.u(1):
        raise Unsupported("interlaced coding")

    p = BitReader(unescape(pps_nal[1:]))
    p.ue()
    p.ue()
    if p.u(1):
        raise Unsupported("CABAC")
    bottom_field_pic_order = bool(p.u(1))
    if p.ue() != 0:
        raise Unsupported("slice groups")
    p.ue()
    p.ue()
    if p.u(1):
        raise Unsupported("weighted prediction")
    p.u(2)
    p.se()
    p.se()
    p.se()
    p.u(1)  # deblocking_filter_control_present_flag
    p.u(1)  # constrained_intra_pred_flag
    redundant = bool(p.u(1))
    return StreamParams(log2_max_frame_num, log2_max_poc_lsb, bottom_field_pic_order, redundant)


WIDE = 16  # bits for frame_num and pic_order_cnt_lsb in the rewritten stream


def _ue(value: int) -> str:
    code = bin(value + 1)[2:]
    return "0" * (len(code) - 1) + code


def _pack(header: int, bits: str) -> bytes:
    """A NAL from its header byte and RBSP bits (which end with the stop bit)."""
    bits += "0" * (-len(bits) % 8)
    return bytes([header]) + escape(int(bits, 2).to_bytes(len(bits) // 8, "big"))


def _tail(r: BitReader) -> str:
    """The rest of an RBSP up to and including its stop bit."""
    rest = r.bits[r.pos :].rstrip("0")
    if not rest.endswith("1"):
        raise Unsupported("no RBSP stop bit")
    return rest


def widen_sps(sps_nal: bytes) -> bytes:
    """The SPS with 16-bit ``frame_num`` and ``pic_order_cnt_lsb``, so a long run of pictures
    can follow one IDR without the picture order count wrapping."""
    r = _sps_reader(sps_nal)
    before = r.bits[: r.pos]
    r.ue()
    if r.ue() != 0:
        raise Unsupported("pic_order_cnt_type other than 0")
    r.ue()
    return _pack(sps_nal[0], before + _ue(WIDE - 4) + _ue(0) + _ue(WIDE - 4) + _tail(r))


def widen_avcc(extradata: bytes, sps: bytes) -> bytes:
    """An ``avcC`` record with its SPS replaced by ``sps`` (one SPS, PPS entries unchanged)."""
    count = extradata[5] & 0x1F
    i = 6
    for _ in range(count):
        i += 2 + int.from_bytes(extradata[i : i + 2], "big")
    return extradata[:5] + bytes([0xE1]) + len(sps).to_bytes(2, "big") + sps + extradata[i:]


@dataclass(frozen=True, slots=True)
class SliceTemplate:
    """A slice cut around ``frame_num`` and ``pic_order_cnt_lsb``, rewritten at 16 bits each.

    A P-slice also loses its reference marking, becoming disposable; an IDR slice keeps it.
    """

    header: int
    before: str  # up to frame_num
    middle: str  # between frame_num and pic_order_cnt_lsb (an IDR's idr_pic_id)
    after: str  # the rest, up to and including the stop bit

    def at(self, frame_num: int, poc_lsb: int) -> bytes:
        mask = (1 << WIDE) - 1
        field = f"{{:0{WIDE}b}}"
        return _pack(
            self.header,
            self.before
            + field.format(frame_num & mask)
            + self.middle
            + field.format(poc_lsb & mask)
            + self.after,
        )


def slice_template(nal: bytes, params: StreamParams) -> SliceTemplate:
    """Cut a slice NAL as x264 writes it: an IDR slice, or a reference P-slice."""
    header = nal[0]
    kind = header & 0x1F
    if kind not in (1, 5) or not header & 0x60:
        raise Unsupported("not a reference slice")
    r = BitReader(unescape(nal[1:]))
    r.ue()  # first_mb_in_slice
    slice_type = r.ue() % 5
    if slice_type not in (0, 2) or (kind == 1) != (slice_type == 0):
        raise Unsupported("only IDR I-slices and P-slices")
    r.ue()  # pic_parameter_set_id
    before = r.bits[: r.pos]
    r.u(params.log2_max_frame_num)
    middle_start = r.pos
    if kind == 5:
        r.ue()  # idr_pic_id
    middle = r.bits[middle_start : r.pos]
    r.u(params.log2_max_poc_lsb)
    if kind == 5:
        return SliceTemplate(header, before, middle, _tail(r))
    rest_start = r.pos
    if params.bottom_field_pic_order:
        r.se()
    if params.redundant_pic_cnt:
        r.ue()
    if r.u(1):  # num_ref_idx_active_override_flag
        r.ue()
    if r.u(1):  # ref_pic_list_modification_flag_l0
        while (idc := r.ue()) != 3:
            if idc > 3:
                raise Unsupported("bad reference list modification")
            r.ue()
    kept = r.bits[rest_start : r.pos]
    if r.u(1):  # adaptive_ref_pic_marking_mode_flag, which only reference slices carry
        raise Unsupported("memory management operations")
    return SliceTemplate(header & 0x9F, before, middle, kept + _tail(r))


def split_nals(packet: bytes, length_size: int = 4) -> list[bytes]:
    """The NAL units of a length-prefixed (MP4) access unit."""
    nals = []
    i = 0
    while i < len(packet):
        n = int.from_bytes(packet[i : i + length_size], "big")
        nals.append(packet[i + length_size : i + length_size + n])
        i += length_size + n
    return nals


def join_nals(nals: list[bytes], length_size: int = 4) -> bytes:
    return b"".join(len(n).to_bytes(length_size, "big") + n for n in nals)


def avcc_parameter_sets(extradata: bytes) -> tuple[bytes, bytes, int]:
    """The first SPS and PPS in an ``avcC`` record, and its NAL length size."""
    if len(extradata) < 7 or extradata[0] != 1:
        raise Unsupported("extradata is not an avcC record")
    length_size = (extradata[4] & 3) + 1
    count = extradata[5] & 0x1F
    i = 6
    sps = b""
    for _ in range(count):
        n = int.from_bytes(extradata[i : i + 2], "big")
        sps = sps or extradata[i + 2 : i + 2 + n]
        i += 2 + n
    pps_count = extradata[i]
    i += 1
    pps = b""
    for _ in range(pps_count):
        n = int.from_bytes(extradata[i : i + 2], "big")
        pps = pps or extradata[i + 2 : i + 2 + n]
        i += 2 + n
    if not sps or not pps:
        raise Unsupported("avcC without parameter sets")
    return sps, pps, length_size
