# SPDX-License-Identifier: MIT
"""Malformed PE/COFF and Linux zboot images: one defect per case.

Every case starts from a valid image written by pe-gen (tests/unit/pe_gen.c,
independent of lib/pe), breaks one thing with struct.pack_into or by
cutting the file, runs one bootpack command on it and asserts:
  - stderr is exactly `bootpack: 'PATH': message` (one line; `pe verify`
    prints one line per problem and a FAILED line, all asserted),
  - the exit status is 1 and nothing is printed on stdout,
  - the output directory is still empty (no output, no temporary file),
  - the input is byte-identical afterwards.

The messages are the specification: each names the field and the values
that are wrong, computed here from the PE/COFF specification, pe-gen's
--layout report and Linux's zboot header (drivers/firmware/efi/libstub/
zboot-header.S: "zimg" at 4, le32 payload offset at 8, le32 payload size
at 0x0c, NUL-terminated compression name from 0x18, ending before 0x38;
every compression but gzip is followed by the le32 uncompressed size).
Compressed payloads are made here (zlib, lzma, hand-built zstd frames and
legacy lz4 blocks), so no real kernel is needed and the file runs in a
few seconds.

The certificate-table cases (Authenticode) start from pe-gen's image signed
by bootpack with a db key made at test time (signkeys.Pki) and are checked
with pe verify --cert, pe info and pe sign; see their section below.
"""

import functools
import hashlib
import json
import lzma
import os
import random
import struct
import zlib
from pathlib import Path

import pefile
import pytest

from conftest import run
from signkeys import pki, sign_keys  # noqa: F401
from test_pe_sign import authenticode_digest

# PE/COFF (Microsoft "PE Format") offsets used by the mutations.
DOS_SIZE = 0x40
E_LFANEW = 0x3c
COFF_N_SECTIONS, COFF_SIZE_OF_OPT = 2, 16
OPT_MAGIC, OPT_SECTION_ALIGN, OPT_FILE_ALIGN = 0, 32, 36
OPT_SIZE_OF_IMAGE, OPT_SIZE_OF_HEADERS = 56, 60
OPT_ENTRY, OPT_DIRS_PE32PLUS = 16, 112
NRVA = {"PE32": 92, "PE32+": 108}              # NumberOfRvaAndSizes
SECTION = 40
SEC_VSIZE, SEC_VA, SEC_RAW_SIZE, SEC_RAW_PTR = 8, 12, 16, 20

# Linux zboot header (zboot-header.S).
ZB_OFFSET, ZB_SIZE, ZB_NAME, ZB_NAME_END = 0x08, 0x0c, 0x18, 0x38
ZB_NAMES = "gzip, lz4, lzma, lzo, xzkern, zstd22 or zstd"

MiB = 1 << 20
# bootpack signs without a signing time unless SOURCE_DATE_EPOCH asks for one.
NO_SDE = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def invalid(msg):
    """What an edit says about an image with an error in it."""
    return f"refusing to edit an invalid image: {msg}"


def verify_lines(errors, warnings=()):
    """pe verify's stderr lines: problems in the order found, then FAILED."""
    n = len(errors)
    return ([f"error: {e}" for e in errors] + [f"warning: {w}" for w in warnings] +
            [f"FAILED: {n} error{'' if n == 1 else 's'}"])


# --------------------------------------------------------------------------
# Payloads: a stand-in arm64 kernel Image and its compressed forms.

