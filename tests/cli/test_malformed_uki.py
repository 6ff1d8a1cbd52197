# SPDX-License-Identifier: MIT
"""Hostile Unified Kernel Images and UKI inputs: one defect per case.

Inspection rows (uki info, uki extract) start from a small UKI made
without bootpack: pe-gen's x64 image as the stub (room for 12 more section
headers) and as the kernel, parts appended by uki_assemble.py, one header
field forged or the file cut. Build rows (uki build) start from the same
pe-gen images. Every row asserts:
  - exit status 1, nothing on stdout,
  - exactly one stderr line `bootpack: 'PATH': message`: the message exact
    for inspection (computed here from the layout), matched by key words for
    the build rows (their wording is uki build's),
  - no output file and no temporary left in the output directory,
  - every input byte-identical afterwards.

Section data located as systemd-stub does: min(VirtualSize, SizeOfRawData)
bytes at PointerToRawData.
"""

import errno
import hashlib
import json
import os
import re
import struct
import threading
import time
from pathlib import Path

import pytest

from conftest import run
from uki_assemble import SECTION, Pe, add_sections

OSREL = b'NAME=Test\nPRETTY_NAME="Test OS 1"\n'
INITRD = bytes((i * 13) & 0xff for i in range(3000))
COUNT_OFFSET = 2          # NumberOfSections in the COFF header


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Base:
    """pe-gen images: the stub (x64, room for 12 section headers), the
    kernel (x64 and arm64), a stub whose headers cannot grow; made once."""

    def __init__(self, pe_gen, work):
        self.dir = work
        self.stub = self.gen(pe_gen, "stub", "--machine", "x64", "--spare-headers", "12")
        self.kernel = self.gen(pe_gen, "kernel", "--machine", "x64")
        self.kernel_arm64 = self.gen(pe_gen, "kernel-arm64", "--machine", "arm64")
        # Headers end where the first section's address begins: no growing them.
        self.tight = self.gen(pe_gen, "tight", "--machine", "x64", "--tight-headers",
                              "--section-align", "0x200")

    def gen(self, pe_gen, name, *args):
        out = self.dir / f"{name}.efi"
        run([pe_gen, *args, out])
        return out

    def uki(self, *extra, kernel=None, last=()):
        """The base UKI's bytes: .osrel, .cmdline, .uname, .linux, @extra, .initrd, @last."""
        k = (kernel or self.kernel).read_bytes()
        parts = [(".osrel", OSREL), (".cmdline", b"quiet"), (".uname", b"6.1.0-test"),
                 (".linux", k), *extra, (".initrd", INITRD), *last]
        return bytearray(add_sections(self.stub.read_bytes(), parts))


@pytest.fixture(scope="module")
def base(pe_gen, tmp_path_factory):
    return Base(pe_gen, tmp_path_factory.mktemp("uki-base"))


def section(data, name):
    """(index, vsize, raw_size, raw_ptr, header offset) of the first section @name."""
    pe = Pe(data)
    for i, (n, vsize, _, raw, ptr) in enumerate(pe.sections()):
        if n == name:
            return i, vsize, raw, ptr, pe.table + SECTION * i
    raise KeyError(name)


def indices(data, name):
    return [i for i, s in enumerate(Pe(data).sections()) if s[0] == name]


def past_eof(name, data, ptr=None, n=None, size=None, uki=True):
    i, vsize, raw, p, _ = section(data, name)
    n = min(vsize, raw) if n is None else n
    ptr = p if ptr is None else ptr
    size = len(data) if size is None else size
    what = "UKI section" if uki else "section"
    return (f"{what} '{name}': data ({n:#x} bytes at {ptr:#x}) extends past the end of the "
            f"file ({size:#x})")


def forge(data, name, field, value):
    """Set @field (vsize, raw_size, raw_ptr) of section @name's header."""
    off = section(data, name)[4] + {"vsize": 8, "raw_size": 16, "raw_ptr": 20}[field]
    struct.pack_into("<I", data, off, value)
    return data


