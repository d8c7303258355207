#!/usr/bin/env python3
"""Writes the small hand-made seed inputs under fuzz/seeds/<target>/.

Run from the repository root: python3 fuzz/gen_seeds.py
The outputs are committed (a few KiB); the external vectors in
../shared/vectors/sgx are passed to the fuzzers by tools/fuzz.sh instead of
being copied here.

machine_fuzz programs follow the encoding documented at the top of
fuzz/machine_fuzz.cc: an opcode byte (enum Op) and its argument bytes.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# ---- SGXS streams (machine/measurement.h) ---------------------------------

PT_REG, PT_TCS, PT_SREG = 2, 1, 8


def ecreate(ssa, size):
    return b"ECREATE\0" + struct.pack("<IQ", ssa, size) + bytes(44)


def eadd(offset, flags):
    return b"EADD\0\0\0\0" + struct.pack("<QQ", offset, flags) + bytes(40)


def extend(offset, fill, tag=b"EEXTEND\0"):
    return tag + struct.pack("<Q", offset) + bytes(48) + bytes([fill]) * 256


def unmeasured(offset, fill):
    return extend(offset, fill, tag=b"UNMEASRD")


minimal = ecreate(1, 0x2000) + eadd(0, PT_REG << 8 | 0x3)
minimal += b"".join(extend(c * 256, c + 1) for c in range(16))
write("sgxs_fuzz", "minimal_page.sgxs", minimal)

tcs = bytearray(4096)
struct.pack_into("<QII", tcs, 16, 0x2000, 0, 1)  # OSSA, CSSA, NSSA
mixed = ecreate(2, 0x4000)
mixed += eadd(0x1000, PT_TCS << 8)
mixed += b"EEXTEND\0" + struct.pack("<Q", 0x1000) + bytes(48) + bytes(tcs[:256])
mixed += eadd(0x0, PT_SREG << 8 | 0x5)
mixed += unmeasured(0x200, 0x77) + extend(0x500, 0x55)
mixed += eadd(0x3000, PT_REG << 8 | 0x1)
write("sgxs_fuzz", "tcs_sreg_unmeasured.sgxs", mixed)
write("sgxs_fuzz", "ecreate_only.sgxs", ecreate(1, 0x10000))

# ---- SIGSTRUCTs (machine/sigstruct.h) -------------------------------------

HEADER = bytes([6, 0, 0, 0, 0xE1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
HEADER2 = bytes([1, 1, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 1, 0, 0, 0])


def sigstruct(modulus_le=bytes(384)):
    s = bytearray(1808)
    s[0:16] = HEADER
    struct.pack_into("<II", s, 16, 0x8086, 0x20240101)
    s[24:40] = HEADER2
    s[128:512] = modulus_le
    struct.pack_into("<I", s, 512, 3)
    struct.pack_into("<II", s, 900, 0, 0xFFFFFFFF)
    struct.pack_into("<QQQQ", s, 928, 4, 3, 0xFFFFFFFFFFFFFFFF, 0)
    return s


write("sigstruct_fuzz", "headers_only.sig", sigstruct())
# An odd 3072-bit modulus: verification gets as far as the RSA check.
write("sigstruct_fuzz", "odd_modulus.sig", sigstruct(bytes([0x01]) + bytes(382) + bytes([0x80])))

# ---- machine_fuzz programs -------------------------------------------------

(ECREATE, EADD, EEXTEND, EINIT, EREMOVE, EAUG, EACCEPT, EACCEPTCOPY, EMODPR, EMODPE, EMODT, EPA,
 EBLOCK, ETRACK, EWB, ELDU, ELDB, EREPORT, EGETKEY, EENTER, EEXIT, AEX, ERESUME, EMAP, EUNMAP,
 READ, WRITE, COPY_ON_WRITE, TRANSLATE, BUILD, CORRUPT_BLOB) = range(31)
HOST, PLUGIN1, PLUGIN2, TINY = range(4)
ANY = 0x80  # "first page that fits" selector; 0x81 the second, ...

pie = [
    BUILD, HOST, 0, 0,  # host at 0x100000: SECS 0, pages 1-5 (TCS = 2)
    BUILD, PLUGIN1, 0, 0,  # plugin1 at 0x180000: SECS 6
    BUILD, PLUGIN2, 0, 0,  # plugin2 at 0x184000: SECS 9
    EENTER, 0, ANY,
    EMAP, 0, ANY + 1, PLUGIN1,
    EMAP, 0, ANY + 2, 4,  # expected = the plugin's own MRENCLAVE
    READ, 0, 0x02, 0x00, 0x00, 64, 0,
    WRITE, 0, 0x02, 0x00, 0x00, 16, 0, 0xAA,  # #PF: shared page
    COPY_ON_WRITE, 0, 0x02, 0x00, ANY,
    WRITE, 0, 0x02, 0x00, 0x00, 16, 0, 0xAA,
    READ, 0, 0x04, 0x00, 0x00, 0x00, 0x10,
    EREPORT, 0, 4, 0x55,
    EGETKEY, 0, 4, 0x01, 0x00, 0, 0, 0, 0xFF,
    TRANSLATE, 0, 0x02, 0x01, 0x00,
    EUNMAP, 0, ANY + 1,
    EEXIT, 0,
    EREMOVE, 6, 0,  # CHILD_PRESENT: plugin1's SECS still has pages
]
write("machine_fuzz", "pie_cow.bin", pie)

paging = [
    BUILD, HOST, 0, 0,
    EPA, ANY, 0,
    EBLOCK, 1, 0,
    ETRACK, ANY, 0,
    EWB, 1, ANY, 0, 0,
    ELDU, 0, ANY, ANY, 1, 0,  # the recorded VA slot
    EENTER, 0, ANY,
    READ, 0, 0x00, 0x00, 0x00, 16, 0,
    AEX, 0,
    ERESUME, 0, ANY,
    EEXIT, 0,
    EBLOCK, 3, 0,
    ETRACK, ANY, 0,
    EWB, 3, ANY, 1, 0,
    CORRUPT_BLOB, 1, 1, 0, 1,
    ELDB, 1, ANY, ANY, 1, 0,  # MAC mismatch
    ELDB, 0, ANY, ANY, 1, 0,  # replay: slot already cleared
]
write("machine_fuzz", "paging.bin", paging)

R, W, X, PENDING, MODIFIED, PR = 1, 2, 4, 8, 16, 32
sgx2 = [
    BUILD, HOST, 0, 0,
    EAUG, ANY, 0x00, 0x08, ANY, 0,  # EPC page 6 at 0x108000
    EAUG, ANY, 0x00, 0x09, ANY, 0,  # EPC page 7 at 0x109000
    EENTER, 0, ANY,
    EACCEPTCOPY, 0, R | W, PT_REG, 0x00, 0x09, 0x00, 0x00,  # copy of the page at 0x100000
    EACCEPT, 0, R | W | PENDING, PT_REG, 0x00, 0x08,
    WRITE, 0, 0x00, 0x08, 0x00, 32, 0, 0x11,
    EMODPE, 0, R | W | X, PT_REG, 0x00, 0x08,
    EEXIT, 0,
    EMODPR, R, PT_REG, 6, 0,
    ETRACK, ANY, 0,
    EENTER, 0, ANY,
    EACCEPT, 0, R | PR, PT_REG, 0x00, 0x08,
    EEXIT, 0,
    EMODT, 0, 4, 6, 0,  # PT_TRIM
    ETRACK, ANY, 0,
    EENTER, 0, ANY,
    EACCEPT, 0, MODIFIED, 4, 0x00, 0x08,
    READ, 0, 0x00, 0x09, 0x00, 0x00, 0x10,
    EEXIT, 0,
    EREMOVE, 6, 0,
]
write("machine_fuzz", "sgx2.bin", sgx2)

steps = [ECREATE, PLUGIN1, 0, 0, ANY, 0]
for page, flags in ((0, PT_SREG << 8 | R), (1, PT_SREG << 8 | R | W | X)):
    steps += [EADD, ANY, 0x02, page, flags & 0xFF, flags >> 8, 0, ANY, 0]
    for chunk in range(16):
        steps += [EEXTEND, ANY, 0x02, page, chunk, 0]
steps += [EINIT, ANY, 7, 0,  # validly signed, wrong ENCLAVEHASH
          EINIT, ANY, 0, 0,  # the host's SIGSTRUCT
          EINIT, ANY, PLUGIN1, 0,
          EREMOVE, 1, 0,
          ECREATE, 0xC0, 13, 0x01, 0x00, 1, 0x04, 0x03, ANY, 0]  # raw SECS fields
write("machine_fuzz", "stepwise_plugin.bin", steps)
