# SPDX-License-Identifier: MIT
"""bootpack pe info/verify/add-section/replace-section/remove-section and
zboot extract, on real Linux arm64 EFI zboot kernels and synthetic PEs.

Expected values never come from bootpack itself:
  - pefile (python3-pefile) parses every image: headers, sections, data
    directories, the debug directory, the overlay, generate_checksum();
  - the zboot header is read here with struct.unpack (offsets 0x04 "zimg",
    0x08 payload offset, 0x0c payload size, 0x18 compression name, 0x38
    LINUX_PE_MAGIC, from Linux's drivers/firmware/efi/libstub/zboot-header.S);
  - GNU objdump -h (binutils 2.40, aarch64-linux-gnu-objdump) lists sections;
  - the kernel's own arch/arm64/boot/Image, and the payload decompressed
    with Python's zlib/lzma and the lz4/lzop/zstd command-line tools;
  - sbsign/sbverify (sbsigntool) sign and check signatures;
  - pe-gen (tests/unit/pe_gen.c, built independently of lib/pe) writes the
    synthetic images and reports their layout;
  - edits are predicted from the PE/COFF specification and the rules in
    bootpack(1) (which offsets move, by how much), then compared field by
    field and byte by byte with what bootpack wrote.
Finally the edited kernels are booted with QEMU + EDK2 (qemu_efi.py).

The kernels are the ZBOOT_BUILDS of conftest.py (6.1 with gzip, lz4, lzma,
lzo, xzkern, zstd22; 6.12 with gzip and zstd and a CodeView debug record);
all edits run on copies in a temporary directory. The whole file takes
about 40 s here: each boot is ~0.5 s under TCG (the objcopy image, which
EDK2 refuses, ~5 s), each edit plus its checks ~0.2 s.
"""

import hashlib
import json
import lzma
import random
import re
import shutil
import struct
import zlib
from pathlib import Path

import pefile
import pytest

import qemu_efi
from conftest import ZBOOT_BUILDS, bootpack_path, run
from qemu_uboot import QemuError

pytestmark = pytest.mark.corpus

OBJDUMP = "aarch64-linux-gnu-objdump"
OBJCOPY = "aarch64-linux-gnu-objcopy"
REQUIRED = {  # tool: Debian package
    OBJDUMP: "binutils-aarch64-linux-gnu", OBJCOPY: "binutils-aarch64-linux-gnu",
    "sbsign": "sbsigntool", "sbverify": "sbsigntool", "openssl": "openssl",
    "zstd": "zstd", "lz4": "lz4", "lzop": "lzop",
}

KIDS = [f"{v}-{c}" for v, c in ZBOOT_BUILDS]
# Booted: gzip and zstd of both versions (the zboot stubs that matter most).
BOOT_KIDS = ["6.1-gzip", "6.1-zstd22", "6.12-gzip", "6.12-zstd"]

# PE/COFF constants (Microsoft PE format specification).
SCN_CODE, SCN_IDATA, SCN_UDATA = 0x20, 0x40, 0x80
SCN_DISCARDABLE, SCN_SHARED = 0x02000000, 0x10000000
SCN_EXECUTE, SCN_READ, SCN_WRITE = 0x20000000, 0x40000000, 0x80000000
FLAG_NAMES = {SCN_CODE: "code", SCN_IDATA: "data", SCN_UDATA: "bss",
              SCN_DISCARDABLE: "discardable", SCN_SHARED: "shared",
              SCN_EXECUTE: "execute", SCN_READ: "read", SCN_WRITE: "write"}
DIR_NAMES = ["export", "import", "resource", "exception", "certificate", "base-relocation",
             "debug", "architecture", "global-pointer", "tls", "load-config", "bound-import",
             "iat", "delay-import", "clr-runtime", "reserved"]
DIR_SECURITY, DIR_DEBUG = 4, 6
SECTION_HEADER = 40
DEFAULT_ADD_FLAGS = SCN_IDATA | SCN_READ  # bootpack(1): "data,read"
LINUX_PE_MAGIC = 0x818223cd

# pefile warnings that say nothing about structure: its "mostly one byte"
# heuristic fires on pe-gen's filler bytes. Anything else fails the test.
ALLOWED_PEFILE_WARNINGS = [
    re.compile(r"Byte 0x[0-9a-f]{2} makes up [0-9.]+% of the file's contents\. "
               r"This may indicate truncation / malformation\."),
]

# Section contents: odd sizes on purpose (FileAlignment padding must show).
DATA_SIZES = {"300": 300, "3M": 3 << 20, "1M+7": (1 << 20) + 7, "100": 100, "4000": 4000,
              "4097": 4097}


def align(x, a):
    return (x + a - 1) // a * a


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def bp(*args, cwd=None):
    """bootpack with any exit status (the caller asserts on it)."""
    return run([bootpack_path(), *args], cwd=cwd, check=False)


def listing(d):
    return sorted(p.name for p in Path(d).iterdir())


# --------------------------------------------------------------------------
# An independent view of a PE file: pefile plus the raw bytes.

class Sec:
    __slots__ = ("name", "va", "vsize", "raw_off", "raw_size", "chars")

    def __init__(self, name, va, vsize, raw_off, raw_size, chars):
        self.name, self.va, self.vsize = name, va, vsize
        self.raw_off, self.raw_size, self.chars = raw_off, raw_size, chars

    @property
    def vend(self):
        return self.va + (self.vsize or self.raw_size)

    def __repr__(self):
        return (f"Sec({self.name!r}, va={self.va:#x}, vsize={self.vsize:#x}, "
                f"raw={self.raw_off:#x}+{self.raw_size:#x}, chars={self.chars:#x})")


class PeView:
    def __init__(self, path):
        self.path = Path(path)
        self.data = self.path.read_bytes()
        self.pe = pefile.PE(data=self.data)
        self.warnings = list(self.pe.get_warnings())
        self.fh = self.pe.FILE_HEADER
        self.oh = self.pe.OPTIONAL_HEADER
        self.sections = [Sec(s.Name.rstrip(b"\0").decode(), s.VirtualAddress, s.Misc_VirtualSize,
                             s.PointerToRawData, s.SizeOfRawData, s.Characteristics)
                         for s in self.pe.sections]
        self._checksum = None

    # headers
    @property
    def e_lfanew(self):
        return self.pe.DOS_HEADER.e_lfanew

    @property
    def fa(self):
        return self.oh.FileAlignment

    @property
    def sa(self):
        return self.oh.SectionAlignment

    @property
    def table_end(self):
        return (self.e_lfanew + 4 + 20 + self.fh.SizeOfOptionalHeader +
                SECTION_HEADER * self.fh.NumberOfSections)

    def generate_checksum(self):
        if self._checksum is None:
            self._checksum = self.pe.generate_checksum()
        return self._checksum

    def section(self, name):
        found = [s for s in self.sections if s.name == name]
        assert len(found) == 1, f"{self.path}: {len(found)} sections named {name!r}"
        return found[0]

    def raw(self, s):
        return self.data[s.raw_off:s.raw_off + s.raw_size]

    def dirs(self):
        return [(i, d.VirtualAddress, d.Size) for i, d in enumerate(self.oh.DATA_DIRECTORY)]

    # certificate table and overlay
    @property
    def cert(self):
        """(file offset, size) of the certificate table, or None."""
        if len(self.oh.DATA_DIRECTORY) <= DIR_SECURITY:
            return None
        d = self.oh.DATA_DIRECTORY[DIR_SECURITY]
        return (d.VirtualAddress, d.Size) if d.Size else None

    def overlay_range(self):
        """[start, end) of the overlay as bootpack defines it: pefile's
        overlay minus the certificate table (pefile counts it as overlay)."""
        start = self.pe.get_overlay_data_start_offset()
        end = self.cert[0] if self.cert else len(self.data)
        if start is None or start >= end:
            return None
        return start, end

    def overlay(self):
        r = self.overlay_range()
        return b"" if r is None else self.data[r[0]:r[1]]

    # zboot header, read by hand
    def zboot(self):
        d = self.data
        if len(d) < 0x40 or d[4:8] != b"zimg":
            return None
        off, size = struct.unpack_from("<II", d, 0x08)
        comp = d[0x18:0x38].split(b"\0")[0].decode()
        return dict(compression=comp, payload_offset=off, payload_size=size,
                    linux_pe_magic=struct.unpack_from("<I", d, 0x38)[0])

    def payload(self):
        z = self.zboot()
        return self.data[z["payload_offset"]:z["payload_offset"] + z["payload_size"]]

    # debug directory
    def debug_entries(self):
        out = []
        for e in getattr(self.pe, "DIRECTORY_ENTRY_DEBUG", []):
            s = e.struct
            out.append(dict(at=s.get_file_offset(), type=s.Type, size=s.SizeOfData,
                            rva=s.AddressOfRawData, ptr=s.PointerToRawData,
                            data=self.data[s.PointerToRawData:s.PointerToRawData + s.SizeOfData]))
        return out

    def unexpected_warnings(self):
        return [w for w in self.warnings if not any(r.fullmatch(w) for r in
                                                    ALLOWED_PEFILE_WARNINGS)]


