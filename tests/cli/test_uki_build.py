# SPDX-License-Identifier: MIT
"""bootpack uki build: Unified Kernel Images as ukify lays them out.

Inputs are real (systemd-boot 252 stubs of the efi_stubs fixture, Debian's
arm64 kernel Image of the corpus, a zboot kernel of zboot_kernels) or pe-gen's
(tests/unit/pe_gen.c: an x64 PE kernel, stubs with full headers). Layouts are
read back with pefile (an independent reader) and objdump -h; expected
contents are the input files themselves; the kernel release is found here
with a regular expression over the kernel; CheckSum is pefile's
generate_checksum(); signatures are checked by sbverify.
"""

import re
import shutil
import struct

import pefile
import pytest

from conftest import run
from signkeys import pki, sign_keys  # noqa: F401
from test_fit_sign import assert_fails, err, ok

SBAT_HEADER = b"sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
DATA = 0x40000040   # CNT_INITIALIZED_DATA | MEM_READ
CODE = 0x40000020   # CNT_CODE | MEM_READ: ukify's .linux


def up(x, a):
    return (x + a - 1) // a * a


def name(s):
    return s.Name.rstrip(b"\0").decode()


def data(pe, s):
    return pe.__data__[s.PointerToRawData:s.PointerToRawData + s.Misc_VirtualSize]


def build(bootpack, out, stub, kernel, *args, check=True):
    return run([bootpack, "uki", "build", "-o", out, "--stub", stub, "--linux", kernel, *args],
               check=check)


def check_layout(path, stub_path, added):
    """The UKI at @path: @stub_path's sections untouched, then @added [(name, bytes, flags)]."""
    pe = pefile.PE(str(path))
    stub = pefile.PE(str(stub_path))
    o = pe.OPTIONAL_HEADER
    n_stub = len(stub.sections)
    assert [name(s) for s in pe.sections] == [name(s) for s in stub.sections] + \
        [a[0] for a in added]
    for s, t in zip(pe.sections, stub.sections):
        assert (s.VirtualAddress, s.SizeOfRawData, s.Characteristics) == \
            (t.VirtualAddress, t.SizeOfRawData, t.Characteristics)
        if name(s) != ".sbat":
            assert s.get_data() == t.get_data()
    prev = pe.sections[n_stub - 1]
    for s, (nm, content, flags) in zip(pe.sections[n_stub:], added):
        assert s.VirtualAddress == up(prev.VirtualAddress + prev.Misc_VirtualSize,
                                      o.SectionAlignment), nm
        assert s.PointerToRawData % o.FileAlignment == 0, nm
        assert s.PointerToRawData == prev.PointerToRawData + prev.SizeOfRawData, nm
        assert s.SizeOfRawData == up(len(content), o.FileAlignment), nm
        assert s.Misc_VirtualSize == len(content), nm
        assert s.Characteristics == flags, nm
        assert data(pe, s) == content, nm
        assert not pe.__data__[s.PointerToRawData + len(content):
                               s.PointerToRawData + s.SizeOfRawData].strip(b"\0"), nm
        prev = s
    last = pe.sections[-1]
    assert o.SizeOfImage == up(last.VirtualAddress + last.Misc_VirtualSize, o.SectionAlignment)
    assert len(pe.__data__) == last.PointerToRawData + last.SizeOfRawData
    assert o.CheckSum == pe.generate_checksum()
    return pe


def objdump_names(path, objdump):
    text = run([objdump, "-h", path]).stdout.decode()
    return re.findall(r"^\s+\d+\s+(\S+)\s", text, re.M)


def banner_release(path):
    m = re.search(rb"Linux version (\d\.\S+) \(", path.read_bytes())
    assert m
    return m.group(1)


@pytest.fixture
def inputs(tmp_path):
    """Two initrds of odd sizes, a BMP, an extra section, an SBAT file."""
    f = {}
    f["i1"] = tmp_path / "i1.cpio"
    f["i1"].write_bytes(bytes(range(256)) * 3 + b"\x01")
    f["i2"] = tmp_path / "i2.cpio"
    f["i2"].write_bytes(b"second initrd" * 7)
    f["bmp"] = tmp_path / "splash.bmp"
    f["bmp"].write_bytes(b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + bytes(60))
    f["extra"] = tmp_path / "extra.bin"
    f["extra"].write_bytes(b"extra section\n")
    f["sbat"] = tmp_path / "sbat.csv"
    f["sbat"].write_bytes(b"linux,1,Debian,linux,6.1,https://www.debian.org/\n")
    return f


