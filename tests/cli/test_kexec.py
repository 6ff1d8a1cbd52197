# SPDX-License-Identifier: MIT
"""bootpack kexec envelope / info / extract: the v7 zboot envelope.

The expected bytes come from `reference()` below, written here from PATCHv7
13/13 "tools/kexec: Introduce a tool to build zboot envelop" (Pingfan Liu,
2026-03-21), tools/kexec/build_zboot_envelop.c, independently of lib/kexec:
ELF64 LE ET_EXEC EM_AARCH64 (hard-coded by the reference; bootpack writes
the kernel's machine), no program headers, 5 section headers at 64, data
after them in the order .kernel (unpadded), .initrd (zero bytes up to a file
offset multiple of 8), .cmdline (NUL-terminated, same padding), .shstrtab
(36 bytes, end of file); sh_size never counts padding.

The layout is also checked field by field with binutils' readelf and
aarch64-linux-gnu-readelf and with pyelftools, which do not share code with
bootpack or with this file. Hostile envelopes (one defect per row) are made
by mutating reference() output: exit 1, one stderr line, nothing written.
"""

import hashlib
import json
import re
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import run
from signkeys import pki, sign_keys  # noqa: F401

EHDR, SHDR, NSEC = 64, 64, 5
HEADERS = EHDR + NSEC * SHDR               # 384: where .kernel starts
STRTAB = b"\0.kernel\0.initrd\0.cmdline\0.shstrtab\0"
NAME_OFF = {".kernel": 1, ".initrd": 9, ".cmdline": 17, ".shstrtab": 26}
EM = {"arm64": 183, "riscv64": 243, "loongarch64": 258, "x64": 62}
EM_NAME = {183: "AArch64", 243: "RISC-V", 258: "LoongArch", 62: "x86-64"}
SHT_PROGBITS, SHT_STRTAB, SHF_ALLOC = 1, 3, 2
# ELF header and section header field offsets (System V gABI).
E_TYPE, E_SHOFF, E_SHENTSIZE, E_SHNUM, E_SHSTRNDX = 16, 40, 58, 60, 62
SH_NAME, SH_TYPE, SH_OFFSET, SH_SIZE = 0, 4, 24, 32


def align8(x):
    return (x + 7) & ~7


def reference(kernel, initrd, cmdline, machine=183):
    """The bytes build_zboot_envelop writes for these inputs (@cmdline without its NUL)."""
    cmd = cmdline + b"\0"
    off_k = HEADERS
    off_i = off_k + len(kernel)               # no padding after .kernel
    off_c = align8(off_i + len(initrd))
    off_s = align8(off_c + len(cmd))
    ehdr = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) +
            struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0, 0, EHDR, 0, EHDR, 0, 0, SHDR,
                        NSEC, 4))

    def sh(name, typ, flags, off, size):
        return struct.pack("<IIQQQQIIQQ", NAME_OFF[name], typ, flags, 0, off, size, 0, 0, 1, 0)

    out = bytearray(ehdr + bytes(SHDR) +
                    sh(".kernel", SHT_PROGBITS, SHF_ALLOC, off_k, len(kernel)) +
                    sh(".initrd", SHT_PROGBITS, SHF_ALLOC, off_i, len(initrd)) +
                    sh(".cmdline", SHT_PROGBITS, SHF_ALLOC, off_c, len(cmd)) +
                    sh(".shstrtab", SHT_STRTAB, 0, off_s, len(STRTAB)))
    out += kernel + initrd
    out += bytes(off_c - len(out)) + cmd
    out += bytes(off_s - len(out)) + STRTAB
    return bytes(out)