# --------------------------------------------------------------------------
# GNU objdump

OBJDUMP_LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s+([0-9a-f]{8})\s+([0-9a-f]{16})\s+[0-9a-f]{16}"
                          r"\s+([0-9a-f]{8})\s+2\*\*\d+$", re.M)


def objdump_sections(path):
    proc = run([OBJDUMP, "-h", path])
    text = proc.stdout.decode()
    assert "file format pei-aarch64-little" in text, text
    return [(m.group(2), int(m.group(3), 16), int(m.group(4), 16), int(m.group(5), 16))
            for m in OBJDUMP_LINE.finditer(text)], text


def objdump_expected(view):
    """(name, size, VMA, file offset) as BFD reports a PE image's sections:
    VMA = ImageBase + VirtualAddress; size = VirtualSize when it is smaller
    than SizeOfRawData (or for BSS without raw data), else SizeOfRawData
    (binutils bfd/peXXigen.c, _bfd_XXi_swap_scnhdr_in)."""
    out = []
    for s in view.sections:
        size = s.raw_size
        if s.vsize and ((s.chars & SCN_UDATA and s.raw_size == 0) or s.raw_size > s.vsize):
            size = s.vsize
        vma = view.oh.ImageBase + s.va if s.va else 0
        out.append((s.name, size, vma, s.raw_off))
    return out


# --------------------------------------------------------------------------
# Fixtures

@pytest.fixture(scope="module")
def pe_tools():
    missing = [f"{t} (apt-get install {pkg})" for t, pkg in REQUIRED.items()
               if shutil.which(t) is None]
    if missing:
        pytest.fail("required tools missing: " + "; ".join(missing))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("pe-zboot")


@pytest.fixture(scope="module")
def datafiles(work):
    """Deterministic pseudo-random section contents, by size label."""
    d = work / "data"
    d.mkdir()
    out = {}
    for label, n in DATA_SIZES.items():
        p = d / f"data-{label}.bin"
        p.write_bytes(random.Random(f"bootpack-{label}").randbytes(n))
        out[label] = p
    return out


class Kernel:
    """A private copy of one cached zboot kernel, with what is known of it."""

    def __init__(self, kid, zk, work):
        self.kid = kid
        self.version = zk.version
        self.dir = work / kid
        self.dir.mkdir()
        self.efi = self.dir / "vmlinuz.efi"
        shutil.copyfile(zk.efi, self.efi)
        self.image_path = zk.image
        self.sha = sha256(self.efi)
        self._view = None
        self._expected_image = None

    @property
    def view(self):
        if self._view is None:
            self._view = PeView(self.efi)
        return self._view

    def expected_image(self):
        """What `zboot extract` must produce: arch/arm64/boot/Image. Linux
        6.12's Makefile.zboot compresses the Image zero-padded to the
        image_size of its header (le64 at 0x10; "copy_and_pad"), 6.1's the
        Image as it is, so for 6.12 the expected bytes carry that padding."""
        if self._expected_image is None:
            image = self.image_path.read_bytes()
            assert image[0x38:0x3c] == b"ARM\x64", f"{self.image_path}: not an arm64 Image"
            if self.version != "6.1":
                image_size = struct.unpack_from("<Q", image, 0x10)[0]
                assert image_size >= len(image), (image_size, len(image))
                image += bytes(image_size - len(image))
            self._expected_image = image
        return self._expected_image


@pytest.fixture(scope="module")
def kernels(zboot_kernels, work):
    return {f"{v}-{c}": Kernel(f"{v}-{c}", zk, work) for (v, c), zk in zboot_kernels.items()}


# --------------------------------------------------------------------------
# pe info --json versus pefile and the bytes

def bp_info(path):
    proc = bp("pe", "info", "--json", path)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def expected_info(view):
    """pe info --json's fields, computed from pefile and struct.unpack."""
    oh, fh = view.oh, view.fh
    z = view.zboot()
    if z is not None:
        end = z["payload_offset"] + z["payload_size"]
        inside = [s.name for s in view.sections
                  if s.raw_size and s.raw_off <= z["payload_offset"] and
                  end <= s.raw_off + s.raw_size]
        z = dict(z, payload_in_file=end <= len(view.data),
                 payload_section=inside[0] if len(inside) == 1 else None)
    ov = view.overlay_range()
    return {
        "file_size": len(view.data),
        "format": {0x10b: "PE32", 0x20b: "PE32+"}[oh.Magic],
        "pe_offset": view.e_lfanew,
        "machine": fh.Machine,
        "characteristics": fh.Characteristics,
        "timestamp": fh.TimeDateStamp,
        "size_of_code": oh.SizeOfCode,
        "size_of_initialized_data": oh.SizeOfInitializedData,
        "size_of_uninitialized_data": oh.SizeOfUninitializedData,
        "entry_point": oh.AddressOfEntryPoint,
        "image_base": oh.ImageBase,
        "section_alignment": oh.SectionAlignment,
        "file_alignment": oh.FileAlignment,
        "size_of_image": oh.SizeOfImage,
        "size_of_headers": oh.SizeOfHeaders,
        "checksum": oh.CheckSum,
        "checksum_computed": view.generate_checksum(),
        "subsystem": oh.Subsystem,
        "n_rva_and_sizes": oh.NumberOfRvaAndSizes,
        "directories": [dict(index=i, name=DIR_NAMES[i], address=a, size=s)
                        for i, a, s in view.dirs() if a or s],
        "sections": [dict(name=s.name, virtual_address=s.va, virtual_size=s.vsize,
                          raw_offset=s.raw_off, raw_size=s.raw_size, characteristics=s.chars)
                     for s in view.sections],
        "overlay": None if ov is None else dict(offset=ov[0], size=ov[1] - ov[0]),
        "signed": view.cert is not None,
        "zboot": z,
    }


def assert_info_matches(path, view=None):
    """bootpack's JSON against pefile, field by field. Returns the JSON."""
    view = view or PeView(path)
    got = bp_info(path)
    want = expected_info(view)
    assert got["file"] == str(path)
    for key, value in want.items():
        if key == "sections":
            assert len(got["sections"]) == len(value) == view.fh.NumberOfSections
            for g, w in zip(got["sections"], value):
                flags = g.pop("flags")
                assert g == w, f"{path}: section {w['name']}: bootpack {g}, pefile {w}"
                assert sorted(flags) == sorted(n for bit, n in FLAG_NAMES.items()
                                               if w["characteristics"] & bit), (path, w, flags)
        elif key == "zboot" and value is not None:
            # inner_image (what the payload decompresses to) is test_pe_sign.py's subject.
            inner = got["zboot"].pop("inner_image")
            assert set(inner) == {"signature", "version", "loads_inner_image"}, inner
            assert got[key] == value, f"{path}: {key}: bootpack {got[key]!r}, expected {value!r}"
        else:
            assert got[key] == value, f"{path}: {key}: bootpack {got[key]!r}, expected {value!r}"
    # Warnings that follow from the fields (errors are asserted by callers).
    msgs = [p["message"] for p in got["problems"] if p["severity"] == "warning"]
    unaligned = view.oh.SizeOfImage % view.sa != 0
    assert any("SizeOfImage" in m and "SectionAlignment" in m for m in msgs) == unaligned, msgs
    bad_sum = view.oh.CheckSum not in (0, view.generate_checksum())
    assert any(m.startswith("CheckSum") for m in msgs) == bad_sum, msgs
    return got


def errors_of(info):
    return [p["message"] for p in info["problems"] if p["severity"] == "error"]


@pytest.mark.parametrize("kid", KIDS)
def test_info_real_kernel(kernels, kid):
    k = kernels[kid]
    v = k.view
    assert v.unexpected_warnings() == [], v.warnings
    info = assert_info_matches(k.efi, v)
    # The header, read by hand, is what Linux's zboot-header.S writes.
    z = v.zboot()
    assert z is not None, f"{k.efi}: no zimg"
    assert z["compression"] == kid.split("-", 1)[1]
    assert z["linux_pe_magic"] == (0 if k.version == "6.1" else LINUX_PE_MAGIC)
    assert info["zboot"]["payload_section"] == ".text"
    text = v.section(".text")
    assert text.raw_off <= z["payload_offset"]
    assert z["payload_offset"] + z["payload_size"] <= text.raw_off + text.raw_size
    assert info["signed"] is False and info["overlay"] is None
    # 6.12 has CONFIG_DEBUG_EFI: one CodeView (NB10) entry, 6.1 none.
    dbg = v.debug_entries()
    if k.version == "6.1":
        assert dbg == []
    else:
        assert [(e["type"], e["data"][:4]) for e in dbg] == [(2, b"NB10")]
    assert errors_of(info) == []