def test_aa64_real_stub_and_kernel(bootpack, efi_stubs, corpus, inputs, tmp_path):
    stub = efi_stubs["linuxaa64.efi.stub"]
    dtb = sorted((corpus / "dtbs").rglob("*.dtb"))[0]
    out = tmp_path / "uki.efi"
    ok(build(bootpack, out, stub, corpus / "Image", "--initrd", inputs["i1"], "--initrd",
             inputs["i2"], "--cmdline", "  console=ttyAMA0 \n  quiet ", "--os-release",
             'PRETTY_NAME="Test"\n', "--dtb", dtb, "--splash", inputs["bmp"], "--section",
             f".extra:{inputs['extra']}", f"--sbat=@{inputs['sbat']}"))
    i1, i2 = inputs["i1"].read_bytes(), inputs["i2"].read_bytes()
    initrd = i1 + bytes(up(len(i1), 4) - len(i1)) + i2 + bytes(up(len(i2), 4) - len(i2))
    # This stub has no .sbat section of its own: a new one, header once, the given lines.
    added = [(".osrel", b'PRETTY_NAME="Test"\n', DATA),
             (".cmdline", b"console=ttyAMA0 quiet", DATA),
             (".dtb", dtb.read_bytes(), DATA),
             (".uname", banner_release(corpus / "Image"), DATA),
             (".splash", inputs["bmp"].read_bytes(), DATA),
             (".initrd", initrd, DATA),
             (".extra", inputs["extra"].read_bytes(), DATA),
             (".sbat", SBAT_HEADER + inputs["sbat"].read_bytes() + b"\0", DATA),
             (".linux", (corpus / "Image").read_bytes(), CODE)]
    check_layout(out, stub, added)
    assert objdump_names(out, "aarch64-linux-gnu-objdump") == \
        [".text", ".data"] + [a[0] for a in added]
    ok(run([bootpack, "pe", "verify", out]))


def test_x64_stub_sbat_merged_in_place_symbols_dropped(bootpack, efi_stubs, pe_gen, inputs,
                                                     tmp_path):
    stub = efi_stubs["linuxx64.efi.stub"]
    assert pefile.PE(str(stub)).FILE_HEADER.PointerToSymbolTable   # what is dropped here
    kernel = tmp_path / "k.efi"
    run([pe_gen, "--machine", "x64", kernel])
    out = tmp_path / "uki.efi"
    ok(build(bootpack, out, stub, kernel, "--initrd", inputs["i1"], "--cmdline=@" +
             str(inputs["extra"]), "--uname", "6.1.0-test", "--sbat",
             "k,1,K,k,1,u"))
    added = [(".cmdline", inputs["extra"].read_bytes(), DATA),   # @FILE: as is
             (".uname", b"6.1.0-test", DATA),
             (".initrd", inputs["i1"].read_bytes(), DATA),       # one initrd: not padded
             (".linux", kernel.read_bytes(), CODE)]
    pe = check_layout(out, stub, added)
    stub_pe = pefile.PE(str(stub))
    old = data(stub_pe, [s for s in stub_pe.sections if name(s) == ".sbat"][0])
    new = data(pe, [s for s in pe.sections if name(s) == ".sbat"][0])
    entries = old.rstrip(b"\0").split(b"\n", 1)[1]
    assert new == SBAT_HEADER + entries.rstrip(b"\n") + b"\n" + \
        b"k,1,K,k,1,u\n\0"
    assert pe.FILE_HEADER.PointerToSymbolTable == 0 and pe.FILE_HEADER.NumberOfSymbols == 0
    assert objdump_names(out, "objdump")[-4:] == [a[0] for a in added]


def test_zboot_kernel_uname_from_payload(bootpack, efi_stubs, zboot_kernels, tmp_path):
    k = zboot_kernels[("6.12", "gzip")]
    out = tmp_path / "uki.efi"
    ok(build(bootpack, out, efi_stubs["linuxaa64.efi.stub"], k.efi, "--cmdline", "x"))
    pe = pefile.PE(str(out))
    uname = [s for s in pe.sections if name(s) == ".uname"][0]
    assert data(pe, uname) == banner_release(k.image)
    assert data(pe, pe.sections[-1]) == k.efi.read_bytes()