def bp(bootpack, *args, cwd=None):
    return subprocess.run([str(bootpack), *map(str, args)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd=cwd, check=False, timeout=300)


def ok(proc):
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small(pe_gen, tmp_path_factory):
    """A small pe-gen zboot (gzip) kernel, an odd-sized initrd and a command line."""
    d = tmp_path_factory.mktemp("kexec-small")
    kernel = d / "vmlinuz.efi"
    # 5 bytes of overlay: .initrd then starts off the 8-byte grid.
    run([pe_gen, "--zboot", "gzip", "--payload-size", "3001", "--overlay", "5", kernel])
    initrd = d / "initrd"
    # 1001 bytes: .initrd also ends off the grid, so its padding shows.
    initrd.write_bytes(bytes((i * 7 + 3) & 0xff for i in range(1001)))
    return kernel, initrd, b"console=ttyAMA0 root=/dev/vda rw"


def envelope(bootpack, out, kernel, initrd=None, cmdline=None):
    args = ["kexec", "envelope", "-o", out, "--kernel", kernel]
    if initrd is not None:
        args += ["--initrd", initrd]
    if cmdline is not None:
        args += ["--cmdline", cmdline]
    ok(bp(bootpack, *args))
    return Path(out).read_bytes()


# --------------------------------------------------------------------------
# The layout, against the reference and three independent ELF readers

def test_bytes_equal_reference(bootpack, small, tmp_path):
    kernel, initrd, cmd = small
    got = envelope(bootpack, tmp_path / "e.elf", kernel, initrd, cmd.decode())
    assert got == reference(kernel.read_bytes(), initrd.read_bytes(), cmd)


def readelf_fields(tool, path):
    """readelf -h -S -W: the header fields and the section rows."""
    text = run([tool, "-h", "-S", "-W", path]).stdout.decode()
    hdr = dict(m.groups() for m in re.finditer(r"^  ([A-Za-z /().-]+?):\s+(.*?)\s*$", text,
                                                 re.M))
    rows = re.findall(r"^\s+\[\s*(\d+)\]\s+(\S*)\s+(\w+)\s+([0-9a-f]{16}) ([0-9a-f]+) "
                      r"([0-9a-f]+) ([0-9a-f]{2})\s+(\w*)\s+(\d+)\s+(\d+)\s+(\d+)$", text, re.M)
    return hdr, rows


@pytest.mark.parametrize("tool", ["readelf", "aarch64-linux-gnu-readelf"])
def test_readelf_layout(bootpack, small, tmp_path, tool):
    kernel, initrd, cmd = small
    out = tmp_path / "e.elf"
    envelope(bootpack, out, kernel, initrd, cmd.decode())
    hdr, rows = readelf_fields(tool, out)
    klen, ilen, clen = kernel.stat().st_size, initrd.stat().st_size, len(cmd) + 1
    off_i = HEADERS + klen
    off_c = align8(off_i + ilen)
    off_s = align8(off_c + clen)
    assert hdr["Magic"] == "7f 45 4c 46 02 01 01 00 00 00 00 00 00 00 00 00"
    assert hdr["Class"] == "ELF64"
    assert hdr["Data"] == "2's complement, little endian"
    assert hdr["Type"].startswith("EXEC")
    assert hdr["Machine"] == "AArch64"
    assert hdr["Version"] == "0x1"
    assert hdr["Entry point address"] == "0x0"
    assert hdr["Start of program headers"] == "0 (bytes into file)"
    assert hdr["Start of section headers"] == "64 (bytes into file)"
    assert hdr["Flags"] == "0x0"
    assert hdr["Size of this header"] == "64 (bytes)"
    assert hdr["Size of program headers"] == "0 (bytes)"
    assert hdr["Number of program headers"] == "0"
    assert hdr["Size of section headers"] == "64 (bytes)"
    assert hdr["Number of section headers"] == "5"
    assert hdr["Section header string table index"] == "4"
    expect = [
        ("0", "", "NULL", 0, 0, ""),
        ("1", ".kernel", "PROGBITS", HEADERS, klen, "A"),
        ("2", ".initrd", "PROGBITS", off_i, ilen, "A"),
        ("3", ".cmdline", "PROGBITS", off_c, clen, "A"),
        ("4", ".shstrtab", "STRTAB", off_s, len(STRTAB), ""),
    ]
    assert len(rows) == 5, rows
    for row, (idx, name, typ, off, size, flg) in zip(rows, expect):
        assert row[:3] == (idx, name, typ)
        assert int(row[3], 16) == 0                      # sh_addr
        assert (int(row[4], 16), int(row[5], 16)) == (off, size)
        assert row[6] == "00"                            # sh_entsize
        assert row[7] == flg
        assert (row[8], row[9]) == ("0", "0")            # sh_link, sh_info
        assert row[10] == ("0" if idx == "0" else "1")   # sh_addralign
    assert off_i % 8 != 0, "the fixture should put .initrd off the 8-byte grid"
    assert out.stat().st_size == off_s + len(STRTAB)


def test_pyelftools_layout(bootpack, small, tmp_path):
    kernel, initrd, cmd = small
    out = tmp_path / "e.elf"
    envelope(bootpack, out, kernel, initrd, cmd.decode())
    with open(out, "rb") as f:
        elf = ElfView(f)
    h = elf.header
    assert (h.e_ident.EI_CLASS, h.e_ident.EI_DATA) == ("ELFCLASS64", "ELFDATA2LSB")
    assert (h.e_ident.EI_VERSION, h.e_ident.EI_OSABI, h.e_ident.EI_ABIVERSION) == \
        ("EV_CURRENT", "ELFOSABI_SYSV", 0)
    assert (h.e_type, h.e_machine, h.e_version) == ("ET_EXEC", "EM_AARCH64", "EV_CURRENT")
    assert (h.e_entry, h.e_phoff, h.e_phnum, h.e_phentsize, h.e_flags) == (0, 0, 0, 0, 0)
    assert (h.e_shoff, h.e_ehsize, h.e_shentsize, h.e_shnum, h.e_shstrndx) == \
        (64, 64, 64, 5, 4)
    names = [s.name for s in elf.sections]
    assert names == ["", ".kernel", ".initrd", ".cmdline", ".shstrtab"]
    for s in elf.sections[1:4]:
        assert (s["sh_type"], s["sh_flags"], s["sh_addr"], s["sh_addralign"]) == \
            ("SHT_PROGBITS", SHF_ALLOC, 0, 1)
        assert (s["sh_link"], s["sh_info"], s["sh_entsize"]) == (0, 0, 0)
    st = elf.sections[4]
    assert (st["sh_type"], st["sh_flags"], st["sh_addralign"]) == ("SHT_STRTAB", 0, 1)
    assert elf.data[".kernel"] == kernel.read_bytes()
    assert elf.data[".initrd"] == initrd.read_bytes()
    assert elf.data[".cmdline"] == cmd + b"\0"
    assert elf.data[".shstrtab"] == STRTAB


class ElfView:
    """What pyelftools reads from an open file, kept after it is closed."""

    def __init__(self, f):
        e = ELFFile(f)
        self.header = e.header
        self.sections = list(e.iter_sections())
        self.data = {s.name: s.data() for s in self.sections if s.name}


def test_no_initrd_no_cmdline(bootpack, small, tmp_path):
    """Without --initrd: an empty .initrd (the BPF parser skips size 0); without
    --cmdline: "\\0", as the reference's Makefile's empty CMDLINE gives."""
    kernel = small[0]
    got = envelope(bootpack, tmp_path / "e.elf", kernel)
    assert got == reference(kernel.read_bytes(), b"", b"")
    info = json.loads(ok(bp(bootpack, "kexec", "info", "--json", tmp_path / "e.elf")).stdout)
    assert info["initrd"] == {"index": 2, "offset": HEADERS + kernel.stat().st_size, "size": 0}
    assert info["cmdline"]["size"] == 1 and info["cmdline_text"] == ""


@pytest.mark.parametrize("machine", ["riscv64", "loongarch64", "x64"])
def test_machine_follows_kernel(bootpack, pe_gen, tmp_path, machine):
    """e_machine is the ELF name of the kernel's PE machine (the reference only
    knows arm64 and hard-codes EM_AARCH64)."""
    kernel = tmp_path / "k.efi"
    run([pe_gen, "--machine", machine, "--zboot", "gzip", kernel])
    got = envelope(bootpack, tmp_path / "e.elf", kernel, cmdline="x")
    assert got == reference(kernel.read_bytes(), b"", b"x", EM[machine])
    info = json.loads(ok(bp(bootpack, "kexec", "info", "--json", tmp_path / "e.elf")).stdout)
    assert (info["machine"], info["machine_name"]) == (EM[machine], EM_NAME[EM[machine]])
    assert info["machine_mismatch"] is False and info["canonical"] is True


def test_reproducible(bootpack, small, tmp_path):
    kernel, initrd, cmd = small
    a = envelope(bootpack, tmp_path / "a.elf", kernel, initrd, cmd.decode())
    (tmp_path / "sub").mkdir()
    b = envelope(bootpack, tmp_path / "sub" / "b.elf", kernel, initrd, cmd.decode())
    assert a == b


# --------------------------------------------------------------------------
# info and extract

def test_info_text_and_json(bootpack, small, tmp_path):
    kernel, initrd, cmd = small
    out = tmp_path / "e.elf"
    envelope(bootpack, out, kernel, initrd, cmd.decode())
    klen, ilen = kernel.stat().st_size, initrd.stat().st_size
    off_c = align8(HEADERS + klen + ilen)
    info = json.loads(ok(bp(bootpack, "kexec", "info", "--json", out)).stdout)
    assert info == {
        "file": str(out), "size": out.stat().st_size, "machine": 183,
        "machine_name": "AArch64", "sections": 5,
        "kernel": {"index": 1, "offset": HEADERS, "size": klen},
        "initrd": {"index": 2, "offset": HEADERS + klen, "size": ilen},
        "cmdline": {"index": 3, "offset": off_c, "size": len(cmd) + 1},
        "kernel_pe_machine": 0xaa64, "zboot": True, "compression": "gzip",
        "signed": False, "cmdline_text": cmd.decode(), "machine_mismatch": False,
        "canonical": True, "bpf_readable": True,
    }
    text = ok(bp(bootpack, "kexec", "info", out)).stdout.decode().splitlines()
    assert text[0] == (f"{out}: kexec zboot envelope, {out.stat().st_size} bytes, "
                       "5 sections, machine AArch64 (183)")
    assert text[1].split() == ["[1]", ".kernel", "offset", str(HEADERS), "size", str(klen)]
    assert text[4] == "kernel: PE image, machine 0xaa64, zboot, gzip, unsigned"
    assert text[5] == f'cmdline: "{cmd.decode()}"'
    assert text[6] == "layout: as build_zboot_envelop writes it"


def test_info_escapes_cmdline(bootpack, small, tmp_path):
    """A command line with terminal controls reaches the terminal escaped."""
    kernel = small[0]
    out = tmp_path / "e.elf"
    out.write_bytes(reference(kernel.read_bytes(), b"", b"a\x1b[31mb\\"))
    text = ok(bp(bootpack, "kexec", "info", out)).stdout
    assert b'cmdline: "a\\x1b[31mb\\\\"' in text and b"\x1b" not in text
    info = json.loads(ok(bp(bootpack, "kexec", "info", "--json", out)).stdout)
    assert info["cmdline_text"] == "a\x1b[31mb\\"


def test_extract_round_trip(bootpack, small, tmp_path):
    kernel, initrd, cmd = small
    cmdfile = tmp_path / "cmdline.txt"
    cmdfile.write_bytes(cmd + b"\n")            # one final newline is dropped
    # Two arguments: the value after --cmdline is never a response file.
    ok(bp(bootpack, "kexec", "envelope", "-o", tmp_path / "f.elf", "--kernel", kernel,
          "--initrd", initrd, "--cmdline", f"@{cmdfile}"))
    assert (tmp_path / "f.elf").read_bytes() == reference(kernel.read_bytes(),
                                                          initrd.read_bytes(), cmd)
    for sec, want in ((".kernel", kernel.read_bytes()), (".initrd", initrd.read_bytes()),
                      (".cmdline", cmd)):
        ok(bp(bootpack, "kexec", "extract", tmp_path / "f.elf", "--section", sec,
              "-o", tmp_path / sec.lstrip(".")))
        assert (tmp_path / sec.lstrip(".")).read_bytes() == want, sec
    # And back: the extracted parts build the same envelope.
    ok(bp(bootpack, "kexec", "envelope", "-o", tmp_path / "g.elf", "--kernel",
          tmp_path / "kernel", "--initrd", tmp_path / "initrd",
          f"--cmdline=@{tmp_path / 'cmdline'}"))
    assert (tmp_path / "g.elf").read_bytes() == (tmp_path / "f.elf").read_bytes()


def test_not_zboot_kernel(bootpack, pe_gen, tmp_path):
    """Any PE image is accepted; info says it is not zboot (the BPF parser wants "zimg")."""
    kernel = tmp_path / "k.efi"
    run([pe_gen, kernel])
    out = tmp_path / "e.elf"
    assert envelope(bootpack, out, kernel) == reference(kernel.read_bytes(), b"", b"")
    text = ok(bp(bootpack, "kexec", "info", out)).stdout.decode()
    assert "kernel: PE image, machine 0xaa64, not zboot, unsigned\n" in text
    assert "warning: .kernel is not a zboot image: the BPF parser refuses it\n" in text


def test_noncanonical_machine_mismatch(bootpack, small, tmp_path):
    """An envelope the reference would not write still reads; info says how it differs."""
    kernel = small[0]
    out = tmp_path / "e.elf"
    out.write_bytes(reference(kernel.read_bytes(), b"", b"", machine=62) + b"tail")
    info = json.loads(ok(bp(bootpack, "kexec", "info", "--json", out)).stdout)
    assert info["machine_mismatch"] is True and info["canonical"] is False
    text = ok(bp(bootpack, "kexec", "info", out)).stdout.decode()
    assert "layout: not build_zboot_envelop's\n" in text
    assert "warning: e_machine 62 is not the kernel's machine (PE 0xaa64)\n" in text


def build_elf(sections, names_last=()):
    """An ELF64 LE ET_EXEC arm64 file: NULL + @sections [(name, data)] + .shstrtab,
    data back to back after the headers; names in @names_last go last in the
    string table."""
    order = [n for n, _ in sections if n not in names_last] + [".shstrtab", *names_last]
    strtab, at = b"\0", {}
    for name in order:
        at[name] = len(strtab)
        strtab += name.encode() + b"\0"
    nsh = len(sections) + 2
    off = EHDR + nsh * SHDR
    hdrs, data = bytes(SHDR), b""
    for name, body in sections:
        hdrs += struct.pack("<IIQQQQIIQQ", at[name], SHT_PROGBITS, SHF_ALLOC, 0,
                            off + len(data), len(body), 0, 0, 1, 0)
        data += body
    hdrs += struct.pack("<IIQQQQIIQQ", at[".shstrtab"], SHT_STRTAB, 0, 0, off + len(data),
                        len(strtab), 0, 0, 1, 0)
    ehdr = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) +
            struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, 0, 0, EHDR, 0, EHDR, 0, 0, SHDR, nsh,
                        nsh - 1))
    return ehdr + hdrs + data + strtab