@pytest.mark.parametrize("kid", KIDS)
def test_verify_real_kernel(kernels, kid):
    """pe verify exits 0; only warnings (6.1 and 6.12 leave SizeOfImage unaligned)."""
    k = kernels[kid]
    proc = bp("pe", "verify", k.efi)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    for line in err.splitlines():
        assert line.startswith(f"bootpack: '{k.efi}': warning: "), line
    n = len(err.splitlines())
    assert proc.stdout.decode() == (f"{k.efi}: OK (PE32+, 2 sections, zboot, {n} "
                                    f"warning{'' if n == 1 else 's'})\n")


# pe-gen images: name -> pe-gen options.
PE_GEN_IMAGES = {
    "pe32plus": [],
    "pe32-ia32": ["--pe32", "--machine", "ia32"],
    "pe32plus-tight": ["--tight-headers"],
    "pe32-tight": ["--pe32", "--tight-headers"],
    "five-sections": ["--sections", "5", "--spare-headers", "4"],
    "overlay": ["--overlay", "1000"],
    "debug-dir": ["--debug-dir"],
    "debug-dir-pe32": ["--pe32", "--debug-dir", "--checksum"],
    "cert": ["--cert", "1000", "--checksum"],
    "overlay-cert": ["--overlay", "333", "--cert", "72", "--checksum"],
    "bss": ["--bss", "--checksum"],
    "file-align-4k": ["--file-align", "0x1000"],
    "rva-count-7": ["--rva-count", "7", "--debug-dir"],
    "x64-overlay": ["--machine", "x64", "--overlay", "17"],
    "zboot-gzip-flat": ["--zboot", "gzip", "--flat", "--linux-pe-magic", "--debug-dir",
                        "--checksum"],
    "zboot-zstd22-tight": ["--zboot", "zstd22", "--tight-headers"],
    "overlay-debug-checksum": ["--overlay", "1000", "--debug-dir", "--checksum"],
}

MACHINE_NAMES = {0xaa64: "arm64", 0x8664: "x86_64", 0x14c: "i386"}


def make_pe_gen(pe_gen, work, name):
    d = work / "pe-gen"
    d.mkdir(exist_ok=True)
    out = d / f"{name}.efi"
    if not out.exists():
        proc = run([pe_gen, *PE_GEN_IMAGES[name], "--layout", out])
        (d / f"{name}.layout.json").write_bytes(proc.stdout)
    return out, json.loads((d / f"{name}.layout.json").read_text())


@pytest.mark.parametrize("name", list(PE_GEN_IMAGES))
def test_info_pe_gen(pe_gen, work, name):
    path, layout = make_pe_gen(pe_gen, work, name)
    v = PeView(path)
    assert v.unexpected_warnings() == [], v.warnings
    info = assert_info_matches(path, v)
    assert errors_of(info) == [] and info["problems"] == [], info["problems"]
    assert info["machine_name"] == MACHINE_NAMES[v.fh.Machine]
    # pe-gen's own report agrees (a second oracle for the offsets).
    assert info["size_of_headers"] == layout["size_of_headers"]
    assert info["size_of_image"] == layout["size_of_image"]
    assert info["checksum"] == layout["checksum"]
    assert [s["raw_offset"] for s in info["sections"]] == layout["sect_raw_ptr"]
    assert [s["virtual_address"] for s in info["sections"]] == layout["sect_va"]
    if layout["overlay_offset"] < (layout["cert_offset"] or layout["file_len"]):
        assert info["overlay"] == dict(offset=layout["overlay_offset"],
                                       size=(layout["cert_offset"] or layout["file_len"]) -
                                       layout["overlay_offset"])
    else:
        assert info["overlay"] is None
    assert info["signed"] == bool(layout["cert_table_size"])
    if "--zboot" in PE_GEN_IMAGES[name]:
        assert info["zboot"]["payload_offset"] == layout["zboot_payload_offset"]
        assert info["zboot"]["payload_section"] == ".text"
    else:
        assert info["zboot"] is None
    proc = bp("pe", "verify", path)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode()


# --------------------------------------------------------------------------
# Edits: what bootpack(1) and the PE spec say the result must be.

class Expect:
    """The predicted result of one edit of `before`."""

    def __init__(self, before, op, name, data, flags=None, strip=False):
        b = before
        self.op, self.name, self.data, self.strip = op, name, data, strip
        fa, sa = b.fa, b.sa
        self.soh = b.oh.SizeOfHeaders
        self.record_move = 0   # header-tail debug record moved by this much
        shift = 0              # every section's data moved by the headers growing
        secs = [Sec(s.name, s.va, s.vsize, s.raw_off, s.raw_size, s.chars) for s in b.sections]
        sums = dict(SizeOfCode=b.oh.SizeOfCode, SizeOfInitializedData=b.oh.SizeOfInitializedData,
                    SizeOfUninitializedData=b.oh.SizeOfUninitializedData)
        keys = [("SizeOfCode", SCN_CODE), ("SizeOfInitializedData", SCN_IDATA),
                ("SizeOfUninitializedData", SCN_UDATA)]

        def move_sums(chars, delta):
            for key, bit in keys:
                if chars & bit:
                    sums[key] += delta

        self.header_records = [e for e in b.debug_entries() if e["ptr"] and e["ptr"] < self.soh]
        with_data = [s for s in secs if s.raw_size]
        body_end = max(s.raw_off + s.raw_size for s in with_data)
        self.new_data = {}
        if op == "add":
            te = b.table_end
            if te + SECTION_HEADER <= self.soh and not any(b.data[te:te + SECTION_HEADER]):
                pass                                  # room in the headers
            elif self.header_records and self.header_records[0]["ptr"] == te:
                # bootpack(1): debug data right after the section table moves down.
                rec = self.header_records[0]
                end = te + rec["size"]
                assert not any(b.data[end:end + SECTION_HEADER]) and \
                    end + SECTION_HEADER <= self.soh, "no room to move the debug record"
                self.record_move = SECTION_HEADER
            else:                                     # SizeOfHeaders grows
                new_soh = align(te + SECTION_HEADER, fa)
                assert new_soh <= min(s.va for s in secs), "headers cannot grow"
                shift, self.soh = new_soh - self.soh, new_soh
            for s in with_data:
                s.raw_off += shift
            va = align(max(max(s.vend for s in secs), b.oh.SizeOfImage), sa)
            chars = flags if flags is not None else DEFAULT_ADD_FLAGS
            raw = align(len(data), fa)
            new = Sec(name, va, len(data), align(body_end + shift, fa), raw, chars)
            secs.append(new)
            move_sums(chars, raw)
            self.size_of_image = align(va + len(data), sa)
            self.new_data[name] = data + bytes(raw - len(data))
            self.body_end = new.raw_off + raw
        else:
            t = next(s for s in secs if s.name == name)
            last = all(s.va <= t.va for s in secs)
            if op == "replace":
                raw = align(len(data), fa)
                delta = raw - t.raw_size
                move_sums(t.chars, delta)
                for s in with_data:
                    if s.raw_off > t.raw_off:
                        s.raw_off += delta
                t.vsize, t.raw_size = len(data), raw
                self.new_data[name] = data + bytes(raw - len(data))
                self.size_of_image = align(t.va + len(data), sa) if last else b.oh.SizeOfImage
            else:
                delta = -t.raw_size
                move_sums(t.chars, delta)
                for s in with_data:
                    if s.raw_off > t.raw_off:
                        s.raw_off += delta
                secs.remove(t)
                self.size_of_image = (align(max(s.vend for s in secs), sa) if last
                                      else b.oh.SizeOfImage)
            self.body_end = body_end + delta
        self.sections = secs
        self.sums = sums
        self.shift = shift


def map_offset(before, expect, off):
    """Where a file offset inside a kept section's data ends up."""
    for s in before.sections:
        if s.raw_size and s.raw_off <= off < s.raw_off + s.raw_size:
            new = next(n for n in expect.sections if n.name == s.name)
            return off - s.raw_off + new.raw_off
    raise AssertionError(f"offset {off:#x} is in no section of {before.path}")


