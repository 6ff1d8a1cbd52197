# SPDX-License-Identifier: MIT
"""UKIs made without bootpack: sections appended to a stub with struct.

What `objcopy --add-section` does for x86 (binutils here has no
pei-aarch64 target), written from the PE/COFF specification so the
inspection tests do not depend on `bootpack uki build`: each new section
gets the next free SectionAlignment-aligned address, FileAlignment-padded
raw data after everything already in the file, read-only initialized data
flags; SizeOfImage follows, CheckSum is zeroed. The stub must have room for
the new headers below SizeOfHeaders (both systemd-boot 252 stubs do).

Fields can be forged per section (vsize, raw_size, raw_ptr) to make the
hostile UKIs of test_malformed_uki.py.
"""

import struct

E_LFANEW = 0x3c
SECTION = 40
RO_DATA = 0x40000040      # IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ


def align(n, a):
    return (n + a - 1) // a * a


class Pe:
    """Offsets of the headers of a PE image held in a bytearray."""

    def __init__(self, data):
        self.data = bytearray(data)
        self.pe = struct.unpack_from("<I", self.data, E_LFANEW)[0]
        self.coff = self.pe + 4
        self.n_sections, = struct.unpack_from("<H", self.data, self.coff + 2)
        opt_size, = struct.unpack_from("<H", self.data, self.coff + 16)
        self.opt = self.coff + 20
        self.table = self.opt + opt_size
        self.sect_align, self.file_align = struct.unpack_from("<II", self.data, self.opt + 32)
        self.size_of_headers, = struct.unpack_from("<I", self.data, self.opt + 60)

    def sections(self):
        """(name, vsize, va, raw_size, raw_ptr) of every section."""
        out = []
        for i in range(self.n_sections):
            name, vsize, va, raw_size, raw_ptr = struct.unpack_from(
                "<8sIIII", self.data, self.table + SECTION * i)
            out.append((name.rstrip(b"\0").decode("latin-1"), vsize, va, raw_size, raw_ptr))
        return out


def add_sections(stub, parts, flags=RO_DATA):
    """@stub (bytes) with @parts appended: a list of (name, data) or
    (name, data, overrides) where overrides may set vsize, raw_size, raw_ptr
    to forge that header field. Returns the new image as bytes."""
    pe = Pe(stub)
    secs = pe.sections()
    end_va = max(va + max(vsize, raw) for _, vsize, va, raw, _ in secs)
    end_raw = max([ptr + raw for _, _, _, raw, ptr in secs] + [len(pe.data)])
    out = pe.data[:]
    out += bytes(align(end_raw, pe.file_align) - len(out))
    n = pe.n_sections
    if pe.table + SECTION * (n + len(parts)) > pe.size_of_headers:
        raise ValueError("no room for the new section headers")
    for part in parts:
        name, data = part[0], part[1]
        over = part[2] if len(part) > 2 else {}
        va = align(end_va, pe.sect_align)
        ptr = len(out)
        raw = align(len(data), pe.file_align)
        out += data + bytes(raw - len(data))
        hdr = struct.pack("<8sIIIIIIHHI", name.encode("latin-1"), over.get("vsize", len(data)),
                          va, over.get("raw_size", raw), over.get("raw_ptr", ptr), 0, 0, 0, 0,
                          flags)
        out[pe.table + SECTION * n:pe.table + SECTION * (n + 1)] = hdr
        n += 1
        end_va = va + max(len(data), 1)
    struct.pack_into("<H", out, pe.coff + 2, n)
    struct.pack_into("<I", out, pe.opt + 56, align(end_va, pe.sect_align))
    struct.pack_into("<I", out, pe.opt + 64, 0)
    return bytes(out)