@pytest.mark.parametrize("case", ["initrd-index-8", "kernel-name-at-end"])
def test_bpf_parser_would_miss_a_part(bootpack, small, tmp_path, case):
    """zboot_parser_bpf.c (v7) reads section headers 1..7 only and compares 16
    bytes of each name: envelopes that read fine here but not there are flagged."""
    k = small[0].read_bytes()
    if case == "initrd-index-8":
        secs = [(".kernel", k)] + [(f".pad{i}", b"p") for i in range(6)] + [(".initrd", b"i")]
        elf = build_elf(secs)
    else:
        elf = build_elf([(".kernel", k), (".cmdline", b"x\0")], names_last=(".kernel",))
    out = tmp_path / "e.elf"
    out.write_bytes(elf)
    info = json.loads(ok(bp(bootpack, "kexec", "info", "--json", out)).stdout)
    assert info["bpf_readable"] is False and info["canonical"] is False
    text = ok(bp(bootpack, "kexec", "info", out)).stdout.decode()
    assert text.endswith("warning: the BPF parser misses a part (it reads section headers "
                         "1 to 7 and 16 bytes of each name)\n")
    # The same parts in the reader's good order are fine for it.
    out.write_bytes(build_elf([(".kernel", k), (".initrd", b"i"), (".cmdline", b"x\0")]))
    assert json.loads(ok(bp(bootpack, "kexec", "info", "--json", out)).stdout)["bpf_readable"]