OPT_FIELDS_KEPT = [
    "Magic", "MajorLinkerVersion", "MinorLinkerVersion", "AddressOfEntryPoint", "BaseOfCode",
    "BaseOfData",
    "ImageBase", "SectionAlignment", "FileAlignment", "MajorOperatingSystemVersion",
    "MinorOperatingSystemVersion", "MajorImageVersion", "MinorImageVersion",
    "MajorSubsystemVersion", "MinorSubsystemVersion", "Reserved1", "Subsystem",
    "DllCharacteristics", "SizeOfStackReserve", "SizeOfStackCommit", "SizeOfHeapReserve",
    "SizeOfHeapCommit", "LoaderFlags", "NumberOfRvaAndSizes"]
FILE_FIELDS_KEPT = ["Machine", "TimeDateStamp", "PointerToSymbolTable", "NumberOfSymbols",
                    "SizeOfOptionalHeader", "Characteristics"]


def check_edit(before, after_path, expect, kernel=None, objdump=True):
    """Everything about an edited image, against the prediction and tools."""
    a = PeView(after_path)
    b = before
    where = f"{after_path} ({expect.op} {expect.name})"

    # pefile parses it without complaint.
    assert a.unexpected_warnings() == [], f"{where}: pefile: {a.warnings}"

    # Headers: counts, sizes, sums, unchanged fields, CheckSum.
    assert a.fh.NumberOfSections == len(expect.sections), where
    assert a.oh.SizeOfImage == expect.size_of_image, \
        f"{where}: SizeOfImage {a.oh.SizeOfImage:#x}, expected {expect.size_of_image:#x}"
    assert a.oh.SizeOfImage == align(max(s.vend for s in a.sections), a.sa), where
    assert a.oh.SizeOfHeaders == expect.soh, where
    for key, value in expect.sums.items():
        assert getattr(a.oh, key) == value, \
            f"{where}: {key} {getattr(a.oh, key):#x}, expected {value:#x}"
    for f in OPT_FIELDS_KEPT:
        if hasattr(b.oh, f):
            assert getattr(a.oh, f) == getattr(b.oh, f), f"{where}: {f} changed"
    for f in FILE_FIELDS_KEPT:
        assert getattr(a.fh, f) == getattr(b.fh, f), f"{where}: {f} changed"
    if b.oh.CheckSum:
        assert a.oh.CheckSum == a.generate_checksum(), \
            f"{where}: CheckSum {a.oh.CheckSum:#x}, pefile computes {a.generate_checksum():#x}"
    else:
        assert a.oh.CheckSum == 0, where
    want_dirs = [(i, 0, 0) if (i == DIR_SECURITY and expect.strip) else (i, va, sz)
                 for i, va, sz in b.dirs()]
    assert a.dirs() == want_dirs, where
    if expect.strip:
        assert a.cert is None
    # The DOS header is kept byte for byte, but for the zboot payload offset.
    zb = b.zboot()
    dos_b, dos_a = bytearray(b.data[:b.e_lfanew]), bytearray(a.data[:a.e_lfanew])
    if zb:
        dos_b[8:12] = dos_a[8:12] = b"...."
    assert dos_a == dos_b, f"{where}: DOS header changed"

    # Sections: names, addresses, sizes, flags, aligned raw data.
    got = [(s.name, s.va, s.vsize, s.raw_size, s.chars) for s in a.sections]
    want = [(s.name, s.va, s.vsize, s.raw_size, s.chars) for s in expect.sections]
    assert got == want, f"{where}: sections\n got {a.sections}\nwant {expect.sections}"
    for g, w in zip(a.sections, expect.sections):
        if w.raw_size:
            assert g.raw_off == w.raw_off, f"{where}: {g} expected at {w.raw_off:#x}"
            assert g.raw_off % a.fa == 0 and g.raw_size % a.fa == 0, g
    # Where each debug entry's record must now be (PointerToRawData is a
    # file offset; the entries themselves lie in a section and do not move).
    eb = b.debug_entries()

    def new_ptr(x):
        if x in expect.header_records:
            return x["ptr"] + expect.record_move
        return map_offset(b, expect, x["ptr"]) if x["ptr"] else 0

    # Every kept section's bytes, at its (possibly moved) offset, the only
    # change being a moved debug record's PointerToRawData; new data padded.
    for s in a.sections:
        if s.name in expect.new_data:
            assert a.raw(s) == expect.new_data[s.name], f"{where}: {s.name} contents"
        elif s.raw_size:
            old = b.section(s.name)
            want_raw = bytearray(b.raw(old))
            for x in eb:
                if old.raw_off <= x["at"] < old.raw_off + old.raw_size:
                    struct.pack_into("<I", want_raw, x["at"] - old.raw_off + 24, new_ptr(x))
            if a.raw(s) != want_raw:
                at = [f"{i:#x}" for i in differing(a.raw(s), bytes(want_raw))][:10]
                pytest.fail(f"{where}: {s.name} bytes differ at section offsets {at}")
    # The overlay (not the certificate table) follows the section data; then EOF.
    ov = b.overlay()
    assert a.data[expect.body_end:expect.body_end + len(ov)] == ov, f"{where}: overlay moved"
    end = expect.body_end + len(ov)
    if a.cert:
        assert a.cert[0] == align(end, 8) and len(a.data) == a.cert[0] + a.cert[1], where
    else:
        assert len(a.data) == end, f"{where}: file is {len(a.data)} bytes, expected {end}"

    # zboot header: same size and name, offset pointing at the same payload.
    if zb:
        za = a.zboot()
        assert za is not None, f"{where}: zboot header lost"
        assert (za["compression"], za["payload_size"], za["linux_pe_magic"]) == \
            (zb["compression"], zb["payload_size"], zb["linux_pe_magic"]), where
        assert za["payload_offset"] == map_offset(b, expect, zb["payload_offset"]), where
        # The payload plus the le32 size Linux appends (except for gzip).
        n = zb["payload_size"] + (0 if zb["compression"] == "gzip" else 4)
        assert a.data[za["payload_offset"]:za["payload_offset"] + n] == \
            b.data[zb["payload_offset"]:zb["payload_offset"] + n], f"{where}: payload bytes"

    # Debug directory entries point at the same CodeView bytes.
    ea = a.debug_entries()
    assert len(ea) == len(eb), where
    for x, y in zip(eb, ea):
        assert (y["type"], y["size"], y["rva"]) == (x["type"], x["size"], x["rva"]), where
        assert y["data"] == x["data"], \
            f"{where}: debug entry points at {y['ptr']:#x}, not at the original record"
        assert y["ptr"] == new_ptr(x), where
        if x["rva"]:
            assert a.pe.get_data(y["rva"], y["size"]) == x["data"], where

    # GNU objdump sees the same sections.
    if objdump:
        sections, text = objdump_sections(after_path)
        assert sections == objdump_expected(a), f"{where}: objdump -h:\n{text}"

    # bootpack's own checks agree, and the kernel still comes out whole.
    proc = bp("pe", "verify", after_path)
    assert proc.returncode == 0, f"{where}: pe verify: {proc.stderr.decode()}"
    if kernel is not None:
        img = after_path.with_suffix(".Image")
        proc = bp("zboot", "extract", after_path, "-o", img)
        assert proc.returncode == 0, f"{where}: zboot extract: {proc.stderr.decode()}"
        assert img.read_bytes() == kernel.expected_image(), f"{where}: extracted Image differs"
        img.unlink()
    return a


class Editor:
    """Runs bootpack's edits, each once, checking the input is left alone."""

    def __init__(self, datafiles):
        self.datafiles = datafiles
        self.cache = {}

    def edit(self, src, out, op, name, data=None, flags=None, strip=False):
        key = (str(src), str(out))
        if key in self.cache:
            return out
        args = ["pe", f"{op}-section", src, "-o", out, "--name", name]
        if data is not None:
            args += ["--file", self.datafiles[data]]
        if flags is not None:
            args += ["--flags", flags]
        if strip:
            args.append("--strip-signature")
        before = sha256(src)
        names = set(listing(out.parent)) | {out.name}
        proc = bp(*args)
        assert proc.returncode == 0, \
            f"bootpack {' '.join(map(str, args))}: exit {proc.returncode}\n" \
            f"{proc.stderr.decode(errors='replace')}"
        assert proc.stderr == b"", proc.stderr.decode()
        assert sha256(src) == before, f"{src} was modified by {op}-section"
        assert set(listing(out.parent)) == names, f"temporary files left in {out.parent}"
        self.cache[key] = out
        return out


@pytest.fixture(scope="module")
def editor(datafiles):
    return Editor(datafiles)