# --------------------------------------------------------------------------
# Inspection rows: name -> (command, builder). A builder gets the Base and
# returns (image bytes, extra arguments, expected message). Commands: "info"
# is `uki info IN`, "extract" `uki extract IN ARGS -o OUT`.

INSPECT = {}


def row(name, cmd):
    def register(fn):
        assert name not in INSPECT, name
        INSPECT[name] = (cmd, fn)
        return fn
    return register


@row("linux-past-eof", "info")
def _(b):
    d = b.uki()
    forge(d, ".linux", "raw_ptr", len(d) + 0x1000)
    return d, [], past_eof(".linux", d)


@row("linux-past-eof-extract", "extract")
def _(b):
    d = b.uki()
    forge(d, ".linux", "raw_ptr", len(d) + 0x1000)
    return d, ["-s", ".linux"], past_eof(".linux", d, uki=False)


@row("cmdline-raw-pointer-wraps", "info")
def _(b):
    d = forge(b.uki(), ".cmdline", "raw_ptr", 0xffffff00)
    return d, [], past_eof(".cmdline", d)


@row("osrel-raw-size-past-eof", "info")
def _(b):
    # VirtualSize as large too: min() of both lies past the end.
    d = forge(forge(b.uki(), ".osrel", "raw_size", 0x7fff0000), ".osrel", "vsize", 0x7fff0000)
    return d, [], past_eof(".osrel", d)


@row("initrd-cut", "info")
def _(b):
    d = b.uki()
    ptr = section(d, ".initrd")[3]
    cut = d[:ptr + 100]
    return cut, [], past_eof(".initrd", d, size=len(cut))


@row("initrd-cut-extract", "extract")
def _(b):
    d = b.uki()
    cut = d[:section(d, ".initrd")[3] + 100]
    return cut, ["-s", ".initrd"], past_eof(".initrd", d, size=len(cut), uki=False)


@row("sbat-cut-at-last-byte", "info")
def _(b):
    d = b.uki(last=[(".sbat", b"sbat,1,x\n" * 10)])
    cut = d[:section(d, ".sbat")[3] + 89]
    return cut, [], past_eof(".sbat", d, size=len(cut))


def duplicate(name, cmd):
    def build(b):
        d = b.uki(last=[(name, b"second")]) if name != ".linux" else \
            b.uki(last=[(".linux", b.kernel.read_bytes())])
        i, j = indices(d, name)
        if cmd == "info":
            msg = (f"UKI section '{name}' appears twice (sections {i} and {j}): which one the "
                   "stub reads is undefined")
            return d, [], msg
        return d, ["-s", name], f"section '{name}' appears more than once (sections {i} and {j})"
    return build


for _n in (".linux", ".osrel", ".cmdline", ".initrd", ".uname"):
    row(f"duplicate-{_n[1:]}", "info")(duplicate(_n, "info"))
row("duplicate-linux-extract", "extract")(duplicate(".linux", "extract"))


@row("sections-65535", "info")
def _(b):
    d = b.uki()
    pe = Pe(d)
    struct.pack_into("<H", d, pe.coff + COUNT_OFFSET, 65535)
    return d, [], (f"section table (65535 entries of 40 bytes at {pe.table:#x}) extends past "
                   f"the end of the file ({len(d):#x}): it holds only "
                   f"{(len(d) - pe.table) // SECTION} of them")


@row("sections-65535-all-linux", "info")
def _(b):
    """A table that fits (2.6 MB), every entry the .linux header: inspection
    must stop at the second, not compare all pairs."""
    d = b.uki()
    pe = Pe(d)
    entry = d[section(d, ".linux")[4]:][:SECTION]
    end = pe.table + SECTION * 65535
    d[len(d):] = bytes(end - len(d))
    d[pe.table:end] = entry * 65535
    struct.pack_into("<H", d, pe.coff + COUNT_OFFSET, 65535)
    return d, [], ("UKI section '.linux' appears twice (sections 0 and 1): which one the stub "
                   "reads is undefined")


@row("linux-not-pe", "info")
def _(b):
    d = bytearray(add_sections(b.stub.read_bytes(), [(".linux", b"\x7fELF" + bytes(200))]))
    _, vsize, raw, ptr, _ = section(d, ".linux")
    return d, [], (f"UKI section '.linux' ({min(vsize, raw)} bytes at {ptr:#x}) is not a PE "
                   "image: the stub cannot start it")