# --------------------------------------------------------------------------
# Real kernels: Linux 6.12 arm64 zboot (gzip), plain and signed

def test_real_zboot_kernel(bootpack, zboot_kernels, tmp_path):
    zk = zboot_kernels[("6.12", "gzip")]
    initrd = tmp_path / "initrd"
    initrd.write_bytes(bytes(range(256)) * 4099)
    out = tmp_path / "e.elf"
    got = envelope(bootpack, out, zk.efi, initrd, "console=ttyAMA0")
    assert got == reference(zk.efi.read_bytes(), initrd.read_bytes(), b"console=ttyAMA0")
    info = json.loads(ok(bp(bootpack, "kexec", "info", "--json", out)).stdout)
    assert (info["zboot"], info["compression"], info["machine_name"]) == \
        (True, "gzip", "AArch64")
    with open(out, "rb") as f:
        assert ElfView(f).data[".kernel"] == zk.efi.read_bytes()


def test_signed_kernel_stays_verifiable(bootpack, zboot_kernels, pki, tmp_path):  # noqa: F811
    """The signature of a signed zboot still verifies after envelope + extract,
    by bootpack and by sbverify."""
    key, crt = pki.self_signed("db")
    zk = zboot_kernels[("6.12", "gzip")]
    signed = tmp_path / "signed.efi"
    ok(bp(bootpack, "pe", "sign", zk.efi, "--key", key, "--cert", crt, "-o", signed))
    out = tmp_path / "e.elf"
    envelope(bootpack, out, signed, cmdline="quiet")
    info = json.loads(ok(bp(bootpack, "kexec", "info", "--json", out)).stdout)
    assert info["signed"] is True
    back = tmp_path / "back.efi"
    ok(bp(bootpack, "kexec", "extract", out, "-s", ".kernel", "-o", back))
    assert back.read_bytes() == signed.read_bytes()
    ok(bp(bootpack, "pe", "verify", "--cert", crt, back))
    check = run(["sbverify", "--cert", crt, back], check=False)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