def test_no_banner_no_uname(bootpack, efi_stubs, pe_gen, tmp_path):
    kernel = tmp_path / "k.efi"
    run([pe_gen, "--machine", "arm64", kernel])
    out = tmp_path / "uki.efi"
    ok(build(bootpack, out, efi_stubs["linuxaa64.efi.stub"], kernel))
    assert [name(s) for s in pefile.PE(str(out)).sections][2:] == [".sbat", ".linux"]


def test_reproducible_and_signed(bootpack, efi_stubs, corpus, pki, tmp_path):
    key, crt = pki.self_signed("db")
    stub = efi_stubs["linuxaa64.efi.stub"]
    args = ["--initrd", corpus / "initrd.img", "--cmdline", "console=ttyAMA0"]
    outs = []
    for i in range(2):
        ok(build(bootpack, tmp_path / f"u{i}.efi", stub, corpus / "Image", *args))
        ok(build(bootpack, tmp_path / f"s{i}.efi", stub, corpus / "Image", *args,
                 "--key", key, "--cert", crt))
        outs.append(((tmp_path / f"u{i}.efi").read_bytes(), (tmp_path / f"s{i}.efi").read_bytes()))
    assert outs[0] == outs[1]
    signed = tmp_path / "s0.efi"
    run(["sbverify", "--cert", crt, signed])
    ok(run([bootpack, "pe", "verify", "--cert", crt, signed]))
    # Hashed while written, the signature is what pe sign (another code path: it
    # re-reads a finished image) gives the unsigned UKI, byte for byte.
    resigned = tmp_path / "resigned.efi"
    run([bootpack, "pe", "sign", tmp_path / "u0.efi", "-o", resigned, "--key", key, "--cert", crt])
    assert resigned.read_bytes() == outs[0][1]
    pe = pefile.PE(str(signed))
    sec = pe.OPTIONAL_HEADER.DATA_DIRECTORY[4]
    assert sec.VirtualAddress == len(outs[0][0]) and sec.VirtualAddress % 8 == 0
    # The unsigned image with the CheckSum and the Security entry set.
    body = bytearray(outs[0][1][:sec.VirtualAddress])
    for at, n in ((pe.OPTIONAL_HEADER.get_file_offset() + 64, 4), (sec.get_file_offset(), 8)):
        body[at:at + n] = outs[0][0][at:at + n]
    assert bytes(body) == outs[0][0]
    assert pe.OPTIONAL_HEADER.CheckSum == pe.generate_checksum()
    # One thread or two: the same bytes.
    ok(build(bootpack, tmp_path / "j1.efi", stub, corpus / "Image", *args, "--key", key,
             "--cert", crt, "-j1"))
    assert (tmp_path / "j1.efi").read_bytes() == outs[0][1]


def kernel_x64(pe_gen, tmp_path):
    kernel = tmp_path / "k64.efi"
    run([pe_gen, "--machine", "x64", kernel])
    return kernel


def refusal(bootpack, tmp_path, stub, kernel, *args, path, needles):
    out = tmp_path / "out.efi"
    proc = build(bootpack, out, stub, kernel, *args, check=False)
    assert_fails(proc, str(path), *needles)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.efi")]