def kernel(n, pattern=False):
    """n bytes (zeros, or a byte ramp that compresses less) with the arm64
    Image magic at 0x38, which is what bootpack checks the result for."""
    img = bytearray(bytes(range(256)) * (n // 256 + 1))[:n] if pattern else bytearray(n)
    img[0x38:0x3c] = b"ARM\x64"
    return bytes(img)


def gzip_member(data):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def zstd_frame(blocks, fcs=None):
    """A zstd frame (RFC 8878) of raw blocks (bytes) and RLE blocks
    ((byte, count)); Frame_Content_Size as given (4-byte field) or absent.
    Window_Descriptor 0x50: 1 MiB window, so blocks up to 128 KiB."""
    out = bytearray(b"\x28\xb5\x2f\xfd") + bytes([0x80 if fcs is not None else 0, 0x50])
    if fcs is not None:
        out += struct.pack("<I", fcs)
    for i, b in enumerate(blocks):
        last = int(i == len(blocks) - 1)
        if isinstance(b, tuple):
            out += (last | 1 << 1 | b[1] << 3).to_bytes(3, "little") + bytes([b[0]])
        else:
            out += (last | len(b) << 3).to_bytes(3, "little") + b
    return bytes(out)


def zstd_kernel(n, fcs=None):
    """kernel(n) (header, then zeros) as one frame: 64 raw bytes, RLE zeros."""
    blocks, left = [kernel(DOS_SIZE)], n - DOS_SIZE
    while left:
        blocks.append((0, min(left, 128 << 10)))
        left -= blocks[-1][1]
    return zstd_frame(blocks, fcs)


def lz4_legacy_block(n):
    """One legacy-lz4 block (lz4 -l) decoding to kernel(n): the 64-byte
    header as literals, a match of zeros at offset 1, five literal zeros
    (LZ4 block format: a block ends with at least 5 literals)."""
    ext = bytearray()
    r = n - DOS_SIZE - 5 - 4 - 15
    while r >= 255:
        ext.append(255)
        r -= 255
    ext.append(r)
    seq = bytes([0xff, DOS_SIZE - 15]) + kernel(DOS_SIZE) + b"\x01\x00" + bytes(ext)
    return seq + bytes([0x50]) + bytes(5)


def lz4_legacy(block):
    return struct.pack("<II", 0x184c2102, len(block)) + block


def xz(data):
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)


# --------------------------------------------------------------------------
# Base images from pe-gen.

class Gen:
    """pe-gen images (cached per option list) and their --layout reports;
    pe-gen's default image signed by bootpack (keys made on first use), and
    the certificate-table rows built from it."""

    def __init__(self, pe_gen, work, bootpack, pki):  # noqa: F811
        self.pe_gen, self.dir, self.cache = pe_gen, work / "base", {}
        self.bootpack, self.pki, self.rows, self._signed = bootpack, pki, {}, None
        self.dir.mkdir()

    def db(self):
        """(key, certificate) trusted by the signature cases."""
        return self.pki.self_signed("db")

    def sign(self, name, key, crt, *extra):
        """pe-gen's default image signed by bootpack (no signing time)."""
        src, out = self.dir / "to-sign.efi", self.dir / f"{name}.efi"
        src.write_bytes(self.image()[0])
        run([self.bootpack, "pe", "sign", src, "--key", key, "--cert", crt, "-o", out, *extra],
            env=NO_SDE)
        return out.read_bytes()

    def signed(self):
        if self._signed is None:
            self._signed = Signed(self, self.sign("signed-db", *self.db()))
        return self._signed

    def image(self, *args, payload=None):
        key = (args, payload)
        if key not in self.cache:
            out = self.dir / f"base-{len(self.cache)}.efi"
            extra = []
            if payload is not None:
                src = self.dir / f"payload-{len(self.cache)}.bin"
                src.write_bytes(payload)
                extra = ["--payload", src]
            proc = run([self.pe_gen, *args, *extra, "--layout", out])
            self.cache[key] = (out.read_bytes(), json.loads(proc.stdout))
        data, layout = self.cache[key]
        return bytearray(data), layout

    def zboot(self, comp, stream, size_after=None, *args):
        """A zboot image holding `stream`, followed (all but gzip) by the
        le32 size_after; the header's size covers the stream only."""
        tail = b"" if size_after is None else struct.pack("<I", size_after)
        data, lay = self.image("--zboot", comp, *args, payload=stream + tail)
        struct.pack_into("<I", data, ZB_SIZE, len(stream))
        return data, lay


def sec(lay, i, field):
    return lay["sect_table_offset"] + SECTION * i + field


def opt(lay, field):
    return lay["opt_offset"] + field


def u32(data, off, v):
    struct.pack_into("<I", data, off, v)


def u16(data, off, v):
    struct.pack_into("<H", data, off, v)


# --------------------------------------------------------------------------
# The cases: name -> (command, extra arguments, builder). A builder gets a
# Gen and returns (image bytes, expected message or list of lines).

CASES = {}


def case(name, cmd, *extra):
    def register(fn):
        assert name not in CASES, name
        CASES[name] = (cmd, list(extra), fn)
        return fn
    return register


def cut(n, base=()):
    def build(g):
        data, lay = g.image(*base)
        return bytes(data[:n(lay)]), lay
    return build


# Truncation at every header boundary. pe-gen's default PE32+ image: DOS
# header, "PE\0\0" at e_lfanew 0x40, COFF header at 0x44, optional header
# (240 bytes) at 0x58: standard fields to 0x70, Windows-specific fields to
# 0xc8, 16 data directories to 0x148; section table (2 entries) to 0x198;
# SizeOfHeaders 0x200.
def too_short(n):
    return f"not a PE image: file is {n} bytes, shorter than the 64-byte DOS header"


def opt_cut(lay, n, part):
    return (f"optional header ({lay['opt_size']} bytes at {lay['opt_offset']:#x}) extends past "
            f"the end of the file ({n:#x}): the file ends in its {part}")


def table_cut(lay, n, entries=None):
    entries = lay["n_sections"] if entries is None else entries
    return (f"section table ({entries} entries of 40 bytes at {lay['sect_table_offset']:#x}) "
            f"extends past the end of the file ({n:#x}): it holds only "
            f"{(n - lay['sect_table_offset']) // SECTION} of them")


TRUNCATIONS = [
    # name, command, base options, cut length, expected message
    ("cut-empty", "info", (), lambda L: 0, lambda L, n: too_short(0)),
    ("cut-in-dos-header", "add", (), lambda L: 0x20, lambda L, n: too_short(n)),
    ("cut-in-e_lfanew", "extract", (), lambda L: E_LFANEW + 2, lambda L, n: too_short(n)),
    ("cut-after-e_lfanew", "remove", (), lambda L: DOS_SIZE,
     lambda L, n: f"PE signature (4 bytes at e_lfanew {L['pe_offset']:#x}) extends past the "
                  f"end of the file ({n:#x})"),
    ("cut-in-pe-signature", "replace", (), lambda L: L["pe_offset"] + 2,
     lambda L, n: f"PE signature (4 bytes at e_lfanew {L['pe_offset']:#x}) extends past the "
                  f"end of the file ({n:#x})"),
    ("cut-after-pe-signature", "info", (), lambda L: L["coff_offset"],
     lambda L, n: f"COFF file header (20 bytes at {L['coff_offset']:#x}) extends past the "
                  f"end of the file ({n:#x})"),
    ("cut-in-coff-header", "verify", (), lambda L: L["coff_offset"] + 12,
     lambda L, n: f"COFF file header (20 bytes at {L['coff_offset']:#x}) extends past the "
                  f"end of the file ({n:#x})"),
    ("cut-after-coff-header", "add", (), lambda L: L["opt_offset"],
     lambda L, n: opt_cut(L, n, "standard fields")),
    ("cut-in-magic", "extract", (), lambda L: L["opt_offset"] + 1,
     lambda L, n: opt_cut(L, n, "standard fields")),
    ("cut-in-standard-fields", "remove", (), lambda L: L["opt_offset"] + 16,
     lambda L, n: opt_cut(L, n, "standard fields")),
    # Offset 26 is BaseOfData in PE32 but ImageBase in PE32+.
    ("pe32-cut-in-base-of-data", "add", ("--pe32",), lambda L: L["opt_offset"] + 26,
     lambda L, n: opt_cut(L, n, "standard fields")),
    ("cut-in-image-base", "replace", (), lambda L: L["opt_offset"] + 26,
     lambda L, n: opt_cut(L, n, "Windows-specific fields")),
    ("cut-in-windows-fields", "info", (), lambda L: L["opt_offset"] + 64,
     lambda L, n: opt_cut(L, n, "Windows-specific fields")),
    ("pe32-cut-in-number-of-rva", "verify", ("--pe32",),
     lambda L: L["opt_offset"] + NRVA["PE32"] + 2,
     lambda L, n: opt_cut(L, n, "Windows-specific fields")),
    ("cut-in-data-directories", "add", (), lambda L: L["opt_offset"] + NRVA["PE32+"] + 4 + 8 * 5,
     lambda L, n: opt_cut(L, n, "data directories")),
    ("cut-after-optional-header", "extract", (), lambda L: L["sect_table_offset"],
     lambda L, n: table_cut(L, n)),
    ("cut-in-section-table", "remove", (), lambda L: L["sect_table_offset"] + SECTION + 8,
     lambda L, n: table_cut(L, n)),
    ("cut-before-size-of-headers", "add", (), lambda L: L["sect_table_end"] + 8,
     lambda L, n: invalid(f"SizeOfHeaders {L['size_of_headers']:#x} is past the end of the "
                          f"file ({n:#x})")),
    ("cut-in-section-data", "replace", (), lambda L: L["file_len"] - 0x400,
     lambda L, n: invalid(f"section 1 '.data': PointerToRawData {L['sect_raw_ptr'][1]:#x} + "
                          f"SizeOfRawData {L['sect_raw_size'][1]:#x} = {L['file_len']:#x} is "
                          f"past the end of the file ({n:#x})")),
]

for _name, _cmd, _base, _n, _msg in TRUNCATIONS:
    def _build(g, base=_base, n=_n, msg=_msg):
        data, lay = cut(n, base)(g)
        return data, msg(lay, len(data))
    case(_name, _cmd)(_build)


# e_lfanew.
def lfanew(value):
    def build(g):
        data, lay = g.image()
        u32(data, E_LFANEW, value(len(data)))
        return data, lay
    return build


@case("e_lfanew-in-dos-header", "add")
def _(g):
    data, _ = lfanew(lambda n: 0x30)(g)
    return data, "e_lfanew 0x30 points inside the 64-byte DOS header"


@case("e_lfanew-zero", "extract")
def _(g):
    data, _ = lfanew(lambda n: 0)(g)
    return data, "e_lfanew 0x0 points inside the 64-byte DOS header"


@case("e_lfanew-past-eof", "info")
def _(g):
    data, _ = lfanew(lambda n: 0x10000)(g)
    return data, f"e_lfanew 0x10000 is past the end of the file ({len(data):#x})"


@case("e_lfanew-wraps", "remove")
def _(g):
    data, _ = lfanew(lambda n: 0xfffffffe)(g)
    return data, f"e_lfanew 0xfffffffe is past the end of the file ({len(data):#x})"


@case("e_lfanew-at-last-bytes", "replace")
def _(g):
    data, _ = lfanew(lambda n: n - 2)(g)
    n = len(data)
    return data, (f"PE signature (4 bytes at e_lfanew {n - 2:#x}) extends past the end of the "
                  f"file ({n:#x})")


@case("e_lfanew-misses-signature", "verify")
def _(g):
    # Off by four: at the COFF header, whose Machine is arm64 (0xaa64), 2 sections.
    data, lay = lfanew(lambda n: 0x44)(g)
    return data, 'no "PE\\0\\0" signature at e_lfanew 0x44 (found 64 aa 02 00)'


# Removing the last section shrinks SizeOfImage to its address: what lies
# beyond, outside every section, would fall out of the image (found by
# fuzz_pe, tests/fuzz/regress/pe/).
@case("remove-last-leaves-entry-outside", "remove")
def _(g):
    data, lay = g.image()
    u32(data, lay["opt_offset"] + OPT_ENTRY, 0x3800)   # past .data's 0x456 bytes at 0x3000
    return data, ("removing section '.data' would shrink SizeOfImage to 0x3000, leaving the "
                  "entry point 0x3800 outside the image")


@case("remove-last-leaves-directory-outside", "remove")
def _(g):
    data, lay = g.image()
    u32(data, lay["opt_offset"] + OPT_DIRS_PE32PLUS + 8 * 1, 0x3a00)   # import table
    u32(data, lay["opt_offset"] + OPT_DIRS_PE32PLUS + 8 * 1 + 4, 0x20)
    return data, ("removing section '.data' would shrink SizeOfImage to 0x3000, leaving data "
                  "directory 1 (RVA 0x3a00, 0x20 bytes) outside the image")


# COFF file header.
@case("sections-0", "add")
def _(g):
    data, lay = g.image()
    u16(data, lay["coff_offset"] + COFF_N_SECTIONS, 0)
    return data, invalid("NumberOfSections is 0: the image has no sections")


@case("sections-0-verify", "verify")
def _(g):
    data, lay = g.image()
    u16(data, lay["coff_offset"] + COFF_N_SECTIONS, 0)
    return data, verify_lines(["NumberOfSections is 0: the image has no sections"],
                              [f"entry point {lay['entry_rva']:#x} is in no section"])


@case("sections-65535", "info")
def _(g):
    data, lay = g.image()
    u16(data, lay["coff_offset"] + COFF_N_SECTIONS, 65535)
    return data, table_cut(lay, len(data), 65535)


@case("sections-65535-same-raw-data", "add")
def _(g):
    """A table that fits (2.6 MB), every entry naming the same raw data:
    about 2^31 overlapping pairs, so the check must not compare all pairs."""
    data, lay = g.image()
    table = lay["sect_table_offset"]
    end = table + SECTION * 65535
    data[lay["file_len"]:] = bytes(end - lay["file_len"])
    entry = data[table:table + SECTION]
    data[table:end] = entry * 65535
    u16(data, lay["coff_offset"] + COFF_N_SECTIONS, 65535)
    return data, invalid(f"SizeOfHeaders {lay['size_of_headers']:#x} ends before the section "
                         f"table does ({end:#x})")


@case("sections-65535-same-raw-data-verify", "verify")
def _(g):
    """The same image listed: 131069 errors, the first 100 shown, then a count."""
    data, _ = CASES["sections-65535-same-raw-data"][2](g)
    lay = g.image()[1]
    end = lay["sect_table_offset"] + SECTION * 65535
    va, vend = lay["sect_va"][0], lay["sect_va"][0] + lay["sect_vsize"][0]
    shown = [f"SizeOfHeaders {lay['size_of_headers']:#x} ends before the section table does "
             f"({end:#x})"]
    shown += [f"section {i} '.text': VirtualAddress {va:#x} overlaps section {i - 1} '.text' "
              f"(RVA {va:#x}..{vend:#x})" for i in range(1, 100)]
    # One virtual and one raw overlap for each section after the first.
    total = 1 + 2 * 65534
    lines = verify_lines(shown + [f"{total - 100} more problems not listed"])
    return data, lines[:-1] + [f"FAILED: {total} errors"]


@case("sections-past-size-of-headers", "remove")
def _(g):
    data, lay = g.image()
    u16(data, lay["coff_offset"] + COFF_N_SECTIONS, 10)
    end = lay["sect_table_offset"] + 10 * SECTION
    return data, invalid(f"SizeOfHeaders {lay['size_of_headers']:#x} ends before the section "
                         f"table does ({end:#x})")


@case("size-of-headers-below-table", "verify")
def _(g):
    data, lay = g.image()
    u32(data, opt(lay, OPT_SIZE_OF_HEADERS), 0x180)
    return data, verify_lines([f"SizeOfHeaders 0x180 ends before the section table does "
                               f"({lay['sect_table_end']:#x})"])


# Optional header size and magic.
@case("size-of-optional-header-0", "add")
def _(g):
    data, lay = g.image()
    u16(data, lay["coff_offset"] + COFF_SIZE_OF_OPT, 0)
    return data, ("SizeOfOptionalHeader 0 is too small for an optional header (96 bytes for "
                  "PE32, 112 for PE32+, without data directories)")


@case("size-of-optional-header-1", "extract")
def _(g):
    data, lay = g.image()
    u16(data, lay["coff_offset"] + COFF_SIZE_OF_OPT, 1)
    return data, ("SizeOfOptionalHeader 1 is too small for an optional header (96 bytes for "
                  "PE32, 112 for PE32+, without data directories)")


@case("size-of-optional-header-too-small", "info")
def _(g):
    data, lay = g.image()
    u16(data, lay["coff_offset"] + COFF_SIZE_OF_OPT, 100)
    return data, "SizeOfOptionalHeader 100 is smaller than the 112 bytes of a PE32+ optional header"


@case("pe32-size-of-optional-header-too-small", "remove")
def _(g):
    data, lay = g.image("--pe32")
    u16(data, lay["coff_offset"] + COFF_SIZE_OF_OPT, 92)
    return data, "SizeOfOptionalHeader 92 is smaller than the 96 bytes of a PE32 optional header"


@case("size-of-optional-header-too-large", "replace")
def _(g):
    data, lay = g.image()
    u16(data, lay["coff_offset"] + COFF_SIZE_OF_OPT, 0x400)
    return data, invalid("SizeOfOptionalHeader 1024 does not match NumberOfRvaAndSizes 16 "
                         "(expected 240)")


@case("size-of-optional-header-past-eof", "extract")
def _(g):
    data, lay = g.image()
    u16(data, lay["coff_offset"] + COFF_SIZE_OF_OPT, 0xffff)
    n = len(data)
    return data, (f"optional header (65535 bytes at {lay['opt_offset']:#x}) extends past the "
                  f"end of the file ({n:#x}): the file ends in its data directories")


@case("magic-pe32-with-pe32plus-header", "add")
def _(g):
    data, lay = g.image()
    u16(data, opt(lay, OPT_MAGIC), 0x10b)
    return data, invalid("optional header magic 0x10b (PE32) does not match SizeOfOptionalHeader "
                         "240: that is the size of a PE32+ optional header with 16 data "
                         "directories")


@case("magic-pe32plus-in-pe32", "verify")
def _(g):
    data, lay = g.image("--pe32")
    u16(data, opt(lay, OPT_MAGIC), 0x20b)
    return data, verify_lines(["optional header magic 0x20b (PE32+) does not match "
                               "SizeOfOptionalHeader 224: that is the size of a PE32 optional "
                               "header with 16 data directories"])


@case("magic-unknown", "remove")
def _(g):
    data, lay = g.image()
    u16(data, opt(lay, OPT_MAGIC), 0x107)
    return data, "unknown optional header magic 0x107 (expected 0x10b for PE32 or 0x20b for PE32+)"


@case("number-of-rva-and-sizes-17", "add")
def _(g):
    data, lay = g.image()
    u32(data, opt(lay, NRVA["PE32+"]), 17)
    return data, invalid("NumberOfRvaAndSizes is 17; EDK2 accepts at most 16")


# Sections: raw data.
def raw_msg(lay, i, name, ptr, size, n):
    end = ptr + size
    where = "overflows 32 bits" if end >> 32 else f"is past the end of the file ({n:#x})"
    return (f"section {i} '{name}': PointerToRawData {ptr:#x} + SizeOfRawData {size:#x} = "
            f"{end:#x} {where}")


@case("raw-data-past-eof", "add")
def _(g):
    data, lay = g.image()
    u32(data, sec(lay, 1, SEC_RAW_SIZE), 0x800)
    return data, invalid(raw_msg(lay, 1, ".data", lay["sect_raw_ptr"][1], 0x800, len(data)))


@case("raw-pointer-wraps", "remove")
def _(g):
    data, lay = g.image()
    u32(data, sec(lay, 1, SEC_RAW_PTR), 0xfffffe00)
    return data, invalid(raw_msg(lay, 1, ".data", 0xfffffe00, lay["sect_raw_size"][1],
                                 len(data)))


@case("raw-size-wraps", "verify")
def _(g):
    data, lay = g.image()
    u32(data, sec(lay, 0, SEC_RAW_SIZE), 0xfffffe00)
    # .text's raw data now also covers .data's.
    ptr0, ptr1, size1 = lay["sect_raw_ptr"][0], lay["sect_raw_ptr"][1], lay["sect_raw_size"][1]
    return data, verify_lines([
        raw_msg(lay, 0, ".text", ptr0, 0xfffffe00, len(data)),
        f"section 1 '.data': raw data {ptr1:#x}..{ptr1 + size1:#x} overlaps section 0 "
        f"'.text' ({ptr0:#x}..{ptr0 + 0xfffffe00:#x})"])


@case("raw-data-overlap", "replace")
def _(g):
    data, lay = g.image()
    ptr0, size0, size1 = lay["sect_raw_ptr"][0], lay["sect_raw_size"][0], lay["sect_raw_size"][1]
    u32(data, sec(lay, 1, SEC_RAW_PTR), ptr0 + size0 - 0x200)
    p = ptr0 + size0 - 0x200
    return data, invalid(f"section 1 '.data': raw data {p:#x}..{p + size1:#x} overlaps section 0 "
                         f"'.text' ({ptr0:#x}..{ptr0 + size0:#x})")


@case("raw-data-overlap-in-place", "remove-in-place")
def _(g):
    data, lay = g.image()
    ptr0, size0 = lay["sect_raw_ptr"][0], lay["sect_raw_size"][0]
    u32(data, sec(lay, 1, SEC_RAW_PTR), ptr0)
    size1 = lay["sect_raw_size"][1]
    return data, invalid(f"section 1 '.data': raw data {ptr0:#x}..{ptr0 + size1:#x} overlaps "
                         f"section 0 '.text' ({ptr0:#x}..{ptr0 + size0:#x})")


@case("section-name-with-newline", "add")
def _(g):
    """File bytes in a message are escaped, so it stays one line."""
    data, lay = g.image()
    data[sec(lay, 1, 0):sec(lay, 1, 8)] = b".da\nta\x7f\xcc"
    u32(data, sec(lay, 1, SEC_RAW_SIZE), 0x800)
    return data, invalid(raw_msg(lay, 1, ".da\\x0ata\\x7f\\xcc", lay["sect_raw_ptr"][1], 0x800,
                                 len(data)))


# Sections: virtual addresses.
@case("virtual-overlap", "add")
def _(g):
    data, lay = g.image()
    va0, vs0 = lay["sect_va"][0], lay["sect_vsize"][0]
    u32(data, sec(lay, 1, SEC_VA), 0x2000)
    return data, invalid(f"section 1 '.data': VirtualAddress 0x2000 overlaps section 0 '.text' "
                         f"(RVA {va0:#x}..{va0 + vs0:#x})")


@case("virtual-out-of-order", "remove")
def _(g):
    data, lay = g.image("--sections", "3")
    va1, va2 = lay["sect_va"][1], lay["sect_va"][2]
    u32(data, sec(lay, 1, SEC_VA), va2)
    u32(data, sec(lay, 2, SEC_VA), va1)
    return data, invalid(f"section 2 '.rdata': VirtualAddress {va1:#x} is below that of section 1 "
                         f"'.data' ({va2:#x}); sections must be in ascending address order")


@case("raw-and-virtual-overlap", "verify")
def _(g):
    data, lay = g.image()
    va0, vs0 = lay["sect_va"][0], lay["sect_vsize"][0]
    ptr0, size0, size1 = lay["sect_raw_ptr"][0], lay["sect_raw_size"][0], lay["sect_raw_size"][1]
    u32(data, sec(lay, 1, SEC_VA), va0)
    u32(data, sec(lay, 1, SEC_RAW_PTR), ptr0)
    return data, verify_lines([
        f"section 1 '.data': VirtualAddress {va0:#x} overlaps section 0 '.text' "
        f"(RVA {va0:#x}..{va0 + vs0:#x})",
        f"section 1 '.data': raw data {ptr0:#x}..{ptr0 + size1:#x} overlaps section 0 '.text' "
        f"({ptr0:#x}..{ptr0 + size0:#x})"])


@case("virtual-end-wraps", "replace")
def _(g):
    data, lay = g.image()
    u32(data, sec(lay, 1, SEC_VA), 0xfffff000)
    u32(data, sec(lay, 1, SEC_VSIZE), 0x2000)
    return data, invalid(f"section 1 '.data': VirtualAddress 0xfffff000 + VirtualSize 0x2000 = "
                         f"0x100001000 is past SizeOfImage {lay['size_of_image']:#x}")


# Edits that would push SizeOfImage past 32 bits (the field would wrap).
@case("add-past-4gib", "add")
def _(g):
    data, lay = g.image()
    u32(data, opt(lay, OPT_SIZE_OF_IMAGE), 0xfffff000)
    return data, ("section '.bpf' (300 bytes at RVA 0xfffff000) would end at 0x100000000 "
                  "(SectionAlignment 0x1000), past the 4 GiB that SizeOfImage can describe")


@case("replace-past-4gib", "replace", "--file-size", "8192")
def _(g):
    data, lay = g.image()
    u32(data, opt(lay, OPT_SIZE_OF_IMAGE), 0xfffff000)
    u32(data, sec(lay, 1, SEC_VA), 0xffffe000)
    return data, ("section '.data' (8192 bytes at RVA 0xffffe000) would end at 0x100000000 "
                  "(SectionAlignment 0x1000), past the 4 GiB that SizeOfImage can describe")


@case("file-alignment-256m", "add")
def _(g):
    """Padding section data to FileAlignment must not allocate hundreds of MiB."""
    data, lay = g.image()
    u32(data, opt(lay, OPT_FILE_ALIGN), 0x10000000)
    u32(data, opt(lay, OPT_SECTION_ALIGN), 0x10000000)
    return data, ("FileAlignment 0x10000000 is larger than 64 KiB, the most the PE format "
                  "allows; refusing to pad section data to it")


# zboot header. A gzip payload of a small kernel in .text.
KERNEL = kernel(4096, pattern=True)


def zgzip(g, *args):
    return g.zboot("gzip", gzip_member(KERNEL), None, *args)


def zb_set(data, off=None, size=None):
    if off is not None:
        u32(data, ZB_OFFSET, off)
    if size is not None:
        u32(data, ZB_SIZE, size)


def zb_size(data):
    return struct.unpack_from("<I", data, ZB_SIZE)[0]


def past_eof(size, off, n):
    return f"zboot: payload ({size:#x} bytes at {off:#x}) extends past the end of the file ({n:#x})"


@case("zboot-payload-past-eof", "extract")
def _(g):
    data, lay = zgzip(g)
    zb_set(data, off=0x10000)
    return data, past_eof(zb_size(data), 0x10000, len(data))


@case("zboot-payload-past-eof-edit", "add")
def _(g):
    data, lay = zgzip(g)
    zb_set(data, off=len(data) - 0x10)
    return data, invalid(past_eof(zb_size(data), len(data) - 0x10, len(data)))


@case("zboot-payload-wraps", "extract")
def _(g):
    data, lay = zgzip(g)
    zb_set(data, off=0xffffff00)
    return data, past_eof(zb_size(data), 0xffffff00, len(data))


@case("zboot-payload-size-wraps", "remove")
def _(g):
    data, lay = zgzip(g)
    zb_set(data, size=0xfffffff0)
    return data, invalid(past_eof(0xfffffff0, lay["zboot_payload_offset"], len(data)))


@case("zboot-payload-size-0", "extract")
def _(g):
    data, lay = zgzip(g)
    zb_set(data, size=0)
    return data, f"zboot: payload size is 0 (payload offset {lay['zboot_payload_offset']:#x})"


@case("zboot-payload-runs-out-of-section", "extract")
def _(g):
    data, lay = zgzip(g)
    ptr, size = lay["sect_raw_ptr"][0], lay["sect_raw_size"][0]
    off = ptr + size - 0x10
    zb_set(data, off=off)
    return data, (f"zboot: payload ({zb_size(data):#x} bytes at {off:#x}) runs past the end of "
                  f"section 0 '.text' (raw data {ptr:#x}..{ptr + size:#x})")


@case("zboot-payload-in-headers", "add")
def _(g):
    data, lay = zgzip(g)
    zb_set(data, off=0x100)
    return data, invalid(f"zboot: payload ({zb_size(data):#x} bytes at 0x100) lies in no "
                         f"section's raw data")


@case("zboot-payload-in-overlay", "extract")
def _(g):
    data, lay = zgzip(g, "--overlay", "4096")
    off = lay["overlay_offset"]
    zb_set(data, off=off)
    return data, (f"zboot: payload ({zb_size(data):#x} bytes at {off:#x}) lies in no section's "
                  f"raw data")


@case("zboot-unknown-compression", "extract")
def _(g):
    data, lay = zgzip(g)
    data[ZB_NAME:ZB_NAME + 6] = b"bogus\0"
    return data, f"zboot: unknown compression 'bogus' (Linux writes {ZB_NAMES})"


@case("zboot-unknown-compression-edit", "remove")
def _(g):
    data, lay = zgzip(g)
    data[ZB_NAME:ZB_NAME + 5] = b"gzip2"
    return data, invalid(f"zboot: unknown compression 'gzip2' (Linux writes {ZB_NAMES})")


@case("zboot-compression-name-unterminated", "extract")
def _(g):
    data, lay = zgzip(g)
    data[ZB_NAME:ZB_NAME_END] = b"x" * (ZB_NAME_END - ZB_NAME)
    return data, "zboot: the compression name at 0x18 has no NUL before 0x38"


@case("zboot-compression-name-control-chars", "verify")
def _(g):
    data, lay = zgzip(g)
    data[ZB_NAME:ZB_NAME + 6] = b"gz\nip\0"
    return data, verify_lines([f"zboot: unknown compression 'gz\\x0aip' (Linux writes {ZB_NAMES})"])


@case("zboot-size-field-past-eof", "extract")
def _(g):
    """A zstd payload ending exactly at the end of the file (and of .data):
    no room for the le32 size that follows every zstd stream."""
    data, lay = g.zboot("zstd", zstd_kernel(4096), 4096)
    end = lay["file_len"]
    u32(data, ZB_OFFSET, end - zb_size(data))
    return data, (f"zboot: the le32 size after the zstd payload (at {end:#x}) is past the end "
                  f"of the file ({end:#x})")


# Decompression bombs and sizes that lie. "the size after it": the le32
# Linux's Makefile.zboot appends to every stream but gzip.
@case("gzip-bomb", "extract", "--max-size", "1M")
def _(g):
    data, lay = g.zboot("gzip", gzip_member(kernel(8 * MiB)))
    return data, ("zboot: cannot decompress the gzip payload: decompressed size exceeds limit "
                  f"of {MiB} bytes")


@case("gzip-isize-says-more", "extract")
def _(g):
    stream = bytearray(gzip_member(KERNEL))
    u32(stream, len(stream) - 4, len(KERNEL) + 1)
    data, lay = g.zboot("gzip", bytes(stream))
    return data, (f"zboot: cannot decompress the gzip payload: gzip trailer ISIZE is "
                  f"{len(KERNEL) + 1} but the member decompresses to {len(KERNEL)} bytes")


@case("gzip-isize-says-less", "extract")
def _(g):
    stream = bytearray(gzip_member(KERNEL))
    u32(stream, len(stream) - 4, len(KERNEL) - 1)
    data, lay = g.zboot("gzip", bytes(stream))
    return data, (f"zboot: cannot decompress the gzip payload: gzip trailer ISIZE is "
                  f"{len(KERNEL) - 1} but the member decompresses to {len(KERNEL)} bytes")


@case("gzip-truncated", "extract")
def _(g):
    data, lay = zgzip(g)
    zb_set(data, size=zb_size(data) // 2)
    return data, "zboot: cannot decompress the gzip payload: gzip data is truncated"


@case("zstd-declared-over-max-size", "extract", "--max-size", "1M")
def _(g):
    data, lay = g.zboot("zstd22", zstd_kernel(4 * MiB), 4 * MiB)
    return data, (f"zboot: the payload declares {4 * MiB} decompressed bytes, more than the "
                  f"limit of {MiB}")


@case("zstd-bomb-size-says-less", "extract")
def _(g):
    """64 MiB from 2 KiB, the size after it claiming 4096: decoding stops
    at 4096 bytes instead of filling memory up to --max-size (1 GiB)."""
    data, lay = g.zboot("zstd", zstd_kernel(64 * MiB), 4096)
    return data, ("zboot: the zstd payload decompresses to more than the 4096 bytes the size "
                  "after it says")


@case("zstd-size-says-more", "extract")
def _(g):
    data, lay = g.zboot("zstd22", zstd_kernel(4096), 4097)
    return data, ("zboot: the zstd22 payload decompresses to 4096 bytes, but the size after it "
                  "says 4097")


@case("zstd-frame-content-size-says-more", "extract")
def _(g):
    data, lay = g.zboot("zstd", zstd_kernel(4096, fcs=5000), 4096)
    return data, ("zboot: the zstd frame header says 5000 decompressed bytes "
                  "(Frame_Content_Size), but the size after the stream says 4096")


@case("zstd-frame-content-size-says-less", "extract")
def _(g):
    data, lay = g.zboot("zstd", zstd_kernel(4096, fcs=1000), 4096)
    return data, ("zboot: the zstd frame header says 1000 decompressed bytes "
                  "(Frame_Content_Size), but the size after the stream says 4096")


@case("zstd-both-sizes-say-more", "extract")
def _(g):
    data, lay = g.zboot("zstd", zstd_kernel(4096, fcs=5000), 5000)
    return data, ("zboot: cannot decompress the zstd payload: zstd frame 1 declares a "
                  "content size of 5000 bytes but decodes to 4096")


@case("zstd-truncated", "extract")
def _(g):
    stream = zstd_kernel(4096)
    # Cut inside the 64-byte raw block, the size field moved to follow the cut.
    data, lay = g.zboot("zstd", stream[:40], 4096)
    return data, "zboot: cannot decompress the zstd payload: zstd data is truncated"


@case("xz-bomb-size-says-less", "extract")
def _(g):
    data, lay = g.zboot("xzkern", xz(kernel(16 * MiB)), 8192)
    return data, ("zboot: the xzkern payload decompresses to more than the 8192 bytes the size "
                  "after it says")


@case("xz-truncated", "extract")
def _(g):
    stream = xz(KERNEL)
    data, lay = g.zboot("xzkern", stream[:len(stream) - 20], len(KERNEL))
    return data, "zboot: cannot decompress the xzkern payload: xz stream is truncated"


@case("lz4-bomb-size-says-less", "extract")
def _(g):
    data, lay = g.zboot("lz4", lz4_legacy(lz4_legacy_block(8 * MiB)), 1000)
    return data, ("zboot: the lz4 payload decompresses to more than the 1000 bytes the size "
                  "after it says")


@case("lz4-corrupt-block", "extract", "--max-size", "4096")
def _(g):
    """Match offset 0 is invalid: corruption, whatever the size limit."""
    block = bytes([0x1f]) + b"A" + b"\x00\x00" + bytes([0x50]) + bytes(5)
    data, lay = g.zboot("lz4", lz4_legacy(block), 100)
    return data, "zboot: cannot decompress the lz4 payload: legacy lz4: block 0 is corrupt"


@case("lz4-block-size-lies", "extract")
def _(g):
    block = lz4_legacy_block(4096)
    stream = struct.pack("<II", 0x184c2102, len(block) + 100) + block
    data, lay = g.zboot("lz4", stream, 4096)
    return data, (f"zboot: cannot decompress the lz4 payload: legacy lz4: block 0 claims "
                  f"{len(block) + 100} bytes; only {len(block)} remain")


# --------------------------------------------------------------------------
# Certificate tables (Authenticode). Each row breaks the certificate table of
# an image bootpack signed with the db key (pe-gen's default image, signed
# once per module); every mutation ends by recomputing CheckSum (pefile), so
# the table is the one defect. A row (a Row: the image and what each
# command must do with it) is a case of the table for pe verify --cert
# db.crt (exact lines, exit 1, checked by test_malformed above), and
# test_signature_table below runs it through pe info (exit 0: listing a bad
# table is its job; its lines from "Certificates:" on are exact) and pe sign
# --append and --replace (and, for a few rows, neither): a refusal is one
# line and exit 1 with nothing written, as in test_malformed; a sign that
# goes ahead must write what the row says.
# Offsets come from the file through pefile. The messages follow EDK2's
# DxeImageVerificationHandler, which walks the table from the Security
# directory's offset, stops at an entry whose dwLength (padded to 8) runs
# past the table, at a PKCS_SIGNED_DATA entry without data or at 8 bytes or
# fewer left, and then refuses the whole image whatever the entries before
# held; and the PE format: the table follows the headers and every
# section's raw data, 8-aligned, and ends the file.
#
# What a careful signer does: --replace drops the whole table, which is safe
# whatever its entries hold as long as the Security directory places it
# unambiguously (in the file, after the image data, at the end); it is
# refused when the table overlaps the image data, runs past the end of the
# file or has bytes after it, since then dropping it loses image bytes or
# keeps unsigned ones. --append keeps the entries, so it needs a table the
# firmware can walk (an entry that is merely not a signature is kept, and
# firmware skips it). Without either, a signed image is refused.

SIGN_MODES = {"sig-sign": [], "sig-append": ["--append"], "sig-replace": ["--replace"]}
DIR_SECURITY = 4
WIN_CERT_HDR = 8
PKCS_SIGNED_DATA = 2
OID_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")
OID_PKCS7_SIGNED = bytes.fromhex("06092a864886f70d010702")
OID_SHA384 = bytes.fromhex("0609608648016503040202")
NO_GOOD = ("FAILED: no good signature ({} checked; good is a matching digest, a valid signature "
           "and a trusted signer)")
GOOD = "CN=db, sha256: digest matches, signature valid, trusted"
# The nested-ASN.1 rows must finish in a few seconds, not recurse or hang.
TIME_LIMIT = {}


def checksum(data):
    """@data with CheckSum recomputed by pefile."""
    pe = pefile.PE(data=bytes(data), fast_load=True)
    struct.pack_into("<I", data, pe.OPTIONAL_HEADER.get_file_offset() + 64,
                     pe.generate_checksum())
    pe.close()
    return data


class Signed:
    """pe-gen's image signed by bootpack with the db key, read with pefile:
    the Security directory entry's file offset (dir_at), the table's offset
    and size, its WIN_CERTIFICATE's dwLength and PKCS#7, SizeOfHeaders and
    the sections' (name, PointerToRawData, SizeOfRawData); the PKCS#7 of
    other signatures of the same image data, made on first use."""

    def __init__(self, g, data):
        self.g, self.data = g, bytes(data)
        pe = pefile.PE(data=self.data, fast_load=True)
        d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[DIR_SECURITY]
        self.dir_at, self.off, self.size = d.get_file_offset(), d.VirtualAddress, d.Size
        self.soh = pe.OPTIONAL_HEADER.SizeOfHeaders
        self.sections = [(s.Name.rstrip(b"\0").decode(), s.PointerToRawData, s.SizeOfRawData)
                         for s in pe.sections]
        pe.close()
        self.length = struct.unpack_from("<I", self.data, self.off)[0]
        self.p7 = self.data[self.off + WIN_CERT_HDR:self.off + self.length]
        self.entry = self.data[self.off:]

    def image(self):
        return bytearray(self.data)

    def patched(self, at, value, fmt="<I"):
        """The image with the field at @at (le32, or as @fmt says) set to
        @value, CheckSum recomputed."""
        data = self.image()
        struct.pack_into(fmt, data, at, value)
        return checksum(data)

    @functools.cached_property
    def digest(self):
        """The image's sha256 Authenticode digest, by the PE specification."""
        return authenticode_digest(self.data)

    @functools.cached_property
    def p7_384(self):
        """The PKCS#7 of a sha384 signature by the db key."""
        return Signed(self.g, self.g.sign("signed-db-384", *self.g.db(), "--digest",
                                          "sha384")).p7

    @functools.cached_property
    def other_p7(self):
        """The PKCS#7 of a signature by another key (CN=other)."""
        return Signed(self.g, self.g.sign("signed-other",
                                          *self.g.pki.self_signed("other"))).p7

    @functools.cached_property
    def smime_p7(self):
        """A SignedData by the db key over the plain data "bootpack"
        (openssl smime, no signed attributes)."""
        src, out = self.g.dir / "plain.txt", self.g.dir / "plain.p7"
        src.write_bytes(b"bootpack")
        key, crt = self.g.db()
        run(["openssl", "smime", "-sign", "-binary", "-nodetach", "-noattr", "-outform", "DER",
             "-in", src, "-signer", crt, "-inkey", key, "-out", out])
        return out.read_bytes()

    def with_table(self, table, at=None, tail=b""):
        """The image data, then @table at the table's offset (or @at, the gap
        zero-filled) and the Security directory pointing at it, then @tail;
        CheckSum recomputed."""
        at = self.off if at is None else at
        data = bytearray(self.data[:self.off]) + bytes(at - self.off) + table + tail
        u32(data, self.dir_at, at)
        u32(data, self.dir_at + 4, len(table))
        return checksum(data)


def win_cert(payload, typ=PKCS_SIGNED_DATA):
    """A WIN_CERTIFICATE of revision 0x0200 and @typ holding @payload,
    padded to 8 bytes."""
    e = struct.pack("<IHH", WIN_CERT_HDR + len(payload), 0x0200, typ) + payload
    return e + bytes(-len(e) % 8)


# DER, just enough to take a SignedData apart and put it back together.
def der_len(data, pos):
    """(header length, content length) of the element at @pos."""
    n = data[pos + 1]
    if n < 0x80:
        return 2, n
    k = n & 0x7f
    return 2 + k, int.from_bytes(data[pos + 2:pos + 2 + k], "big")


def der_items(data, pos=0):
    """The encodings of the elements inside the constructed element at @pos."""
    h, n = der_len(data, pos)
    out, p = [], pos + h
    while p < pos + h + n:
        hh, nn = der_len(data, p)
        out.append(data[p:p + hh + nn])
        p += hh + nn
    return out


def der_header(tag, n):
    """The tag and definite length of an element of @n content bytes."""
    if n < 0x80:
        return bytes([tag, n])
    k = (n.bit_length() + 7) // 8
    return bytes([tag, 0x80 | k]) + n.to_bytes(k, "big")


def der(tag, content):
    return der_header(tag, len(content)) + content


def signed_data(p7):
    """The fields of a ContentInfo's SignedData: version, digestAlgorithms,
    contentInfo, [0] certificates (when present), signerInfos."""
    return der_items(der_items(der_items(p7)[1])[0])


def content_info_signed(fields):
    return der(0x30, OID_PKCS7_SIGNED + der(0xa0, der(0x30, b"".join(fields))))


def nested_sequences(n, definite):
    """@n SEQUENCE headers, each inside the one before: indefinite-length
    (0x30 0x80) without their end-of-contents, or definite-length around
    nothing, built from the inside out."""
    if not definite:
        return b"\x30\x80" * n
    headers, inner = [], 0
    for _ in range(n):
        headers.append(der_header(0x30, inner))
        inner += len(headers[-1])
    return b"".join(reversed(headers))


def with_spc_value(p7, value):
    """@p7 with its SpcIndirectDataContent's SpcAttributeTypeAndOptionalValue
    value (the SpcPeImageData) replaced by @value."""
    f = signed_data(p7)
    oid, explicit = der_items(f[2])
    attr, digest_info = der_items(der_items(explicit)[0])
    attr = der(0x30, der_items(attr)[0] + value)
    spc = der(0x30, attr + digest_info)
    return content_info_signed([f[0], f[1], der(0x30, oid + der(0xa0, spc)), *f[3:]])


def field(label, value):
    """A line of pe info: the label, padded to its column, and the value."""
    return f"{label + ':':<25}{value}"


def info_table(s, data, sigs, problems=()):
    """pe info's lines from "Certificates:" on, for the table of @data."""
    at, size = struct.unpack_from("<II", data, s.dir_at)
    n_err = sum(p.startswith("error:") for p in problems)
    return ([field("Certificates", f"{size} bytes at {at:#x} (Authenticode signature)")] + sigs +
            [field("Problems", f"{len(problems)} ({n_err} error{'' if n_err == 1 else 's'})")] +
            [f"  {p}" for p in problems])


def unreadable(walk):
    return [field("Signatures", f"unreadable: {walk}")]


def foreign(rev, typ, length, off, why):
    """pe info's listing of one entry that is not a signature."""
    return [field("Signatures", 1), f"  1   not an Authenticode signature (revision {rev:#06x}, "
            f"type {typ:#06x}, {length} bytes at {off:#x}): {why}"]


def listed(signer, digest, matches, certs, length, off):
    """pe info's listing of one parsed signature, of the db certificate."""
    state = "matches the image" if matches else "DIFFERS from the image's"
    return [field("Signatures", 1), f"  1   {signer}", "      Issuer:       CN=db",
            "      Serial:       01", f"      Digest:       sha256 {digest} ({state})",
            "      Signing time: none", f"      Certificates: {certs}",
            f"      Entry:        {length} bytes at {off:#x}"]


def no_good(*sig_lines):
    """pe verify --cert's lines when the table lists signatures, none good."""
    return ([f"signature {i}: {line}" for i, line in enumerate(sig_lines, 1)] +
            [NO_GOOD.format(len(sig_lines))])


class Written:
    """What a sign that goes ahead must write (a row's append or replace)."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return self.what


# SAME: the image as first signed (the table dropped, the image signed
# again: the same bytes, reproducibly); KEPT: the image as first signed
# with the old table (padded to 8) before its signature's entry; VERIFIES:
# an image whose one signature is good.
SAME, VERIFIES, KEPT = Written("same"), Written("verifies"), Written("kept")


class Row:
    """A row's image and what each command must do with it: @verify, the
    lines of pe verify --cert; @info, pe info's lines from "Certificates:" on;
    @append, @replace and @sign (for the rows that check it), a refusal (one
    line) or a Written."""

    def __init__(self, data, verify, info, append, replace, sign=None):
        self.data, self.verify, self.info = data, verify, info
        self.append, self.replace, self.sign = append, replace, sign


SIG_ROWS, SIG_SIGN = {}, []


def sig_case(name, time_limit=None, sign=False):
    """Register a certificate-table row, @fn(Signed) -> Row: a case of the
    table (pe verify --cert), and one of test_signature_table's; with @sign,
    pe sign without --append or --replace is run on it too."""
    def register(fn):
        def row(g):
            if name not in g.rows:
                g.rows[name] = fn(g.signed())
            return g.rows[name]

        SIG_ROWS[name] = row
        if sign:
            SIG_SIGN.append(name)
        if time_limit:
            TIME_LIMIT[name] = time_limit
        CASES[name] = ("sig-verify", [], lambda g: (bytes(row(g).data), row(g).verify))
        return fn
    return register


ALREADY = "already signed: --append adds a signature, --replace replaces the existing ones"


def invalid_sign(msg):
    return f"refusing to sign an invalid image: {msg}"


def walk_row(s, data, walk, problems=(), append=None, replace=SAME):
    """A table that cannot be walked: pe verify says why in one line, pe info
    lists it unreadable; --append refuses (it would keep the table); a sign
    without --append or --replace refuses any image with a table."""
    return Row(data, walk, info_table(s, data, unreadable(walk), problems),
               append or f"cannot append a signature: {walk}", replace, sign=ALREADY)


def entry_row(s, data, why, rev=0x0200, typ=PKCS_SIGNED_DATA, length=None):
    """A walkable table of one entry that is not an Authenticode signature:
    listed with its problem; --append keeps it and adds a good signature,
    --replace signs the image again."""
    length = s.length if length is None else length
    return Row(data, no_good(f"not an Authenticode signature: {why}"),
               info_table(s, data, foreign(rev, typ, length, s.off, why)),
               KEPT, SAME, sign=ALREADY)


def below_header(s, length):
    return (f"certificate table entry 1 at {s.off:#x}: dwLength {length} is below its own 8-byte "
            f"header ({s.size} bytes left in the table)")


def past_table(n, off, length, left):
    return (f"certificate table entry {n} at {off:#x}: dwLength {length} runs past the table "
            f"({left} bytes left in the table)")


# dwLength: below the 8-byte header, past the table, past the end of the file.
@sig_case("cert-dwlength-0", sign=True)
def _(s):
    return walk_row(s, s.patched(s.off, 0), below_header(s, 0))


@sig_case("cert-dwlength-7")
def _(s):
    return walk_row(s, s.patched(s.off, 7), below_header(s, 7))


@sig_case("cert-dwlength-past-table")
def _(s):
    return walk_row(s, s.patched(s.off, s.size + 8), past_table(1, s.off, s.size + 8, s.size))


@sig_case("cert-dwlength-past-eof")
def _(s):
    """A length near 4 GiB: padding it to 8 must not wrap."""
    return walk_row(s, s.patched(s.off, 0xfffffffc), past_table(1, s.off, 0xfffffffc, s.size))


# The Security directory's size and offset.
@sig_case("cert-table-size-past-eof", sign=True)
def _(s):
    """The table said to run 8 bytes past the end of the file: nothing can
    say where the image data ends, so every sign refuses."""
    data = s.patched(s.dir_at + 4, s.size + 8)
    n = len(data)
    walk = (f"the certificate table ({s.size + 8:#x} bytes at {s.off:#x}) extends past the end "
            f"of the file ({n:#x})")
    err = (f"certificate table ({s.size + 8:#x} bytes at {s.off:#x}) extends past the end of the "
           f"file")
    return walk_row(s, data, walk, [f"error: {err}"], append=invalid_sign(err),
                    replace=invalid_sign(err))


@sig_case("cert-table-offset-wraps")
def _(s):
    """An offset near 4 GiB: offset + size must not wrap into the file."""
    data = s.patched(s.dir_at, 0xfffffff8)
    n = len(data)
    walk = (f"the certificate table ({s.size:#x} bytes at 0xfffffff8) extends past the end of "
            f"the file ({n:#x})")
    err = f"certificate table ({s.size:#x} bytes at 0xfffffff8) extends past the end of the file"
    return walk_row(s, data, walk, [f"error: {err}"], append=invalid_sign(err),
                    replace=invalid_sign(err))


@sig_case("cert-table-size-not-8-aligned")
def _(s):
    """The last entry unpadded, the table and the file ending with it: the PE
    format allows it (and Linux since 6.3), EDK2 stops its walk there."""
    data = s.with_table(s.entry[:s.length])
    return walk_row(s, data, f"certificate table entry 1 at {s.off:#x}: dwLength {s.length}, "
                    f"padded to 8 bytes, runs past the table ({s.length} bytes left in the "
                    "table); UEFI firmware (EDK2) refuses an unpadded last entry")


@sig_case("cert-table-size-4-bytes-over")
def _(s):
    """Four bytes after the padded entry, inside the table and the file."""
    data = s.with_table(s.entry + bytes(4))
    return walk_row(s, data, f"the certificate table ends with 4 bytes at {s.off + s.size:#x}, "
                    "too few for a WIN_CERTIFICATE (an 8-byte header and data)")


@sig_case("cert-table-offset-not-8-aligned")
def _(s):
    """The table 4 bytes on. --replace may drop it: the 4 bytes before it are
    image data, padded to 8 and signed."""
    data = s.with_table(s.entry, at=s.off + 4)
    walk = (f"the certificate table offset {s.off + 4:#x} is not 8-byte aligned, as UEFI "
            "firmware requires")
    return walk_row(s, data, walk, [f"warning: certificate table offset {s.off + 4:#x} is not "
                                    "8-byte aligned"], replace=VERIFIES)


# wRevision and wCertificateType.
@sig_case("cert-revision-0x0100", sign=True)
def _(s):
    return entry_row(s, s.patched(s.off + 4, 0x0100, "<H"),
                     "WIN_CERTIFICATE revision 0x0100, not 0x0200", rev=0x0100)


@sig_case("cert-revision-0x0300")
def _(s):
    return entry_row(s, s.patched(s.off + 4, 0x0300, "<H"),
                     "WIN_CERTIFICATE revision 0x0300, not 0x0200", rev=0x0300)


@sig_case("cert-type-x509")
def _(s):
    return entry_row(s, s.patched(s.off + 6, 1, "<H"),     # WIN_CERT_TYPE_X509
                     "WIN_CERTIFICATE type 0x0001, not PKCS_SIGNED_DATA (0x0002)", typ=1)


@sig_case("cert-type-3")
def _(s):
    return entry_row(s, s.patched(s.off + 6, 3, "<H"),     # WIN_CERT_TYPE_RESERVED_1
                     "WIN_CERTIFICATE type 0x0003, not PKCS_SIGNED_DATA (0x0002)", typ=3)


# A good signature, then an entry that lies: the firmware refuses the image
# all the same, so verify must not pass it on the good one.
@sig_case("cert-second-entry-past-table")
def _(s):
    second = bytearray(s.entry)
    u32(second, 0, 2 * s.size)
    return walk_row(s, s.with_table(s.entry + second),
                    past_table(2, s.off + s.size, 2 * s.size, s.size))


@sig_case("cert-second-entry-header-only")
def _(s):
    """An 8-byte header ends the table."""
    data = s.with_table(s.entry + win_cert(b""))
    return walk_row(s, data, f"the certificate table ends with 8 bytes at {s.off + s.size:#x}, "
                    "too few for a WIN_CERTIFICATE (an 8-byte header and data)")


@sig_case("cert-second-entry-no-data")
def _(s):
    """A PKCS_SIGNED_DATA entry of dwLength 8 between two good signatures."""
    data = s.with_table(s.entry + win_cert(b"") + s.entry)
    return walk_row(s, data, f"certificate table entry 2 at {s.off + s.size:#x}: dwLength 8 "
                    "leaves no data after its 8-byte header (type 0x0002); UEFI firmware (EDK2) "
                    "stops there and refuses the image")


@sig_case("cert-second-entry-unpadded")
def _(s):
    data = s.with_table(s.entry + s.entry[:s.length])
    return walk_row(s, data, f"certificate table entry 2 at {s.off + s.size:#x}: dwLength "
                    f"{s.length}, padded to 8 bytes, runs past the table ({s.length} bytes left "
                    "in the table); UEFI firmware (EDK2) refuses an unpadded last entry")


@sig_case("cert-second-entry-efi-guid-without-data")
def _(s):
    """WIN_CERT_TYPE_EFI_GUID (0x0ef1): a 24-byte WIN_CERTIFICATE_UEFI_GUID
    header (the CertType GUID after the 8 bytes) and nothing more."""
    data = s.with_table(s.entry + win_cert(bytes(16), typ=0x0ef1))
    return walk_row(s, data, f"certificate table entry 2 at {s.off + s.size:#x}: dwLength 24 "
                    "leaves no data after its 24-byte header (type 0x0ef1); UEFI firmware (EDK2) "
                    "stops there and refuses the image")


# Where the table lies.
@sig_case("cert-table-overlaps-last-section")
def _(s):
    """The table said to start 0x200 bytes into the last section's raw data:
    dropping it would cut the section."""
    name, ptr, size = s.sections[-1]
    data = s.image()
    at = ptr + size - 0x200
    u32(data, s.dir_at, at)
    u32(data, s.dir_at + 4, len(data) - at)
    data = checksum(data)
    cut = (f"cannot compute the Authenticode digest: section {len(s.sections) - 1} '{name}' (raw "
           f"data {ptr:#x}..{ptr + size:#x}) runs past the start of the certificate table "
           f"({at:#x})")
    return walk_row(s, data, f"the certificate table ({len(data) - at:#x} bytes at {at:#x}) "
                    f"overlaps section {len(s.sections) - 1} '{name}' (raw data "
                    f"{ptr:#x}..{ptr + size:#x})", append=cut, replace=cut)


@sig_case("cert-table-overlaps-headers")
def _(s):
    data = s.image()
    u32(data, s.dir_at, 0x100)
    u32(data, s.dir_at + 4, len(data) - 0x100)
    data = checksum(data)
    cut = (f"cannot compute the Authenticode digest: SizeOfHeaders {s.soh:#x} is past the "
           f"certificate table (0x100)")
    return walk_row(s, data, f"the certificate table ({len(data) - 0x100:#x} bytes at 0x100) "
                    f"overlaps the headers (SizeOfHeaders {s.soh:#x})", append=cut, replace=cut)


@sig_case("cert-table-then-trailing-data", sign=True)
def _(s):
    """16 bytes after the table: the Security directory no longer ends the
    file. Firmware hashes up to the file size less the table size, so its
    digest takes in the table's first 16 bytes and differs from the signed
    one; a signer cannot tell whether the bytes are image data, and refuses."""
    data = s.with_table(s.entry, tail=b"trailing data\0\0\0")
    n = len(data)
    err = f"certificate table ({s.size:#x} bytes at {s.off:#x}) is not at the end of the file"
    digest = (f"cannot compute the Authenticode digest: the certificate table ({s.size:#x} bytes "
              f"at {s.off:#x}) is not at the end of the file ({n:#x}); firmware hashes up to the "
              "file size less the table size, so 16 bytes after it would be signed and as many "
              "before it would not")
    verify = [f"error: {err}", f"signature 1: CN=db, sha256: digest DIFFERS, signature valid, "
              f"trusted: {digest}", "FAILED: 1 error"]
    sigs = listed("CN=db", s.digest, False, 1, s.length, s.off)
    return Row(data, verify, info_table(s, data, sigs, [f"error: {err}"]), invalid_sign(err),
               invalid_sign(err), sign=ALREADY)


# The PKCS#7 itself.
def p7_row(s, p7, why):
    return entry_row(s, s.with_table(win_cert(p7)), why, length=WIN_CERT_HDR + len(p7))


NOT_DER = "its data is not a DER PKCS#7 structure"


@sig_case("pkcs7-random-bytes")
def _(s):
    return p7_row(s, random.Random(16).randbytes(len(s.p7)), NOT_DER)


@sig_case("pkcs7-truncated")
def _(s):
    return p7_row(s, s.p7[:len(s.p7) // 2], NOT_DER)


@sig_case("pkcs7-content-type-data")
def _(s):
    """A ContentInfo of type data (1.2.840.113549.1.7.1) holding "bootpack"."""
    return p7_row(s, der(0x30, OID_PKCS7_DATA + der(0xa0, der(0x04, b"bootpack"))),
                  "it is a PKCS#7 structure, but not SignedData")


@sig_case("pkcs7-signed-plain-data")
def _(s):
    """A valid SignedData by the db key, but over plain data (openssl smime)."""
    return p7_row(s, s.smime_p7, "its content is not an SpcIndirectDataContent "
                  "(1.3.6.1.4.1.311.2.1.4)")


@sig_case("pkcs7-two-signers")
def _(s):
    """The db signature with the other key's SignerInfo (and certificate)
    added: Authenticode has exactly one signer."""
    f, o = signed_data(s.p7), signed_data(s.other_p7)
    certs = der(0xa0, b"".join(der_items(f[3]) + der_items(o[3])))
    infos = der(0x31, b"".join(der_items(f[4]) + der_items(o[4])))
    return p7_row(s, content_info_signed(f[:3] + [certs, infos]), "its SignedData does not have "
                  "exactly one SignerInfo, as Authenticode requires")


@sig_case("pkcs7-no-signer-certificate")
def _(s):
    """The certificates left out: the signature is listed but cannot be
    checked (EDK2 looks for the signer in the PKCS#7 only)."""
    f = signed_data(s.p7)
    p7 = content_info_signed(f[:3] + f[4:])
    data = s.with_table(win_cert(p7))
    why = "the PKCS#7 does not carry its signer's certificate"
    line = f"(no signer certificate), sha256: digest matches, signature INVALID, NOT trusted: {why}"
    sigs = listed("(no signer certificate)", s.digest, True, 0, WIN_CERT_HDR + len(p7), s.off)
    return Row(data, no_good(line), info_table(s, data, sigs), KEPT, SAME, sign=ALREADY)


@sig_case("pkcs7-digest-algorithm-mismatch")
def _(s):
    """A sha384 signature whose SignerInfo names sha256 for its digest."""
    f = signed_data(s.p7_384)
    info = bytearray(f[4])
    i = info.rindex(OID_SHA384)
    info[i + len(OID_SHA384) - 1] = 0x01           # ...2.2 (sha384) -> ...2.1 (sha256)
    return p7_row(s, content_info_signed(f[:4] + [bytes(info)]), "its SignerInfo's digest "
                  "algorithm (sha256) is not that of the image digest it signs (sha384)")


@sig_case("pkcs7-over-64k")
def _(s):
    """The db certificate carried 90 times: a SignedData over 64 KiB, which
    EDK2 cannot read (it takes two-byte DER lengths only)."""
    f = signed_data(s.p7)
    p7 = content_info_signed(f[:3] + [der(0xa0, der_items(f[3])[0] * 90), f[4]])
    assert len(p7) > 0x10000
    return p7_row(s, p7, "UEFI firmware (EDK2) reads only a SignedData of 256 to 65535 bytes "
                  "(two-byte DER length)")


# Deeply nested ASN.1: 100,000 SEQUENCE headers, timed.
@sig_case("asn1-nested-100000", time_limit=5)
def _(s):
    return p7_row(s, nested_sequences(100000, False), NOT_DER)


@sig_case("asn1-nested-100000-in-spc", time_limit=5)
def _(s):
    """As the SpcPeImageData of an otherwise intact signature, complete
    (definite lengths): read to the end, then too large for EDK2."""
    return p7_row(s, with_spc_value(s.p7, nested_sequences(100000, True)),
                  "UEFI firmware (EDK2) reads only a SignedData of 256 to 65535 bytes "
                  "(two-byte DER length)")


@sig_case("asn1-nested-100000-unterminated-in-spc", time_limit=5)
def _(s):
    """The same with indefinite lengths that never end."""
    return p7_row(s, with_spc_value(s.p7, nested_sequences(100000, False)),
                  "its SpcIndirectDataContent is malformed")


# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gen(pe_gen, bootpack, pki, tmp_path_factory):  # noqa: F811
    return Gen(pe_gen, tmp_path_factory.mktemp("malformed-pe"), bootpack, pki)


def command(cmd, extra, src, out, section_data, db):
    """The bootpack arguments for a case; @db() gives the signature cases'
    (key, certificate)."""
    edit = {"add": ("add-section", ".bpf", True), "replace": ("replace-section", ".data", True),
            "remove": ("remove-section", ".data", False),
            "remove-in-place": ("remove-section", ".data", False)}
    if cmd in ("info", "verify"):
        return ["pe", cmd, src]
    if cmd == "sig-verify":
        return ["pe", "verify", "--cert", db()[1], src]
    if cmd in SIGN_MODES:
        key, crt = db()
        return ["pe", "sign", src, "--key", key, "--cert", crt, "-o", out, *SIGN_MODES[cmd]]
    if cmd == "extract":
        return ["zboot", "extract", src, "-o", out, *extra]
    verb, name, with_data = edit[cmd]
    args = ["pe", verb, src, "-o", src if cmd == "remove-in-place" else out, "--name", name]
    if with_data:
        args += ["--file", section_data]
    elif verb == "remove-section":
        args.append("--force")   # .data is writable: refused without it, but later
    return args


@pytest.mark.parametrize("name", list(CASES))
def test_malformed(bootpack, gen, tmp_path, name):
    cmd, extra, build = CASES[name]
    data, expected = build(gen)
    indir, outdir = tmp_path / "in", tmp_path / "out"
    indir.mkdir()
    outdir.mkdir()
    src = indir / f"{name}.efi"
    src.write_bytes(data)
    before = sha256(src)
    size = 300
    if extra[:1] == ["--file-size"]:
        size, extra = int(extra[1]), extra[2:]
    section_data = tmp_path / "section.bin"
    section_data.write_bytes(bytes((i * 7) & 0xff for i in range(size)))
    proc = run([bootpack, *command(cmd, extra, src, outdir / "out.bin", section_data, gen.db)],
               check=False, timeout=60, env=NO_SDE)
    assert_refused(proc, src, expected, before)
    assert proc.elapsed < TIME_LIMIT.get(name, 60)


def assert_refused(proc, src, expected, before):
    """Exit 1, @expected (one message or the lines) on stderr, nothing on
    stdout, nothing written beside @src (in/) or in out/, @src unchanged."""
    err = proc.stderr.decode(errors="replace")
    lines = [expected] if isinstance(expected, str) else expected
    assert proc.returncode == 1, err
    assert err == "".join(f"bootpack: '{src}': {line}\n" for line in lines)
    assert proc.stdout == b""
    assert sorted(p.name for p in (src.parent.parent / "out").iterdir()) == []
    assert sorted(p.name for p in src.parent.iterdir()) == [src.name]
    assert sha256(src) == before


@pytest.mark.parametrize("name, mode", [(n, m) for n in SIG_ROWS
                                        for m in ("info", "append", "replace")] +
                         [(n, "sign") for n in SIG_SIGN])
def test_signature_table(bootpack, gen, tmp_path, name, mode):
    """A certificate-table row through pe info (exit 0, its listing exact)
    and pe sign --append, --replace or neither: a refusal as in
    test_malformed, or what the row says the signer writes."""
    row = SIG_ROWS[name](gen)
    indir, outdir = tmp_path / "in", tmp_path / "out"
    indir.mkdir()
    outdir.mkdir()
    src, out = indir / f"{name}.efi", outdir / "out.efi"
    src.write_bytes(bytes(row.data))
    before = sha256(src)
    if mode == "info":
        proc = run([bootpack, "pe", "info", src], timeout=60)
        lines = proc.stdout.decode().splitlines()
        assert proc.stderr == b""
        assert lines[[i for i, line in enumerate(lines)
                      if line.startswith("Certificates:")][0]:] == row.info
    else:
        proc = run([bootpack, *command(f"sig-{mode}", [], src, out, None, gen.db)],
                   check=False, timeout=60, env=NO_SDE)
        expected = getattr(row, mode)
        if isinstance(expected, (str, list)):
            assert_refused(proc, src, expected, before)
        else:
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b""), proc.stderr
            assert sha256(src) == before
            assert sorted(p.name for p in outdir.iterdir()) == [out.name]
            assert_written(bootpack, gen, out, expected, row)
    assert proc.elapsed < TIME_LIMIT.get(name, 60)


def assert_written(bootpack, gen, out, expected, row):
    """@out is what @expected says a signer that went ahead writes."""
    s = gen.signed()
    if expected is SAME:
        assert out.read_bytes() == s.data
    elif expected is KEPT:
        table = row.data[s.off:]
        assert table and struct.unpack_from("<I", row.data, s.dir_at)[0] == s.off
        assert out.read_bytes() == s.with_table(table + bytes(-len(table) % 8) + s.entry)
    else:
        proc = run([bootpack, "pe", "verify", "--cert", gen.db()[1], out])
        assert proc.stdout.decode() == (f"{out}: signature 1: {GOOD}\n{out}: OK (PE32+, 2 "
                                        "sections, 1 of 1 signature good, 0 warnings)\n")
        assert proc.stderr == b""


def test_signature_table_base(bootpack, gen, tmp_path):
    """The image the rows start from verifies: SAME and KEPT above compare
    what pe sign writes with its bytes and its signature's."""
    src = tmp_path / "signed.efi"
    src.write_bytes(gen.signed().data)
    proc = run([bootpack, "pe", "verify", "--cert", gen.db()[1], src])
    assert proc.stdout.decode() == (f"{src}: signature 1: {GOOD}\n{src}: OK (PE32+, 2 sections, "
                                    "1 of 1 signature good, 0 warnings)\n")


@pytest.mark.parametrize("comp, stream, size_after", [
    ("gzip", gzip_member(KERNEL), None),
    ("zstd22", zstd_kernel(len(KERNEL), fcs=len(KERNEL)), len(KERNEL)),
    ("lz4", lz4_legacy(lz4_legacy_block(len(KERNEL))), len(KERNEL)),
    ("xzkern", xz(KERNEL), len(KERNEL)),
], ids=["gzip", "zstd22", "lz4", "xzkern"])
def test_payloads_are_valid(bootpack, gen, tmp_path, comp, stream, size_after):
    """The payload builders above make streams bootpack extracts intact, so
    the cases that break them test the break, not the builder."""
    data, lay = gen.zboot(comp, stream, size_after)
    src, out = tmp_path / "ok.efi", tmp_path / "Image"
    src.write_bytes(data)
    proc = run([bootpack, "zboot", "extract", src, "-o", out])
    want = kernel(len(KERNEL)) if comp in ("zstd22", "lz4") else KERNEL
    assert out.read_bytes() == want
    assert proc.stdout.decode() == (f"{out}: arm64 kernel Image, {len(want)} bytes, from the "
                                    f"{comp} payload\n")