# Edit plan per kernel: step -> (parent step, op, name, data label).
STEPS = {
    "add-300": ("orig", "add", ".bpf", "300"),
    "add-3M": ("orig", "add", ".bpf", "3M"),
    "replace-bigger": ("add-300", "replace", ".bpf", "1M+7"),
    "replace-smaller": ("add-3M", "replace", ".bpf", "100"),
    "remove-300": ("add-300", "remove", ".bpf", None),
    "remove-3M": ("add-3M", "remove", ".bpf", None),
    "add-second": ("add-300", "add", ".bpf2", "4097"),
    # .bpf is no longer the last section: it grows up to .bpf2's address
    # (4000 bytes fit in its 0x1000), .bpf2's data moves, SizeOfImage stays.
    "replace-middle": ("add-second", "replace", ".bpf", "4000"),
    "remove-first": ("add-second", "remove", ".bpf", None),
}


def step_path(k, step, editor):
    if step == "orig":
        return k.efi
    parent, op, name, data = STEPS[step]
    src = step_path(k, parent, editor)
    return editor.edit(src, k.dir / f"{step}.efi", op, name, data)


def step_data(datafiles, label):
    return None if label is None else datafiles[label].read_bytes()


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("kid", KIDS)
def test_edit_real_kernel(kernels, editor, datafiles, pe_tools, kid, step):
    k = kernels[kid]
    parent, op, name, label = STEPS[step]
    src = step_path(k, parent, editor)
    before = k.view if parent == "orig" else PeView(src)
    out = step_path(k, step, editor)
    expect = Expect(before, op, name, step_data(datafiles, label))
    check_edit(before, out, expect, kernel=k)


def differing(x, y, chunk=4096):
    """Offsets where x and y differ (same length), found chunk by chunk."""
    for base in range(0, len(x), chunk):
        if x[base:base + chunk] != y[base:base + chunk]:
            yield from (base + i for i in range(min(chunk, len(x) - base))
                        if x[base + i] != y[base + i])


def round_trip_expected(orig):
    """The original bytes as add + remove must give them back, with the two
    changes the format or the documented behaviour force:
      - SizeOfImage comes back SectionAlignment-aligned (remove cannot know
        that the original value was the unaligned end of the last section;
        Linux's zboot images leave it unaligned);
      - Linux 6.12's CodeView record, which follows the section table and
        moved down 40 bytes for the added header, stays there (bootpack(1):
        the round trip is exact only when "the add moved nothing in the
        headers"); its debug entry's PointerToRawData says so, and the 40
        bytes it left are zero.
    Returns (expected bytes, {field: (offset, length)} that may differ)."""
    want = bytearray(orig.data)
    fields = {}
    soi_at = orig.oh.get_field_absolute_offset("SizeOfImage")
    struct.pack_into("<I", want, soi_at, align(orig.oh.SizeOfImage, orig.sa))
    fields["SizeOfImage"] = (soi_at, 4)
    for e in orig.debug_entries():
        if e["ptr"] == orig.table_end:
            p, n = e["ptr"], e["size"]
            want[p:p + SECTION_HEADER + n] = bytes(SECTION_HEADER) + orig.data[p:p + n]
            struct.pack_into("<I", want, e["at"] + 24, p + SECTION_HEADER)
            fields["CodeView record"] = (p, SECTION_HEADER + n)
            fields["debug PointerToRawData"] = (e["at"] + 24, 4)
    return bytes(want), fields


@pytest.mark.parametrize("kid", KIDS)
def test_add_remove_round_trip(kernels, editor, pe_tools, kid):
    """add-section then remove-section gives back the original, except for
    exactly the bytes round_trip_expected() explains."""
    k = kernels[kid]
    orig = k.view
    want, fields = round_trip_expected(orig)
    for step in ("remove-300", "remove-3M"):
        got = step_path(k, step, editor).read_bytes()
        assert len(got) == len(orig.data), f"{step}: {len(got)} bytes, original {len(orig.data)}"
        if got != want:
            explained = {i for at, n in fields.values() for i in range(at, at + n)}
            unexplained = [f"{i:#x}" for i in differing(got, orig.data) if i not in explained]
            pytest.fail(f"{step}: differs from the original beyond {list(fields)}; "
                        f"unexplained bytes at {unexplained[:20]}, explained ones not as "
                        f"expected at {[f'{i:#x}' for i in differing(got, want)][:20]}")
    # Which fields did change, per version (the test documents it):
    if k.version == "6.1":
        assert orig.oh.SizeOfImage % orig.sa and list(fields) == ["SizeOfImage"]
        assert want != orig.data
    else:
        assert list(fields) == ["SizeOfImage", "CodeView record", "debug PointerToRawData"]


@pytest.mark.parametrize("kid", KIDS)
def test_edit_in_place(kernels, editor, datafiles, kid):
    """-o equal to the input: the copy is replaced by exactly what a
    separate output gets, through a temporary file that does not stay."""
    k = kernels[kid]
    ref = step_path(k, "add-300", editor)
    d = k.dir / "in-place"
    d.mkdir()
    copy = d / "vmlinuz.efi"
    shutil.copyfile(k.efi, copy)
    proc = bp("pe", "add-section", copy, "-o", copy, "--name", ".bpf",
              "--file", datafiles["300"])
    assert proc.returncode == 0, proc.stderr.decode()
    assert copy.read_bytes() == ref.read_bytes()
    assert listing(d) == ["vmlinuz.efi"]
    proc = bp("pe", "remove-section", copy, "-o", copy, "--name", ".bpf")
    assert proc.returncode == 0, proc.stderr.decode()
    assert copy.read_bytes() == step_path(k, "remove-300", editor).read_bytes()
    assert listing(d) == ["vmlinuz.efi"]


@pytest.mark.parametrize("kid", KIDS)
def test_objcopy_add_section_damage(kernels, editor, datafiles, pe_tools, kid):
    """What `objcopy --add-section .bpf=FILE` (GNU binutils 2.40) does to a
    zboot image, and that bootpack's add-section does none of it:
      - the DOS header is rewritten with the standard stub values ("zimg",
        the payload offset/size and the compression name are gone);
      - the added section gets VirtualAddress 0, inside the headers (EDK2
        refuses the image; see test_boot_objcopy_output);
      - SizeOfHeaders shrinks to 0x200 and every section's data moves;
      - a section with no file data (6.1's .data: VirtualSize 0x40200,
        SizeOfRawData 0, the stub's data and BSS) is dropped, and
        SizeOfImage shrinks with it; 6.12's .data has file data and stays;
      - 6.12's CodeView record (after the section table) is lost: the debug
        entry still points at its old offset, now zeros.
    """
    k = kernels[kid]
    orig = k.view
    oc = k.dir / "objcopy.efi"
    run([OBJCOPY, "--add-section", f".bpf={datafiles['300']}", k.efi, oc])
    v = PeView(oc)
    assert v.data[4:8] != b"zimg" and v.zboot() is None
    assert v.data[:0x40] != orig.data[:0x40]
    assert v.section(".bpf").va == 0
    assert v.oh.SizeOfHeaders == 0x200 < orig.oh.SizeOfHeaders
    assert v.section(".text").raw_off != orig.section(".text").raw_off
    names = [s.name for s in v.sections]
    if k.version == "6.1":
        assert orig.section(".data").raw_size == 0
        assert names == [".bpf", ".text"], names
        assert v.oh.SizeOfImage < orig.oh.SizeOfImage
    else:
        assert names == [".bpf", ".text", ".data"], names
        (e,) = v.debug_entries()
        (rec,) = orig.debug_entries()
        assert e["ptr"] == rec["ptr"] and e["data"] != rec["data"], e
        assert rec["data"] not in v.data, "the CodeView record survived somewhere"
    proc = bp("pe", "verify", oc)
    assert proc.returncode == 1
    assert f"bootpack: '{oc}': error: section 0 '.bpf': virtual address 0x0 is below " \
           f"SizeOfHeaders 0x200" in proc.stderr.decode()
    # bootpack's result, for contrast (fully checked in test_edit_real_kernel).
    good = PeView(step_path(k, "add-300", editor))
    assert good.zboot() is not None and good.data[:0x40] == orig.data[:0x40]
    assert [s.name for s in good.sections] == [".text", ".data", ".bpf"]
    assert good.section(".bpf").va == align(orig.oh.SizeOfImage, orig.sa)