@row("linux-e_lfanew-past-end", "info")
def _(b):
    k = bytearray(b"MZ" + bytes(0x3e))
    struct.pack_into("<I", k, 0x3c, 0x1000)
    d = bytearray(add_sections(b.stub.read_bytes(), [(".linux", bytes(k))]))
    return d, [], (f"UKI section '.linux' (64 bytes at {section(d, '.linux')[3]:#x}) is not a "
                   "PE image: the stub cannot start it")


@row("linux-empty", "info")
def _(b):
    d = bytearray(add_sections(b.stub.read_bytes(), [(".linux", b"")]))
    return d, [], (f"UKI section '.linux' (0 bytes at {section(d, '.linux')[3]:#x}) is not a "
                   "PE image: the stub cannot start it")


@row("not-a-uki", "info")
def _(b):
    return bytearray(add_sections(b.stub.read_bytes(), [(".initrd", INITRD)])), [], \
        "not a UKI: no .linux section"


@row("extract-missing-section", "extract")
def _(b):
    return b.uki(), ["-s", ".pcrsig"], "no section '.pcrsig'"


@row("extract-name-escaped", "extract")
def _(b):
    return b.uki(), ["-s", "\x1b[2J\x07"], "no section '\\x1b[2J\\x07'"


@row("empty-file", "extract")
def _(b):
    return b"", ["-s", ".linux"], ("not a PE image: file is 0 bytes, shorter than the 64-byte "
                                   "DOS header")


@pytest.mark.parametrize("name", INSPECT)
def test_inspect_refused(bootpack, base, tmp_path, name):
    cmd, build = INSPECT[name]
    data, args, expected = build(base)
    indir, outdir = tmp_path / "in", tmp_path / "out"
    indir.mkdir()
    outdir.mkdir()
    src = indir / f"{name}.efi"
    src.write_bytes(bytes(data))
    before = sha256(src)
    argv = ["uki", "info", src] if cmd == "info" else \
        ["uki", "extract", src, *args, "-o", outdir / "out.bin"]
    proc = run([bootpack, *argv], check=False, timeout=60)
    assert_refused(proc, src, expected, outdir, [(src, before)])
    assert proc.elapsed < 20


def assert_refused(proc, culprit, expected, outdir, inputs):
    """Exit 1, one line naming @culprit with @expected (a string, exact, or a
    compiled regex for the message), empty stdout and @outdir, inputs intact."""
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 1, err
    if isinstance(expected, str):
        assert err == f"bootpack: '{culprit}': {expected}\n"
    else:
        assert err.count("\n") == 1 and err.startswith(f"bootpack: '{culprit}': "), err
        assert expected.search(err), err
    assert proc.stdout == b""
    assert sorted(p.name for p in outdir.iterdir()) == []
    for path, digest in inputs:
        assert sha256(path) == digest, f"{path} modified"


def test_uki_info_directory(bootpack, tmp_path):
    (tmp_path / "out").mkdir()
    proc = run([bootpack, "uki", "info", tmp_path / "out"], check=False)
    assert_refused(proc, tmp_path / "out", "is a directory, not a file", tmp_path / "out", [])


def feed_fifo(path, data, wait=20):
    """A FIFO at @path, written with @data by a thread once a reader opens
    it (polled, so the thread ends after @wait seconds if none does)."""
    os.mkfifo(path)

    def write():
        deadline = time.monotonic() + wait
        while True:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    return
                time.sleep(0.01)
        os.set_blocking(fd, True)
        try:
            os.write(fd, data)
        except BrokenPipeError:
            pass
        os.close(fd)
    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