# --------------------------------------------------------------------------
# Hostile envelopes: one defect per row

def put(data, off, fmt, value):
    struct.pack_into(fmt, data, off, value)
    return data


def shdr(i, field):
    return EHDR + i * SHDR + field


class Env:
    """A reference envelope of the small kernel, initrd "ab", cmdline "c=1"."""

    def __init__(self, kernel):
        self.k = kernel
        self.data = bytearray(reference(kernel, b"ab", b"c=1"))
        self.off_i = HEADERS + len(kernel)
        self.off_c = align8(self.off_i + 2)
        self.off_s = align8(self.off_c + 4)


def _rows():
    def r(fn, msg):
        return (fn, msg)
    n = lambda e: len(e.data)  # noqa: E731
    return {
        "empty": r(lambda e: bytearray(), lambda e: "not a kexec envelope: file is 0 bytes, "
                   "shorter than the 64-byte ELF header"),
        "short": r(lambda e: e.data[:40], lambda e: "not a kexec envelope: file is 40 bytes, "
                   "shorter than the 64-byte ELF header"),
        "magic": r(lambda e: put(e.data, 3, "<B", ord("G")),
                   lambda e: "not a kexec envelope: no ELF magic (7f 45 4c 46) at offset 0"),
        "class32": r(lambda e: put(e.data, 4, "<B", 1),
                     lambda e: "ELF class 1, data encoding 1: not ELF64 little-endian"),
        "big-endian": r(lambda e: put(e.data, 5, "<B", 2),
                        lambda e: "ELF class 2, data encoding 2: not ELF64 little-endian"),
        "type-rel": r(lambda e: put(e.data, E_TYPE, "<H", 1),
                      lambda e: "e_type 1, not ET_EXEC (2)"),
        "shentsize": r(lambda e: put(e.data, E_SHENTSIZE, "<H", 40),
                       lambda e: "e_shentsize 40, not 64"),
        "shnum-zero": r(lambda e: put(e.data, E_SHNUM, "<H", 0),
                        lambda e: "no section headers (e_shnum 0)"),
        "shnum-absurd": r(lambda e: put(e.data, E_SHNUM, "<H", 0xffff),
                          lambda e: "e_shnum 65535: more than 64 sections"),
        "shdrs-past-end": r(lambda e: put(e.data, E_SHOFF, "<Q", len(e.data) - 100),
                            lambda e: f"section headers (5 x 64 bytes at {n(e) - 100:#x}) lie "
                            f"past the end of the file ({n(e)} bytes)"),
        "shoff-wraps": r(lambda e: put(e.data, E_SHOFF, "<Q", 2**64 - 64),
                         lambda e: "section headers (5 x 64 bytes at 0xffffffffffffffc0) lie "
                         f"past the end of the file ({n(e)} bytes)"),
        "shstrndx-zero": r(lambda e: put(e.data, E_SHSTRNDX, "<H", 0),
                           lambda e: "e_shstrndx 0 is not a section (e_shnum 5)"),
        "shstrndx-past": r(lambda e: put(e.data, E_SHSTRNDX, "<H", 5),
                           lambda e: "e_shstrndx 5 is not a section (e_shnum 5)"),
        "shstrndx-progbits": r(lambda e: put(e.data, E_SHSTRNDX, "<H", 1),
                               lambda e: "e_shstrndx 1: section of type 1, not SHT_STRTAB (3)"),
        "strtab-no-nul": r(lambda e: put(e.data, len(e.data) - 1, "<B", ord("x")),
                           lambda e: f"section name string table (36 bytes at {e.off_s:#x}) "
                           "does not end in a NUL byte"),
        "strtab-empty": r(lambda e: put(e.data, shdr(4, SH_SIZE), "<Q", 0),
                          lambda e: "section name string table is empty"),
        "name-outside": r(lambda e: put(e.data, shdr(2, SH_NAME), "<I", 36),
                          lambda e: "section 2: sh_name 36 is outside the string table "
                          "(36 bytes)"),
        "name-huge": r(lambda e: put(e.data, shdr(1, SH_NAME), "<I", 0xffffffff),
                       lambda e: "section 1: sh_name 4294967295 is outside the string table "
                       "(36 bytes)"),
        "kernel-past-end": r(lambda e: put(e.data, shdr(1, SH_SIZE), "<Q", len(e.data)),
                             lambda e: f"section 1: data ({n(e)} bytes at 0x180) lies past the "
                             f"end of the file ({n(e)} bytes)"),
        "initrd-offset-wraps": r(lambda e: put(put(e.data, shdr(2, SH_OFFSET), "<Q", 2**64 - 8),
                                               shdr(2, SH_SIZE), "<Q", 16),
                                 lambda e: "section 2: data (16 bytes at 0xfffffffffffffff8) "
                                 f"lies past the end of the file ({n(e)} bytes)"),
        # Found by fuzz_kexec_envelope: an empty section was not range-checked,
        # so info reported an offset past the end of the file.
        "empty-cmdline-offset-past-end": r(
            lambda e: put(put(e.data, shdr(3, SH_SIZE), "<Q", 0), shdr(3, SH_OFFSET), "<Q",
                          2**60),
            lambda e: "section 3: data (0 bytes at 0x1000000000000000) lies past the end of "
            f"the file ({n(e)} bytes)"),
        "overlap-kernel-initrd": r(lambda e: put(e.data, shdr(2, SH_OFFSET), "<Q", HEADERS + 8),
                                   lambda e: 'section 1 (".kernel") and section 2 (".initrd") '
                                   "overlap"),
        "overlap-elf-header": r(lambda e: put(e.data, shdr(1, SH_OFFSET), "<Q", 16),
                                lambda e: 'the ELF header and section 1 (".kernel") overlap'),
        "overlap-section-headers": r(lambda e: put(e.data, shdr(3, SH_OFFSET), "<Q", 100),
                                     lambda e: 'the section headers and section 3 (".cmdline") '
                                     "overlap"),
        "duplicate-kernel": r(lambda e: put(e.data, shdr(2, SH_NAME), "<I", 1),
                              lambda e: 'two sections named ".kernel" (1 and 2)'),
        "no-kernel": r(lambda e: put(e.data, shdr(1, SH_NAME), "<I", 2),
                       lambda e: "no .kernel section"),
        "kernel-nobits": r(lambda e: put(e.data, shdr(1, SH_TYPE), "<I", 8),
                           lambda e: "section .kernel is of type 8, not SHT_PROGBITS (1)"),
        "kernel-empty": r(lambda e: put(e.data, shdr(1, SH_SIZE), "<Q", 0),
                          lambda e: "section .kernel is empty"),
        "kernel-not-pe": r(lambda e: put(e.data, HEADERS, "<H", 0),
                           lambda e: 'section .kernel is not a PE/EFI image: no "MZ" signature '
                           "at offset 0"),
        "kernel-cut": r(lambda e: put(e.data, shdr(1, SH_SIZE), "<Q", 40),
                        lambda e: "section .kernel is not a PE/EFI image: file is 40 bytes, "
                        "shorter than the 64-byte DOS header"),
        "cmdline-no-nul": r(lambda e: put(e.data, e.off_c + 3, "<B", ord("x")),
                            lambda e: "section .cmdline (4 bytes) does not end in a NUL byte"),
        "cmdline-inner-nul": r(lambda e: put(e.data, e.off_c + 1, "<B", 0),
                               lambda e: "section .cmdline has a NUL byte at 1, before its end "
                               "(4 bytes): the kernel would ignore what follows"),
    }