# Flags: --flags value -> Characteristics.
FLAG_CASES = {
    "code,execute,read": SCN_CODE | SCN_EXECUTE | SCN_READ,
    "0x42000040": 0x42000040,
    "data,read,write,shared,discardable": (SCN_IDATA | SCN_READ | SCN_WRITE | SCN_SHARED |
                                           SCN_DISCARDABLE),
    "bss,read,write": SCN_UDATA | SCN_READ | SCN_WRITE,
}


@pytest.mark.parametrize("flags", list(FLAG_CASES))
def test_add_section_flags(kernels, editor, datafiles, pe_tools, flags):
    """--flags as a named list or a hex value sets Characteristics, and the
    matching size sum (code, initialized, uninitialized) grows."""
    k = kernels["6.1-gzip"]
    out = k.dir / f"flags-{re.sub(r'[^a-z0-9]+', '_', flags)}.efi"
    editor.edit(k.efi, out, "add", ".flags", "300", flags=flags)
    expect = Expect(k.view, "add", ".flags", datafiles["300"].read_bytes(),
                    flags=FLAG_CASES[flags])
    a = check_edit(k.view, out, expect, kernel=k)
    assert a.section(".flags").chars == FLAG_CASES[flags]


def test_add_section_name_of_eight_bytes(kernels, editor, datafiles, pe_tools):
    """8 bytes is the limit and fills the name field with no NUL."""
    k = kernels["6.12-gzip"]
    out = editor.edit(k.efi, k.dir / "name8.efi", "add", ".bpfdata", "300")
    a = check_edit(k.view, out, Expect(k.view, "add", ".bpfdata",
                                       datafiles["300"].read_bytes()), kernel=k)
    hdr = a.pe.sections[-1]
    assert hdr.Name == b".bpfdata"


# Edits of pe-gen images: tight headers (SizeOfHeaders grows and the data
# moves), PE32, overlay, debug directory in a section, CheckSum set.
PE_GEN_EDITED = ["pe32plus-tight", "pe32-tight", "overlay-debug-checksum", "debug-dir-pe32",
                 "zboot-gzip-flat", "zboot-zstd22-tight", "bss", "five-sections"]
PE_GEN_STEPS = {
    "add-300": ("orig", "add", ".bpf", "300"),
    "replace-bigger": ("add-300", "replace", ".bpf", "1M+7"),
    "replace-smaller": ("replace-bigger", "replace", ".bpf", "100"),
    "remove": ("add-300", "remove", ".bpf", None),
}


@pytest.mark.parametrize("step", list(PE_GEN_STEPS))
@pytest.mark.parametrize("name", PE_GEN_EDITED)
def test_edit_pe_gen(pe_gen, work, editor, datafiles, pe_tools, name, step):
    orig, _ = make_pe_gen(pe_gen, work, name)

    def path(s):
        if s == "orig":
            return orig
        parent, op, sec, label = PE_GEN_STEPS[s]
        return editor.edit(path(parent), orig.with_name(f"{name}.{s}.efi"), op, sec, label)

    parent, op, sec, label = PE_GEN_STEPS[step]
    before = PeView(path(parent))
    out = path(step)
    expect = Expect(before, op, sec, step_data(datafiles, label))
    # objdump reads a PE32 image with an arm64 machine as PE32+ (wrong VMAs).
    a = check_edit(before, out, expect, objdump="--pe32" not in PE_GEN_IMAGES[name])
    if step == "remove":
        # SizeOfHeaders never shrinks, so a tight image does not come back
        # byte for byte; a roomy one does (its SizeOfImage was aligned).
        o = PeView(orig)
        if "tight" in name:
            assert a.oh.SizeOfHeaders == align(o.table_end + SECTION_HEADER, o.fa) > \
                o.oh.SizeOfHeaders
        else:
            assert a.data == o.data


# --------------------------------------------------------------------------
# Signed images

@pytest.fixture(scope="module")
def signer(work, pe_tools):
    """A throw-away RSA key and self-signed certificate."""
    d = work / "signing"
    d.mkdir()
    key, cert = d / "db.key", d / "db.crt"
    run(["openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
         "-days", "2", "-subj", "/CN=bootpack test signing key/", "-keyout", key, "-out", cert])

    def sign(src, dst):
        if not dst.exists():
            run(["sbsign", "--key", key, "--cert", cert, "--output", dst, src])
        return dst

    def verify(path):
        return run(["sbverify", "--cert", cert, path], check=False)

    sign.verify = verify
    return sign


SIGNED_KIDS = ["6.1-gzip", "6.12-gzip", "6.12-zstd"]


def signed_path(k, editor, signer, step="orig"):
    return signer(step_path(k, step, editor), k.dir / f"signed-{step}.efi")


@pytest.mark.parametrize("kid", SIGNED_KIDS)
def test_signed_info(kernels, editor, signer, kid):
    k = kernels[kid]
    s = signed_path(k, editor, signer)
    v = PeView(s)
    assert v.cert is not None and v.oh.CheckSum == v.generate_checksum() != 0
    info = assert_info_matches(s, v)
    assert info["signed"] is True and info["overlay"] is None
    assert {"index": DIR_SECURITY, "name": "certificate", "address": v.cert[0],
            "size": v.cert[1]} in info["directories"]
    assert signer.verify(s).returncode == 0
    proc = bp("pe", "verify", s)
    assert proc.returncode == 0, proc.stderr.decode()


SIGNED_EDITS = {  # name: (signed step, op, section, data)
    "add": ("orig", "add", ".bpf", "300"),
    "replace": ("add-300", "replace", ".bpf", "1M+7"),
    "remove": ("add-300", "remove", ".bpf", None),
}


@pytest.mark.parametrize("edit", list(SIGNED_EDITS))
@pytest.mark.parametrize("kid", SIGNED_KIDS)
def test_signed_edit_refused(kernels, editor, signer, datafiles, kid, edit):
    k = kernels[kid]
    step, op, name, label = SIGNED_EDITS[edit]
    s = signed_path(k, editor, signer, step)
    size = PeView(s).cert[1]
    d = k.dir / f"refused-{edit}"
    d.mkdir()
    out = d / "out.efi"
    args = ["pe", f"{op}-section", s, "-o", out, "--name", name]
    if label:
        args += ["--file", datafiles[label]]
    proc = bp(*args)
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        f"bootpack: '{s}': the image is signed (certificate table of {size} bytes); an edit "
        f"would invalidate the signature, so strip it (--strip-signature) and sign again\n")
    assert proc.stdout == b"" and listing(d) == []


@pytest.mark.parametrize("edit", list(SIGNED_EDITS))
@pytest.mark.parametrize("kid", SIGNED_KIDS)
def test_signed_edit_strip_signature(kernels, editor, signer, datafiles, kid, edit):
    """--strip-signature: the certificate table and its directory entry go,
    the file ends where the section data (and overlay) end, the CheckSum
    sbsign set is recomputed, and the result signs and verifies again."""
    k = kernels[kid]
    step, op, name, label = SIGNED_EDITS[edit]
    s = signed_path(k, editor, signer, step)
    before = PeView(s)
    out = editor.edit(s, k.dir / f"stripped-{edit}.efi", op, name, label, strip=True)
    expect = Expect(before, op, name, step_data(datafiles, label), strip=True)
    a = check_edit(before, out, expect, kernel=k)
    sec = a.oh.DATA_DIRECTORY[DIR_SECURITY]
    assert (sec.VirtualAddress, sec.Size) == (0, 0)
    assert len(a.data) == expect.body_end  # no overlay in these kernels
    # The same edit of the unsigned image differs only in the CheckSum field
    # (sbsign set one; the unsigned kernel has none).
    unsigned = step_path(k, {"add": "add-300", "replace": "replace-bigger",
                             "remove": "remove-300"}[edit], editor).read_bytes()
    at = a.oh.get_field_absolute_offset("CheckSum")
    assert len(unsigned) == len(a.data)
    assert unsigned[:at] + unsigned[at + 4:] == a.data[:at] + a.data[at + 4:]
    resigned = signer(out, k.dir / f"resigned-{edit}.efi")
    proc = signer.verify(resigned)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert PeView(resigned).cert is not None


def test_strip_signature_keeps_overlay(pe_gen, work, editor, datafiles):
    """pe-gen image with an overlay before its certificate table: the
    overlay stays after the section data and the file ends with it."""
    orig, layout = make_pe_gen(pe_gen, work, "overlay-cert")
    before = PeView(orig)
    # 333 overlay bytes, then pe-gen's zero padding to the 8-byte-aligned
    # certificate table: the overlay is everything in between.
    assert before.cert and before.overlay() == b"O" * 333 + bytes(3)
    out = editor.edit(orig, orig.with_name("overlay-cert.stripped.efi"), "add", ".bpf",
                      "300", strip=True)
    expect = Expect(before, "add", ".bpf", datafiles["300"].read_bytes(), strip=True)
    a = check_edit(before, out, expect)
    assert a.data.endswith(before.overlay()) and a.cert is None
    assert len(a.data) == expect.body_end + 336