def test_refusals(bootpack, efi_stubs, corpus, pe_gen, pki, inputs, tmp_path):
    aa64, x64 = efi_stubs["linuxaa64.efi.stub"], efi_stubs["linuxx64.efi.stub"]
    image = corpus / "Image"
    text = tmp_path / "notpe"
    text.write_bytes(b"not a kernel\n" * 10)
    refusal(bootpack, tmp_path, aa64, text, path=text, needles=["kernel is not a PE image"])
    refusal(bootpack, tmp_path, x64, image, path=image,
            needles=["stub is x64 (0x8664), kernel is arm64 (0xaa64)"])
    refusal(bootpack, tmp_path, aa64, image, "--section", f".linux:{inputs['extra']}",
            path=image, needles=["section '.linux' given twice"])
    # The stub's .sbat holds 256 bytes before .sdmagic: a merged text must fit there.
    refusal(bootpack, tmp_path, x64, kernel_x64(pe_gen, tmp_path), "--sbat",
            "linux,1,Debian,linux,6.1,https://www.debian.org/", path=x64,
            needles=["merged SBAT data", "does not fit the stub's .sbat section (room for 256)"])
    refusal(bootpack, tmp_path, aa64, image, "--section", f".text:{inputs['extra']}",
            path=inputs["extra"], needles=["stub already has a section named '.text'"])
    refusal(bootpack, tmp_path, aa64, image, "--splash", inputs["extra"],
            path=inputs["extra"], needles=["not a BMP"])
    dtb = sorted((corpus / "dtbs").rglob("*.dtb"))[:2]
    refusal(bootpack, tmp_path, aa64, image, "--dtb", dtb[0], "--dtb", dtb[1], path=aa64,
            needles=[".dtbauto", "257", "this stub is version 252"])
    key, crt = pki.self_signed("db")
    _, other_crt = pki.self_signed("other")
    refusal(bootpack, tmp_path, aa64, image, "--key", key, "--cert", other_crt,
            path=other_crt, needles=["does not hold the public key"])
    signed = tmp_path / "signed.stub"
    run([bootpack, "pe", "sign", aa64, "-o", signed, "--key", key, "--cert", crt])
    refusal(bootpack, tmp_path, signed, image, path=signed,
            needles=["stub is signed", "--strip-stub-signature"])
    out = tmp_path / "stripped.efi"
    ok(build(bootpack, out, signed, image, "--strip-stub-signature"))
    pe = pefile.PE(str(out))
    assert pe.OPTIONAL_HEADER.DATA_DIRECTORY[4].Size == 0
    assert pe.sections[0].get_data() == pefile.PE(str(aa64)).sections[0].get_data()


def test_several_dtbs_need_a_257_stub(bootpack, pe_gen, corpus, tmp_path):
    """Several devicetrees: one .dtbauto each, in order, for a stub that says it is 257."""
    marker = tmp_path / "marker"
    marker.write_bytes(b"#### LoaderInfo: systemd-stub 257.1 ####\0")
    stub, kernel = tmp_path / "stub.efi", tmp_path / "k.efi"
    run([pe_gen, "--machine", "arm64", "--payload", marker, stub])
    run([pe_gen, "--machine", "arm64", kernel])
    dtbs = sorted((corpus / "dtbs").rglob("*.dtb"))[:3]
    out = tmp_path / "uki.efi"
    ok(build(bootpack, out, stub, kernel, *[x for d in dtbs for x in ("--dtb", d)]))
    check_layout(out, stub, [(".dtbauto", d.read_bytes(), DATA) for d in dtbs] +
                 [(".sbat", SBAT_HEADER + b"\0", DATA), (".linux", kernel.read_bytes(), CODE)])


def test_inputs_not_regular_or_empty(bootpack, efi_stubs, pe_gen, tmp_path):
    stub = efi_stubs["linuxaa64.efi.stub"]
    kernel = tmp_path / "k.efi"
    run([pe_gen, "--machine", "arm64", kernel])
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    refusal(bootpack, tmp_path, stub, kernel, "--initrd", "/dev/null", path="/dev/null",
            needles=["not a regular file"])
    refusal(bootpack, tmp_path, stub, kernel, "--initrd", empty, path=empty,
            needles=["is empty"])
    missing = tmp_path / "missing"
    refusal(bootpack, tmp_path, stub, kernel, "--dtb", missing, path=missing,
            needles=["cannot open"])