ROWS = _rows()


def assert_refused(proc, path, msg, before, outdir):
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 1, err
    assert err == f"bootpack: '{path}': {msg}\n"
    assert proc.stdout == b""
    assert list(outdir.iterdir()) == []
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert sha256(path) == before


@pytest.mark.parametrize("name", sorted(ROWS))
def test_hostile_envelope(bootpack, small, tmp_path, name):
    mutate, msg = ROWS[name]
    e = Env(small[0].read_bytes())
    indir, outdir = tmp_path / "in", tmp_path / "out"
    indir.mkdir()
    outdir.mkdir()
    src = indir / f"{name}.elf"
    src.write_bytes(bytes(mutate(e)))
    before = sha256(src)
    expected = msg(e)
    assert_refused(bp(bootpack, "kexec", "info", src), src, expected, before, outdir)
    assert_refused(bp(bootpack, "kexec", "extract", src, "-s", ".kernel", "-o", outdir / "k"),
                   src, expected, before, outdir)


def test_hostile_baseline_reads(bootpack, small, tmp_path):
    """The unmutated row base is accepted: each row fails for its own defect."""
    src = tmp_path / "ok.elf"
    src.write_bytes(bytes(Env(small[0].read_bytes()).data))
    info = json.loads(ok(bp(bootpack, "kexec", "info", "--json", src)).stdout)
    assert info["canonical"] is True and info["cmdline_text"] == "c=1"