def test_uki_info_fifo(bootpack, base, tmp_path):
    """A FIFO is read once, through one open (it was opened twice and hung)."""
    (tmp_path / "out").mkdir()
    fifo = tmp_path / "uki.fifo"
    t = feed_fifo(fifo, bytes(base.uki()))
    j = json.loads(run([bootpack, "uki", "info", "--json", fifo], timeout=20).stdout)
    t.join(5)
    assert j["uki"]["pretty_name"] == "Test OS 1"
    fifo.unlink()
    t = feed_fifo(fifo, b"hello")
    proc = run([bootpack, "uki", "info", fifo], check=False, timeout=20)
    t.join(5)
    assert_refused(proc, fifo, "not a PE image: file is 5 bytes, shorter than the 64-byte DOS "
                   "header", tmp_path / "out", [])


# --------------------------------------------------------------------------
# Hostile but valid: huge strings without NUL are cut, never overrun.

def test_huge_strings_cut(bootpack, base, tmp_path):
    mib = 1 << 20
    d = add_sections(base.stub.read_bytes(), [
        (".osrel", b"PRETTY_NAME=" + b"P" * mib), (".uname", b"U" * mib),
        (".cmdline", b"C" * mib), (".sbat", b"s,1\n" * (mib // 4)),
        (".linux", base.kernel.read_bytes())])
    src = tmp_path / "huge.efi"
    src.write_bytes(d)
    j = json.loads(run([bootpack, "pe", "info", "--json", src]).stdout)["uki"]
    # bp_uki_info holds 127 characters and a NUL; the command line shows 4096 bytes.
    assert (j["pretty_name"], j["kernel_release"]) == ("P" * 127, "U" * 127)
    assert j["cmdline"] == "C" * 4096 and j["sections"]["cmdline"]["size"] == mib
    assert j["sbat_lines"] == ["s,1"] * 1024
    text = run([bootpack, "pe", "info", src]).stdout.decode()
    assert f'"{"C" * 4096}" ({mib} bytes, the first 4096 shown)' in text
    assert f"SBAT:                  {mib} bytes, 1024 lines in the first 4096 bytes" in text
    assert "    ... 960 more\n" in text


# --------------------------------------------------------------------------
# uki build rows (bootpack uki build, issue 17 point 1). Messages are
# matched by key words: their exact wording belongs to uki build. Each row:
# name -> builder(Base, dir) giving (arguments after -o OUT, culprit path,
# regex of the message).

BUILD = {}


def build_row(name):
    def register(fn):
        assert name not in BUILD, name
        BUILD[name] = fn
        return fn
    return register


def put(d, name, data):
    p = d / name
    p.write_bytes(bytes(data))
    return p


def with_count(path, d, name, n):
    data = bytearray(path.read_bytes())
    pe = Pe(data)
    struct.pack_into("<H", data, pe.coff + COUNT_OFFSET, n)
    return put(d, name, data)


@build_row("stub-no-room-cannot-grow")
def _(b, d):
    return (["--stub", b.tight, "--linux", b.kernel, "--initrd", put(d, "i", INITRD)], b.tight,
            re.compile(r"header|room|grow", re.I))


@build_row("stub-section-cut")
def _(b, d):
    stub = put(d, "stub-cut.efi", b.stub.read_bytes()[:-0x100])
    return ["--stub", stub, "--linux", b.kernel], stub, re.compile(r"past the end of the file")


@build_row("stub-sections-65535")
def _(b, d):
    stub = with_count(b.stub, d, "stub-65535.efi", 65535)
    return ["--stub", stub, "--linux", b.kernel], stub, re.compile(r"section table .*65535")


@build_row("kernel-sections-65535")
def _(b, d):
    k = with_count(b.kernel, d, "kernel-65535.efi", 65535)
    return ["--stub", b.stub, "--linux", k], k, re.compile(r"section table .*65535")


@build_row("kernel-not-pe")
def _(b, d):
    k = put(d, "Image.gz", b"\x1f\x8b" + bytes(300))
    return ["--stub", b.stub, "--linux", k], k, re.compile(r"not a PE", re.I)


@build_row("kernel-cut")
def _(b, d):
    k = put(d, "kernel-cut.efi", b.kernel.read_bytes()[:0x30])
    return ["--stub", b.stub, "--linux", k], k, re.compile(r"not a PE|shorter", re.I)


@build_row("machine-mismatch")
def _(b, d):
    return (["--stub", b.stub, "--linux", b.kernel_arm64], b.kernel_arm64,
            re.compile(r"machine|arm64|aa64|x86|8664", re.I))


@build_row("duplicate-extra-section")
def _(b, d):
    f = put(d, "x", b"x")
    return (["--stub", b.stub, "--linux", b.kernel, "--section", f".pcrpkey:{f}", "--section",
             f".pcrpkey:{f}"], None, re.compile(r"\.pcrpkey.*(twice|more than once|duplicate|"
                                                r"already)", re.I))


@build_row("extra-section-is-cmdline")
def _(b, d):
    f = put(d, "c", b"quiet")
    return (["--stub", b.stub, "--linux", b.kernel, "--cmdline", "ro", "--section",
             f".cmdline:{f}"], None, re.compile(r"\.cmdline.*(twice|more than once|duplicate|"
                                                r"already)", re.I))


@build_row("extra-section-in-stub")
def _(b, d):
    f = put(d, "t", b"text")
    return (["--stub", b.stub, "--linux", b.kernel, "--section", f".text:{f}"], None,
            re.compile(r"(?=.*\.text)(?=.*(twice|more than once|duplicate|already))", re.I))


@build_row("initrd-missing")
def _(b, d):
    missing = d / "no-such-initrd"
    return (["--stub", b.stub, "--linux", b.kernel, "--initrd", missing], missing,
            re.compile(r"No such file or directory"))


@build_row("stub-missing")
def _(b, d):
    missing = d / "no-such-stub"
    return ["--stub", missing, "--linux", b.kernel], missing, \
        re.compile(r"No such file or directory")


@build_row("initrd-directory")
def _(b, d):
    sub = d / "initrd.d"
    sub.mkdir()
    return (["--stub", b.stub, "--linux", b.kernel, "--initrd", sub], sub,
            re.compile(r"directory|not a regular file"))


@build_row("initrd-fifo")
def _(b, d):
    fifo = d / "initrd.fifo"
    feed_fifo(fifo, INITRD, wait=5)
    return (["--stub", b.stub, "--linux", b.kernel, "--initrd", fifo], fifo,
            re.compile(r"FIFO|pipe|not a regular file", re.I))


@build_row("kernel-fifo-not-pe")
def _(b, d):
    fifo = d / "kernel.fifo"
    feed_fifo(fifo, b"not a kernel" * 10)
    return ["--stub", b.stub, "--linux", fifo], fifo, re.compile(r"not a PE", re.I)


@pytest.mark.parametrize("name", BUILD)
def test_build_refused(bootpack, base, tmp_path, name):
    indir, outdir = tmp_path / "in", tmp_path / "out"
    indir.mkdir()
    outdir.mkdir()
    args, culprit, expected = BUILD[name](base, indir)
    inputs = [(p, sha256(p)) for p in [base.stub, base.kernel, base.kernel_arm64, base.tight,
                                       *indir.iterdir()] if p.is_file()]
    proc = run([bootpack, "uki", "build", "-o", outdir / "uki.efi", *args], check=False,
               timeout=60)
    if culprit is None:
        err = proc.stderr.decode(errors="replace")
        assert proc.returncode == 1 and err.count("\n") == 1 and \
            err.startswith("bootpack: "), err
        assert expected.search(err), err
        assert proc.stdout == b"" and not list(outdir.iterdir())
    else:
        assert_refused(proc, culprit, expected, outdir, inputs)


@pytest.mark.parametrize("name", ["linux-past-eof", "duplicate-linux", "initrd-cut"])
def test_pe_info_reports(bootpack, base, tmp_path, name):
    """pe info lists what is wrong instead of refusing: the UKI block says
    why it cannot be read (exit 0, as for the image's other problems)."""
    data, _, expected = INSPECT[name][1](base)
    src = tmp_path / "in.efi"
    src.write_bytes(bytes(data))
    assert json.loads(run([bootpack, "pe", "info", "--json", src]).stdout)["uki"] == \
        {"error": expected}
    assert f"\nUKI:                     unreadable: {expected}\n" in \
        run([bootpack, "pe", "info", src]).stdout.decode()