def test_headers_grow(bootpack, pe_gen, tmp_path):
    stub, kernel = tmp_path / "stub.efi", tmp_path / "k.efi"
    run([pe_gen, "--machine", "arm64", "--tight-headers", "--debug-dir", stub])
    run([pe_gen, "--machine", "arm64", kernel])
    extra = []
    for i in range(5):
        p = tmp_path / f"x{i}"
        p.write_bytes(bytes([i + 1]) * (100 + i))
        extra += ["--section", f".x{i}:{p}"]
    out = tmp_path / "uki.efi"
    ok(build(bootpack, out, stub, kernel, "--no-uname", *extra))
    pe, old = pefile.PE(str(out)), pefile.PE(str(stub))
    grow = pe.OPTIONAL_HEADER.SizeOfHeaders - old.OPTIONAL_HEADER.SizeOfHeaders
    assert grow > 0 and grow % old.OPTIONAL_HEADER.FileAlignment == 0
    # The debug entry follows the record it names; nothing else in the stub changes.
    pe.parse_data_directories()
    old.parse_data_directories()
    new_dbg = pe.DIRECTORY_ENTRY_DEBUG[0].struct
    old_dbg = old.DIRECTORY_ENTRY_DEBUG[0].struct
    ptr_at = old_dbg.get_file_offset() + 24
    for s, t in zip(pe.sections, old.sections):
        assert s.PointerToRawData == t.PointerToRawData + grow
        want = bytearray(t.get_data())
        if t.PointerToRawData <= ptr_at < t.PointerToRawData + t.SizeOfRawData:
            at = ptr_at - t.PointerToRawData
            want[at:at + 4] = struct.pack("<I", old_dbg.PointerToRawData + grow)
        assert s.get_data() == bytes(want)
    assert new_dbg.PointerToRawData == old_dbg.PointerToRawData + grow
    assert pe.__data__[new_dbg.PointerToRawData:new_dbg.PointerToRawData + 4] == b"RSDS"
    assert pe.OPTIONAL_HEADER.CheckSum == pe.generate_checksum()
    ok(run([bootpack, "pe", "verify", out]))

    # SectionAlignment 0x200: the first section starts right after the headers.
    tight = tmp_path / "tight.efi"
    run([pe_gen, "--machine", "arm64", "--tight-headers", "--section-align", "0x200", tight])
    refusal(bootpack, tmp_path, tight, kernel, "--no-uname", *extra, path=tight,
            needles=["no room for the section headers", "first section starts at RVA 0x200"])


def test_text_options_read_at_file_in_both_spellings(bootpack, efi_stubs, pe_gen, inputs,
                                                     tmp_path):
    """--cmdline @FILE (two arguments) is --cmdline=@FILE, not a response file
    whose words would become arguments; the same for --os-release and --sbat."""
    stub = efi_stubs["linuxx64.efi.stub"]
    kernel = tmp_path / "k.efi"
    run([pe_gen, "--machine", "x64", kernel])
    cmd = tmp_path / "cmdline"
    cmd.write_bytes(b"console=ttyS0  root=LABEL=root\n")
    osrel = tmp_path / "os-release"
    osrel.write_bytes(b'ID=test\nPRETTY_NAME="Test OS"\n')
    outs = []
    for i, joined in enumerate((False, True)):
        out = tmp_path / f"uki{i}.efi"
        args = ([f"--cmdline=@{cmd}", f"--os-release=@{osrel}"] if joined
                else ["--cmdline", f"@{cmd}", "--os-release", f"@{osrel}"])
        ok(build(bootpack, out, stub, kernel, *args, "--uname", "6.1.0-test"))
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    pe = pefile.PE(data=outs[0])
    got = {name(s): data(pe, s) for s in pe.sections}
    assert got[".cmdline"] == cmd.read_bytes()          # @FILE: stored as is
    assert got[".osrel"] == osrel.read_bytes()


def test_signed_uki_warns_of_an_old_zboot_kernel(bootpack, efi_stubs, zboot_kernels, pki,
                                                  tmp_path):
    """A 6.1 zboot decompressor passes its unsigned inner Image to LoadImage():
    Secure Boot refuses that even inside a signed UKI (test_boot_uki.py's
    finding), so signing such a UKI warns; a 6.12 one does not."""
    key, crt = pki.self_signed("db")
    stub = efi_stubs["linuxaa64.efi.stub"]
    for ver, warned in (("6.1", True), ("6.12", False)):
        k = zboot_kernels[(ver, "gzip")]
        out = tmp_path / f"uki-{ver}.efi"
        p = ok(build(bootpack, out, stub, k.efi, "--cmdline", "x", "--key", key,
                     "--cert", crt))
        assert ("LoadImage()" in err(p)) == warned, err(p)
        assert out.is_file()
        if warned:
            assert err(p).startswith(f"bootpack: '{k.efi}': warning: the inner Image"), err(p)