# --------------------------------------------------------------------------
# zboot extract

def reference_decompress(k, work):
    """The payload decompressed by other tools than bootpack."""
    z = k.view.zboot()
    payload = k.view.payload()
    comp = z["compression"]
    if comp == "gzip":
        return zlib.decompress(payload, 16 + zlib.MAX_WBITS)
    if comp == "xzkern":
        return lzma.decompress(payload, format=lzma.FORMAT_XZ)
    if comp == "lzma":
        return lzma.decompress(payload, format=lzma.FORMAT_ALONE)
    tool = {"lz4": "lz4", "lzo": "lzop", "zstd22": "zstd", "zstd": "zstd"}[comp]
    src = work / f"payload-{k.kid}"
    src.write_bytes(payload)
    try:
        return run([tool, "-d", "-c", src]).stdout
    finally:
        src.unlink()


@pytest.mark.parametrize("kid", KIDS)
def test_zboot_extract(kernels, work, pe_tools, kid):
    k = kernels[kid]
    d = k.dir / "extract"
    d.mkdir()
    out = d / "Image"
    proc = bp("zboot", "extract", k.efi, "-o", out)
    assert proc.returncode == 0, proc.stderr.decode()
    data = out.read_bytes()
    want = k.expected_image()
    assert data == want, f"{out}: {len(data)} bytes differ from the kernel's Image"
    assert reference_decompress(k, work) == want
    comp = k.view.zboot()["compression"]
    assert proc.stdout.decode() == \
        f"{out}: arm64 kernel Image, {len(want)} bytes, from the {comp} payload\n"
    assert proc.stderr == b"" and listing(d) == ["Image"]
    assert sha256(k.efi) == k.sha


@pytest.mark.parametrize("kid", KIDS)
def test_zboot_extract_max_size(kernels, kid):
    """--max-size one byte below the Image is refused, with no output;
    exactly the size is enough."""
    k = kernels[kid]
    n = len(k.expected_image())
    d = k.dir / "max-size"
    d.mkdir()
    out = d / "Image"
    proc = bp("zboot", "extract", k.efi, "-o", out, "--max-size", str(n - 1))
    assert proc.returncode == 1
    comp = k.view.zboot()["compression"]
    if comp == "gzip":   # no size after the stream: found while decompressing
        msg = (f"zboot: cannot decompress the gzip payload: decompressed size exceeds limit "
               f"of {n - 1} bytes")
    else:                # the le32 size after the stream is checked first
        msg = f"zboot: the payload declares {n} decompressed bytes, more than the limit of {n - 1}"
    assert proc.stderr.decode() == f"bootpack: '{k.efi}': {msg}\n"
    assert listing(d) == []
    proc = bp("zboot", "extract", k.efi, "-o", out, "--max-size", str(n), "-q")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"" and out.read_bytes() == k.expected_image()


# Codecs whose streams carry a checksum (gzip CRC32, lzop Adler-32, xz
# CRC32, zstd XXH64): one flipped byte must be caught. Legacy lz4 and
# .lzma have none; a flip there can decode to a same-size wrong Image, so
# they get only the truncation case.
FLIP_KIDS = [kid for kid in KIDS if not kid.endswith(("-lz4", "-lzma"))]


def corrupt(k, how):
    data = bytearray(k.efi.read_bytes())
    z = k.view.zboot()
    off, size = z["payload_offset"], z["payload_size"]
    if how == "flip":
        data[off + size // 2] ^= 0xFF
    else:
        # Half the stream: the header says so, and the le32 size Linux
        # appends (all but gzip) follows the cut, so only the decoder can tell.
        half = size // 2
        struct.pack_into("<I", data, 0x0c, half)
        if z["compression"] != "gzip":
            data[off + half:off + half + 4] = data[off + size:off + size + 4]
    path = k.dir / f"{how}.efi"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("how, kid", [("flip", kid) for kid in FLIP_KIDS] +
                         [("truncate", kid) for kid in KIDS])
def test_zboot_extract_corrupt_payload(kernels, kid, how):
    k = kernels[kid]
    bad = corrupt(k, how)
    d = k.dir / f"extract-{how}"
    d.mkdir()
    out = d / "Image"
    proc = bp("zboot", "extract", bad, "-o", out)
    err = proc.stderr.decode()
    comp = k.view.zboot()["compression"]
    assert proc.returncode == 1, err
    assert re.fullmatch(rf"bootpack: '{re.escape(str(bad))}': zboot: cannot decompress the "
                        rf"{comp} payload: [^\n]+\n", err), err
    assert proc.stdout == b"" and listing(d) == []


# --------------------------------------------------------------------------
# Errors: exactly one line, exit 1, nothing written, nothing left behind.

def error_cases(p):
    """(id, args, path named in the message, message, exit status). p holds
    the paths: e the kernel, g a pe-gen image (no zboot), data a non-PE file
    (also the section contents), n the kernel with .bpf added, oc objcopy's
    output for the kernel (invalid), cut the kernel's first 1000000 bytes,
    and z, the payload numbers of the kernel's zboot header."""
    e, g, data, n, oc, cut, z = (p["e"], p["g"], p["data"], p["n"], p["oc"], p["cut"],
                                 p["z"])
    no_mz = "not a PE image: no \"MZ\" signature at offset 0"
    payload = "section '.text' holds the zboot payload; changing it would orphan the zboot header"
    return [
        # A bad --name is a usage error (exit 2): test_cli_errors.py.
        ("duplicate-text", ["pe", "add-section", e, "--name", ".text", "--file", data],
         e, "a section named '.text' already exists"),
        ("duplicate-bpf", ["pe", "add-section", n, "--name", ".bpf", "--file", data],
         n, "a section named '.bpf' already exists"),
        ("replace-missing", ["pe", "replace-section", e, "--name", ".bpf", "--file", data],
         e, "no section named '.bpf'"),
        ("remove-missing", ["pe", "remove-section", e, "--name", ".bpf"],
         e, "no section named '.bpf'"),
        ("replace-payload", ["pe", "replace-section", n, "--name", ".text", "--file", data],
         n, payload),
        ("remove-payload", ["pe", "remove-section", n, "--name", ".text"], n, payload),
        ("not-pe", ["pe", "add-section", data, "--name", ".bpf", "--file", data], data, no_mz),
        ("remove-not-pe", ["pe", "remove-section", data, "--name", ".bpf"], data, no_mz),
        ("missing-input", ["pe", "add-section", e + ".missing", "--name", ".bpf",
                           "--file", data],
         e + ".missing", "cannot open: No such file or directory"),
        ("missing-data", ["pe", "add-section", e, "--name", ".bpf", "--file", data + ".missing"],
         data + ".missing", "cannot open: No such file or directory"),
        ("empty-data", ["pe", "add-section", e, "--name", ".bpf", "--file", "/dev/null"],
         e, "section '.bpf': no data given"),
        ("edit-invalid", ["pe", "add-section", oc, "--name", ".bpf2", "--file", data],
         oc, "refusing to edit an invalid image: section 0 '.bpf': virtual address 0x0 is "
             "below SizeOfHeaders 0x200"),
        # The first error is named, not the SizeOfImage warning listed before it.
        ("edit-truncated", ["pe", "add-section", cut, "--name", ".bpf", "--file", data],
         cut, re.compile(r"refusing to edit an invalid image: section 0 '\.text': "
                         r"PointerToRawData 0x1000 \+ SizeOfRawData 0x[0-9a-f]+ = 0x[0-9a-f]+ "
                         r"is past the end of the file \(0xf4240\)")),
        # The stub's own variables: its code still addresses them.
        ("remove-writable", ["pe", "remove-section", e, "--name", ".data"],
         e, "section '.data' is writable data; the program's code refers to it, so removing "
            "it would break the image (--force removes it anyway)"),
        ("extract-not-pe", ["zboot", "extract", data], data, no_mz),
        ("extract-not-zboot", ["zboot", "extract", g],
         g, "not a zboot image: no \"zimg\" at offset 4 of the DOS header"),
        ("extract-truncated", ["zboot", "extract", cut],
         cut, f"zboot: payload ({z[1]:#x} bytes at {z[0]:#x}) extends past the end of the "
              f"file (0xf4240)"),
        ("info-missing", ["pe", "info", e + ".missing"],
         e + ".missing", "cannot open: No such file or directory"),
        ("info-not-pe", ["pe", "info", data], data, no_mz),
    ]


ERROR_IDS = [c[0] for c in error_cases(dict.fromkeys(("e", "g", "data", "n", "oc", "cut"), "X") |
                                       {"z": (0, 0)})]


@pytest.fixture(scope="module")
def error_inputs(kernels, editor, pe_gen, work, datafiles, pe_tools):
    k = kernels["6.1-gzip"]
    d = work / "error-inputs"
    d.mkdir()
    g, _ = make_pe_gen(pe_gen, work, "pe32plus")
    oc = d / "objcopy.efi"
    run([OBJCOPY, "--add-section", f".bpf={datafiles['300']}", k.efi, oc])
    cut = d / "cut.efi"
    cut.write_bytes(k.efi.read_bytes()[:1000000])
    z = k.view.zboot()
    assert z["payload_offset"] + z["payload_size"] > 1000000
    paths = dict(e=k.efi, g=g, data=datafiles["300"], n=step_path(k, "add-300", editor),
                 oc=oc, cut=cut)
    return {key: str(v) for key, v in paths.items()} | {
        "z": (z["payload_offset"], z["payload_size"])}


@pytest.mark.parametrize("case", ERROR_IDS)
def test_cli_error(error_inputs, work, case):
    """One line `bootpack: 'PATH': message`, exit 1, no output, no temporary
    file, inputs untouched."""
    p = error_inputs
    (cid, args, path, msg), = [c for c in error_cases(p) if c[0] == case]
    d = work / "errors" / cid
    d.mkdir(parents=True)
    out = d / "out.efi"
    if args[:2] != ["pe", "info"]:
        args = args + ["-o", str(out)]
    inputs = {q: sha256(q) for q in (p["e"], p["n"], p["oc"], p["cut"])}
    proc = bp(*args)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    prefix = f"bootpack: '{path}': "
    if isinstance(msg, str):
        assert err == f"{prefix}{msg}\n"
    else:
        assert err.startswith(prefix) and msg.fullmatch(err[len(prefix):-1]), err
        assert err.count("\n") == 1, err
    assert proc.stdout == b""
    assert listing(d) == [], f"left behind: {listing(d)}"
    assert {q: sha256(q) for q in inputs} == inputs


def test_cli_replace_beyond_next_section(kernels, editor, datafiles, work):
    """Only the last section can grow past the next SectionAlignment
    boundary: 4097 bytes do not fit in .bpf's 0x1000 before .bpf2."""
    k = kernels["6.1-gzip"]
    src = step_path(k, "add-second", editor)
    v = PeView(src)
    bpf, bpf2 = v.section(".bpf"), v.section(".bpf2")
    assert bpf2.va - bpf.va == 0x1000
    d = work / "errors" / "replace-too-big"
    d.mkdir(parents=True)
    proc = bp("pe", "replace-section", src, "-o", d / "out.efi", "--name", ".bpf",
              "--file", datafiles["4097"])
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        f"bootpack: '{src}': section '.bpf': 4097 bytes do not fit before the next section "
        f"at RVA {bpf2.va:#x} (room for {bpf2.va - bpf.va}); only the last section can grow\n")
    assert listing(d) == []