def _write_rows(pe_gen, d):
    """(name, args after -o OUT, the path blamed, message) for refused envelope inputs."""
    junk = d / "junk"
    junk.write_bytes(b"\x7fELF" + bytes(100))
    tiny = d / "tiny"
    tiny.write_bytes(b"MZ" + bytes(8))
    ia32 = d / "ia32.efi"
    run([pe_gen, "--machine", "ia32", "--pe32", ia32])
    good = d / "good.efi"
    run([pe_gen, "--zboot", "gzip", good])
    nulcmd = d / "cmd"
    nulcmd.write_bytes(b"a\0b")
    return [
        ("kernel-not-pe", ["--kernel", junk], junk,
         'kernel is not a PE/EFI image: no "MZ" signature at offset 0'),
        ("kernel-tiny", ["--kernel", tiny], tiny,
         "kernel is not a PE/EFI image: file is 10 bytes, shorter than the 64-byte DOS header"),
        ("kernel-ia32", ["--kernel", ia32], ia32,
         "kernel is for PE machine 0x014c, not arm64, riscv64, loongarch64 or x86_64"),
        ("kernel-missing", ["--kernel", d / "nope"], d / "nope",
         "cannot open: No such file or directory"),
        ("initrd-dir", ["--kernel", good, "--initrd", d], d,
         "initrd is not a regular file (its size is needed before its bytes)"),
        ("initrd-missing", ["--kernel", good, "--initrd", d / "nope"], d / "nope",
         "cannot open: No such file or directory"),
        ("cmdline-nul", ["--kernel", good, f"--cmdline=@{nulcmd}"], nulcmd,
         "command line contains a NUL byte"),
    ]