@pytest.mark.parametrize("flags, msg", [
    ("code,bogus", "--flags: unknown flag 'bogus' (expected code, data, bss, read, write, "
                   "execute, discardable, shared or a hex value)"),
    ("0x0", "--flags '0x0': not a non-zero 32-bit hex value"),
    ("0xzz", "--flags '0xzz': not a non-zero 32-bit hex value"),
    ("0x100000000", "--flags '0x100000000': not a non-zero 32-bit hex value"),
])
def test_cli_bad_flags(error_inputs, work, flags, msg):
    """A bad --flags is a usage error: exit 2, the message, a hint, no output."""
    e, data = error_inputs["e"], error_inputs["data"]
    d = work / "errors" / f"flags-{re.sub(r'[^a-z0-9]+', '_', flags)}"
    d.mkdir(parents=True)
    proc = bp("pe", "add-section", e, "-o", d / "out.efi", "--name", ".bpf",
              "--file", data, "--flags", flags)
    assert proc.returncode == 2
    assert proc.stderr.decode() == (f"bootpack pe add-section: {msg}\n"
                                    f"Try 'bootpack pe add-section --help' for more "
                                    f"information.\n")
    assert listing(d) == []


def test_cli_flags_only_for_add(error_inputs, work):
    data, other = error_inputs["data"], error_inputs["n"]
    d = work / "errors" / "flags-replace"
    d.mkdir(parents=True)
    proc = bp("pe", "replace-section", other, "-o", d / "out.efi", "--name", ".bpf",
              "--file", data, "--flags", "data,read")
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines()[0] == \
        "bootpack pe replace-section: --flags applies to add-section only"
    assert listing(d) == []


def test_cli_output_dir_missing(error_inputs, work):
    """An output that cannot be created: exit 1, one line naming it."""
    e, data = error_inputs["e"], error_inputs["data"]
    out = work / "errors" / "no-such-dir" / "out.efi"
    proc = bp("pe", "add-section", e, "-o", out, "--name", ".bpf", "--file", data)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and err.startswith(f"bootpack: '{out}': "), err
    assert not out.parent.exists()


# --------------------------------------------------------------------------
# Boot proof: QEMU + EDK2 run the edited kernels to the root panic.

@pytest.fixture(scope="module")
def qemu_ready():
    missing = qemu_efi.missing_prerequisites()
    if missing:
        pytest.fail("cannot boot EFI images; missing: " + "; ".join(missing))


BOOT_CASES = ([(kid, "orig") for kid in KIDS] +
              [(kid, step) for kid in BOOT_KIDS for step in ("add-300", "add-3M")] +
              [("6.1-gzip", "replace-bigger"), ("6.12-zstd", "replace-bigger"),
               ("6.1-zstd22", "replace-smaller"), ("6.12-gzip", "replace-smaller"),
               ("6.1-gzip", "replace-middle"), ("6.12-zstd", "replace-middle"),
               ("6.1-gzip", "remove-first"), ("6.12-gzip", "remove-first"),
               ("6.12-zstd", "remove-first"), ("6.1-zstd22", "remove-300")])


def boot(image, log):
    try:
        result = qemu_efi.boot_efi(image, log_path=log)
    except QemuError as exc:
        pytest.fail(str(exc))
    # Shown with -s / -rP: the time each stage took.
    print(f"{log.name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.times.items()))
    return result


@pytest.mark.parametrize("kid, step", BOOT_CASES)
def test_boot(kernels, editor, qemu_ready, kid, step):
    k = kernels[kid]
    image = step_path(k, step, editor)
    result = boot(image, k.dir / f"boot-{kid}-{step}.console.log")
    assert result.booted, f"{kid} {step} did not boot to its root panic\n{result.describe()}"
    assert result.banner.startswith(f"Linux version {k.version}."), result.describe()
    assert f"Kernel command line: {qemu_efi.BOOTARGS}" in result.kernel, result.describe()
    # The EFI stub ran (zboot decompressor, then the kernel's own stub).
    assert "EFI stub: Exiting boot services..." in result.stub, result.describe()
    assert result.exit_status == 0, result.describe()


def test_boot_objcopy_output(kernels, datafiles, qemu_ready, pe_tools):
    """The image objcopy --add-section writes is refused by EDK2's loader
    (the same kernel with bootpack's .bpf boots: test_boot)."""
    k = kernels["6.1-gzip"]
    oc = k.dir / "objcopy-boot.efi"
    run([OBJCOPY, "--add-section", f".bpf={datafiles['300']}", k.efi, oc])
    result = boot(oc, k.dir / "boot-objcopy.console.log")
    assert not result.banner and "Linux version" not in result.log, result.describe()
    assert result.firmware_error and result.firmware_error.startswith("BdsDxe: failed to load"), \
        result.describe()


def test_remove_writable_section_needs_force(kernels, work):
    """--force removes the stub's .data anyway; the result is still a
    structurally valid PE (whether it still runs is the user's problem)."""
    k = kernels["6.1-gzip"]
    out = work / "forced-remove.efi"
    proc = bp("pe", "remove-section", k.efi, "-o", out, "--name", ".data", "--force")
    assert proc.returncode == 0, proc.stderr.decode()
    pe = pefile.PE(str(out))
    assert [s.Name.rstrip(b"\0") for s in pe.sections] == [b".text"]
    assert bp("pe", "verify", "-q", out).returncode == 0
    usage = bp("pe", "add-section", k.efi, "-o", out, "--name", ".x", "--file", k.efi,
               "--force")
    assert usage.returncode == 2
    assert b"--force applies to remove-section only" in usage.stderr