def test_hostile_envelope_inputs(bootpack, pe_gen, tmp_path):
    indir, outdir = tmp_path / "in", tmp_path / "out"
    indir.mkdir()
    outdir.mkdir()
    for name, args, blamed, msg in _write_rows(pe_gen, indir):
        proc = bp(bootpack, "kexec", "envelope", "-o", outdir / "e.elf", *args)
        err = proc.stderr.decode(errors="replace")
        assert proc.returncode == 1, (name, err)
        assert err == f"bootpack: '{blamed}': {msg}\n", name
        assert proc.stdout == b"" and list(outdir.iterdir()) == [], name


def test_usage_errors(bootpack, small, tmp_path):
    kernel = small[0]
    cases = [
        (["envelope", "--kernel", kernel], "kexec envelope: missing required option -o/--output"),
        (["envelope", "-o", tmp_path / "x"], "kexec envelope: missing required option --kernel"),
        (["extract", kernel, "-s", ".bss", "-o", tmp_path / "x"],
         "kexec extract: unknown section '.bss' (.kernel, .initrd or .cmdline)"),
        (["info"], "kexec info: no envelope given"),
    ]
    for args, msg in cases:
        proc = bp(bootpack, "kexec", *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.decode().splitlines()[0] == f"bootpack {msg}"
    assert list(tmp_path.iterdir()) == []
