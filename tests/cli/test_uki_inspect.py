# SPDX-License-Identifier: MIT
"""Inspecting Unified Kernel Images: pe info's UKI block (text and --json),
uki info and uki extract.

The UKIs are made without bootpack, from Debian's systemd-boot 252 stubs
(efi_stubs): the x64 one with `objcopy --add-section --change-section-vma`
(what people did before ukify), the arm64 one with uki_assemble.py (binutils
has no pei-aarch64 target here). Expected values come from pefile (section
offsets and sizes: min(VirtualSize, SizeOfRawData), what systemd-stub
reads), from the input files themselves, from grep of the stub for its
LoaderInfo string and from /bin/sh sourcing the os-release file.
"""

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pefile
import pytest

from conftest import run
from uki_assemble import add_sections

LOADER_INFO = re.compile(rb"#### LoaderInfo: ([^\0]*?) ####")
MACHINES = {0x8664: "x86_64", 0xaa64: "arm64"}


def stub_release(stub):
    """systemd-stub's "252.39-1~deb12u2" as grep finds it in the stub file."""
    m = LOADER_INFO.search(stub.read_bytes())
    assert m, f"no LoaderInfo string in {stub}"
    return m.group(1).decode()


def stub_parts(uki):
    """{name: bytes the stub reads} for every section, from pefile."""
    pe = pefile.PE(str(uki), fast_load=True)
    out = {}
    data = uki.read_bytes()
    for s in pe.sections:
        name = s.Name.rstrip(b"\0").decode()
        n = min(s.Misc_VirtualSize, s.SizeOfRawData)
        out[name] = (s.PointerToRawData, data[s.PointerToRawData:s.PointerToRawData + n])
    pe.close()
    return out


def info_json(bootpack, path, cmd=("pe", "info")):
    return json.loads(run([bootpack, *cmd, "--json", path]).stdout)


def info_text(bootpack, path, cmd=("pe", "info")):
    out = run([bootpack, *cmd, path]).stdout
    assert all(b == 0x0a or 0x20 <= b < 0x7f for b in out), "raw byte reached the terminal"
    return out.decode()


def block(text):
    """The lines of the UKI block: from "UKI:" to "Problems:"."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("UKI:"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Problems:"))
    return lines[start:end]


def field(lines, label):
    for line in lines:
        if line.strip().startswith(label):
            return line.strip()[len(label):].strip()
    raise AssertionError(f"no {label!r} line in:\n" + "\n".join(lines))


def check_extract(bootpack, uki, tmp_path, names):
    """uki extract of each of @names gives the bytes pefile says the stub reads."""
    parts = stub_parts(uki)
    for name in names:
        out = tmp_path / f"x{name}"
        run([bootpack, "uki", "extract", uki, "--section", name, "-o", out, "-q"])
        assert out.read_bytes() == parts[name][1], name


# --------------------------------------------------------------------------
# x64: objcopy's UKI.

CMDLINE = b"console=ttyS0 root=/dev/vda1 \x1b[31mred\x07 quiet\n"
OSREL = b'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'


def objcopy_uki(tmp_path, efi_stubs, kernel):
    objcopy = shutil.which("objcopy")
    if not objcopy:
        pytest.fail("objcopy missing (apt-get install binutils)")
    files = {".osrel": OSREL, ".cmdline": CMDLINE, ".uname": b"6.1.0-99-amd64",
             ".initrd": os.urandom(5000)}
    args, vma = [], 0x30000
    for name, data in files.items():
        p = tmp_path / name[1:]
        p.write_bytes(data)
        args += ["--add-section", f"{name}={p}", "--change-section-vma", f"{name}={vma:#x}"]
        vma += 0x10000
    args += ["--add-section", f".linux={kernel}", "--change-section-vma", f".linux={vma:#x}"]
    uki = tmp_path / "uki.efi"
    run([objcopy, *args, efi_stubs["linuxx64.efi.stub"], uki])
    return uki, files


def test_x64_objcopy_uki(bootpack, efi_stubs, tmp_path):
    # systemd-boot stands in for the kernel: an x64 EFI application, not zboot.
    kernel = efi_stubs["systemd-bootx64.efi"]
    uki, files = objcopy_uki(tmp_path, efi_stubs, kernel)
    parts = stub_parts(uki)
    release = stub_release(efi_stubs["linuxx64.efi.stub"])

    j = info_json(bootpack, uki)["uki"]
    assert j["stub_version"] == f"#### LoaderInfo: {release} ####"
    assert (j["kernel_machine"], j["kernel_machine_name"], j["kernel_zboot"]) == \
        (0x8664, "x86_64", False)
    assert j["kernel_release"] == "6.1.0-99-amd64"
    assert j["cmdline"] == CMDLINE.decode()
    assert j["pretty_name"] == "Debian GNU/Linux 12 (bookworm)"
    assert (j["n_dtbs"], j["dtbs"]) == (0, [])
    sbat = parts[".sbat"][1].split(b"\0")[0].decode()
    assert j["sbat_lines"] == [line for line in sbat.split("\n") if line]
    for key, name in [("linux", ".linux"), ("initrd", ".initrd"), ("cmdline", ".cmdline"),
                      ("osrel", ".osrel"), ("uname", ".uname"), ("sbat", ".sbat")]:
        off, data = parts[name]
        assert j["sections"][key] == {"offset": off, "size": len(data)}, name
    assert j["sections"]["dtb"] is None and j["sections"]["splash"] is None
    assert parts[".linux"][1] == kernel.read_bytes()
    assert parts[".initrd"][1] == files[".initrd"]

    lines = block(info_text(bootpack, uki))
    assert lines[0] == f"UKI:                     {release}"
    off, data = parts[".linux"]
    assert field(lines, "Kernel:") == (f"{len(data)} bytes at {off:#x}, PE machine 0x8664 "
                                       "(x86_64)")
    assert field(lines, "Kernel release:") == "6.1.0-99-amd64"
    # Control characters reach the terminal escaped.
    assert field(lines, "Command line:") == (r'"console=ttyS0 root=/dev/vda1 \x1b[31mred\x07 '
                                             rf'quiet\x0a" ({len(CMDLINE)} bytes)')
    assert field(lines, "OS release:") == "Debian GNU/Linux 12 (bookworm)"
    assert field(lines, "Initrd:") == f"5000 bytes at {parts['.initrd'][0]:#x}"
    assert field(lines, "Devicetrees:") == "0"
    assert field(lines, "Splash:") == "none"
    n = len(j["sbat_lines"])
    assert field(lines, "SBAT:") == f"{len(parts['.sbat'][1])} bytes, {n} lines"
    assert [line.strip() for line in lines[-n:]] == j["sbat_lines"]

    # uki info is pe info for a UKI.
    assert info_text(bootpack, uki, ("uki", "info")) == info_text(bootpack, uki)
    check_extract(bootpack, uki, tmp_path, [".linux", ".initrd", ".cmdline", ".osrel",
                                            ".uname", ".sbat", ".sdmagic", ".text"])
    # -o - writes the bytes to standard output and the report to stderr.
    proc = run([bootpack, "uki", "extract", uki, "-s", ".cmdline", "-o", "-"])
    assert proc.stdout == CMDLINE
    assert proc.stderr.decode() == f"-: {len(CMDLINE)} bytes of section '.cmdline'\n"


# --------------------------------------------------------------------------
# arm64: assembled UKIs with a zboot kernel and the Debian Image.

def arm64_uki(tmp_path, stub, kernel, corpus, extra=()):
    dtbs = sorted((corpus / "dtbs").rglob("*.dtb"))[:3]
    sbat = b"sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n" \
           b"uki,1,bootpack test,uki,1,https://example.invalid/\n"
    parts = [(".osrel", OSREL), (".cmdline", b"console=ttyAMA0 panic=-1"),
             (".uname", b"6.1.0-test-arm64"), (".dtb", dtbs[0].read_bytes()),
             (".dtbauto", dtbs[1].read_bytes()), (".dtbauto", dtbs[2].read_bytes()),
             (".splash", b"BM" + bytes(100)), (".sbat", sbat), *extra,
             (".initrd", os.urandom(3000)), (".linux", kernel.read_bytes())]
    uki = tmp_path / "uki-arm64.efi"
    uki.write_bytes(add_sections(stub.read_bytes(), parts))
    return uki, dict(parts), dtbs


def test_arm64_zboot_uki(bootpack, efi_stubs, zboot_kernels, corpus, tmp_path):
    stub = efi_stubs["linuxaa64.efi.stub"]
    uki, given, dtbs = arm64_uki(tmp_path, stub, zboot_kernels[("6.1", "gzip")].efi, corpus)
    parts = stub_parts(uki)

    j = info_json(bootpack, uki)["uki"]
    # systemd 252's arm64 stub has no .sdmagic section: the string is found in .data.
    assert j["stub_version"] == f"#### LoaderInfo: {stub_release(stub)} ####"
    assert (j["kernel_machine"], j["kernel_machine_name"], j["kernel_zboot"]) == \
        (0xaa64, "arm64", True)
    assert (j["kernel_release"], j["cmdline"]) == ("6.1.0-test-arm64", "console=ttyAMA0 panic=-1")
    assert j["n_dtbs"] == 3
    assert [(d["name"], d["size"]) for d in j["dtbs"]] == \
        [(".dtb", dtbs[0].stat().st_size), (".dtbauto", dtbs[1].stat().st_size),
         (".dtbauto", dtbs[2].stat().st_size)]
    assert j["sbat_lines"] == given[".sbat"].decode().splitlines()
    assert j["sections"]["splash"] == {"offset": parts[".splash"][0], "size": 102}
    assert j["sections"]["dtb"] == {"offset": parts[".dtb"][0], "size": dtbs[0].stat().st_size}

    lines = block(info_text(bootpack, uki))
    off, data = parts[".linux"]
    assert field(lines, "Kernel:") == (f"{len(data)} bytes at {off:#x}, PE machine 0xaa64 "
                                       "(arm64), zboot")
    assert field(lines, "Devicetrees:") == "3"
    assert field(lines, "Splash:") == f"102 bytes at {parts['.splash'][0]:#x}"
    assert field(lines, ".dtb ") == f"{dtbs[0].stat().st_size} bytes at {parts['.dtb'][0]:#x}"
    check_extract(bootpack, uki, tmp_path, [".linux", ".initrd", ".dtb", ".splash", ".sbat"])
    assert (tmp_path / "x.linux").read_bytes() == zboot_kernels[("6.1", "gzip")].efi.read_bytes()
    # Two .dtbauto sections: extract cannot choose.
    proc = run([bootpack, "uki", "extract", uki, "-s", ".dtbauto", "-o", tmp_path / "d"],
               check=False)
    first = [i for i, s in enumerate(pefile.PE(str(uki), fast_load=True).sections)
             if s.Name.rstrip(b"\0") == b".dtbauto"]
    assert (proc.returncode, proc.stderr.decode()) == \
        (1, f"bootpack: '{uki}': section '.dtbauto' appears more than once (sections "
            f"{first[0]} and {first[1]})\n")
    assert not (tmp_path / "d").exists()


def test_arm64_image_uki(bootpack, efi_stubs, corpus, tmp_path):
    """Debian's signed arm64 Image (an EFI stub kernel, not zboot) as .linux."""
    uki, _, _ = arm64_uki(tmp_path, efi_stubs["linuxaa64.efi.stub"], corpus / "Image", corpus)
    j = info_json(bootpack, uki, ("uki", "info"))["uki"]
    assert (j["kernel_machine"], j["kernel_zboot"]) == (0xaa64, False)
    assert j["sections"]["linux"]["size"] == (corpus / "Image").stat().st_size


# --------------------------------------------------------------------------
# os-release: PRETTY_NAME as the shell reads it.

OSRELS = {
    "double-quoted": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "single-quoted": b"PRETTY_NAME='Fedora Linux 40 (Forty)'\n",
    "unquoted": b"NAME=Arch\nPRETTY_NAME=Arch\n",
    "escapes-in-double": b'PRETTY_NAME="a \\"b\\" \\\\ \\$c \\`d\\` \\e"\n',
    "backslash-in-single": b"PRETTY_NAME='a \\ b \\\" c'\n",
    "escapes-unquoted": b"PRETTY_NAME=a\\ b\\\\c\n",
    "concatenated": b"PRETTY_NAME=\"one \"'two '\"three\"\n",
    "comments-and-blanks": b"# PRETTY_NAME=\"commented\"\n\n  PRETTY_NAME=\"indented\"\nID=x\n",
    "last-wins": b'PRETTY_NAME="first"\nPRETTY_NAME="second"\n',
    "other-key-prefix": b'PRETTY_NAME_X="no"\nX_PRETTY_NAME="no"\nPRETTY_NAME="yes"\n',
    "multi-line": b'PRETTY_NAME="line one\nline two"\nID=y\n',
    "continuation": b"PRETTY_NAME=abc\\\ndef\n",
    "no-final-newline": b'PRETTY_NAME="Alpine Linux v3.20"',
    "trailing-blanks": b"PRETTY_NAME=plain   \n",
    "utf8": 'PRETTY_NAME="Débian – ünïcode"\n'.encode(),
    "absent": b"NAME=x\nID=y\n",
    "empty": b"",
}


def sh_pretty_name(path):
    """PRETTY_NAME as /bin/sh sees it after sourcing @path (os-release(5))."""
    proc = subprocess.run(["/bin/sh", "-c", '. "$1" && printf %s "${PRETTY_NAME-}"', "sh",
                           str(path)], stdout=subprocess.PIPE, check=True)
    return proc.stdout.decode()


@pytest.mark.parametrize("case", OSRELS)
def test_osrel_pretty_name(bootpack, efi_stubs, tmp_path, case):
    text = OSRELS[case]
    osrel = tmp_path / "os-release"
    osrel.write_bytes(text)
    uki = tmp_path / "uki.efi"
    uki.write_bytes(add_sections(efi_stubs["linuxx64.efi.stub"].read_bytes(),
                                 [(".osrel", text), (".linux", b"MZ" + bytes(62))]))
    assert info_json(bootpack, uki)["uki"]["pretty_name"] == sh_pretty_name(osrel)


# --------------------------------------------------------------------------
# Strings from the file reach the terminal escaped, and JSON stays valid.

def test_hostile_strings_escaped(bootpack, efi_stubs, tmp_path):
    nasty = b"\x1b]0;title\x07\x9b31m\xff\xfe\r\n\x7f"
    uki = tmp_path / "uki.efi"
    uki.write_bytes(add_sections(efi_stubs["linuxx64.efi.stub"].read_bytes(), [
        (".cmdline", nasty), (".uname", nasty), (".osrel", b"PRETTY_NAME='" + nasty + b"'"),
        (".linux", b"MZ" + bytes(62))]))
    lines = block(info_text(bootpack, uki))     # asserts printable ASCII only
    esc = r"\x1b]0;title\x07\x9b31m\xff\xfe\x0d\x0a\x7f"
    assert field(lines, "Command line:") == f'"{esc}" ({len(nasty)} bytes)'
    assert field(lines, "Kernel release:") == esc
    assert field(lines, "OS release:") == esc
    assert field(lines, "Kernel:").endswith("NOT a PE image")
    raw = run([bootpack, "pe", "info", "--json", uki]).stdout
    assert all(0x20 <= b < 0x7f or b == 0x0a for b in raw)
    j = json.loads(raw)["uki"]
    assert j["cmdline"] == j["kernel_release"] == j["pretty_name"] == \
        "\x1b]0;title\x07\ufffd31m\ufffd\ufffd\r\n\x7f"
    # uki info refuses a .linux that is not a PE image.
    proc = run([bootpack, "uki", "info", uki], check=False)
    off = stub_parts(uki)[".linux"][0]
    assert (proc.returncode, proc.stdout, proc.stderr.decode()) == \
        (1, b"", f"bootpack: '{uki}': UKI section '.linux' (64 bytes at {off:#x}) is not a PE "
                 "image: the stub cannot start it\n")


# --------------------------------------------------------------------------
# What the stub reads: min(VirtualSize, SizeOfRawData).

def test_extract_min_of_sizes(bootpack, efi_stubs, tmp_path):
    data = bytes(range(256)) * 4
    uki = tmp_path / "uki.efi"
    uki.write_bytes(add_sections(efi_stubs["linuxx64.efi.stub"].read_bytes(), [
        (".short", data, {"vsize": 100}),              # VirtualSize below the data
        (".long", data, {"vsize": 0x5000}),            # raw data (padded to 0x400) below it
        (".linux", b"MZ" + bytes(62))]))
    parts = stub_parts(uki)
    assert len(parts[".short"][1]) == 100 and len(parts[".long"][1]) == 0x400
    check_extract(bootpack, uki, tmp_path, [".short", ".long"])


# --------------------------------------------------------------------------
# Not a UKI, several profiles.

def test_not_a_uki(bootpack, efi_stubs, tmp_path):
    stub = efi_stubs["linuxx64.efi.stub"]
    assert info_json(bootpack, stub)["uki"] is None
    assert "UKI:" not in info_text(bootpack, stub)
    proc = run([bootpack, "uki", "info", stub], check=False)
    assert (proc.returncode, proc.stdout, proc.stderr.decode()) == \
        (1, b"", f"bootpack: '{stub}': not a UKI: no .linux section\n")
    proc = run([bootpack, "uki", "extract", stub, "-s", ".linux", "-o", tmp_path / "k"],
               check=False)
    assert (proc.returncode, proc.stderr.decode()) == \
        (1, f"bootpack: '{stub}': no section '.linux'\n")
    assert not list(tmp_path.iterdir())


def test_profiles(bootpack, efi_stubs, tmp_path):
    """systemd 257 multi-profile UKIs: sections after .profile belong to that
    profile and may repeat the base's; pe info describes the base."""
    uki = tmp_path / "uki.efi"
    uki.write_bytes(add_sections(efi_stubs["linuxx64.efi.stub"].read_bytes(), [
        (".cmdline", b"base"), (".dtb", b"d" * 10), (".linux", b"MZ" + bytes(62)),
        (".profile", b"ID=one"), (".cmdline", b"one"), (".dtb", b"e" * 20),
        (".profile", b"ID=two")]))
    j = info_json(bootpack, uki, ("pe", "info"))["uki"]
    assert (j["cmdline"], j["n_dtbs"], [d["size"] for d in j["dtbs"]]) == ("base", 1, [10])


# --------------------------------------------------------------------------
# Documentation: the man page covers the commands, options and JSON keys.

MAN = Path(__file__).resolve().parents[2] / "doc" / "bootpack.1"


@pytest.mark.parametrize("command", ["uki info", "uki extract"])
def test_options_documented(bootpack, command):
    help_text = run([bootpack, *command.split(), "--help"]).stdout.decode()
    man = MAN.read_text().replace("\\-", "-")
    assert f'.SS "bootpack {command}"' in man
    for opt in re.findall(r"--([a-z][a-z-]+)", help_text):
        assert f"--{opt}" in man, f"--{opt} is not in doc/bootpack.1"


def test_json_keys_documented(bootpack, efi_stubs, tmp_path):
    uki, _ = objcopy_uki(tmp_path, efi_stubs, efi_stubs["systemd-bootx64.efi"])
    j = info_json(bootpack, uki)["uki"]
    man = MAN.read_text().replace("\\-", "-")
    section = man[man.index('.SS "bootpack pe info"'):man.index('.SS "bootpack pe verify"')]
    for key in sorted(set(j) | set(j["sections"]) | {"uki", "error"}):
        assert re.search(rf"\b{key}\b", section), f"JSON key {key} is not documented"


# --------------------------------------------------------------------------
# UKIs from bootpack uki build: what pe info reports and uki extract gives
# back is what went in (inputs compared byte for byte, offsets with pefile).

def test_uki_build_round_trip(bootpack, efi_stubs, corpus, pe_gen, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    # pe-gen's image as the kernel: systemd-boot carries a .sbat of its own,
    # which merged with the stub's would not fit the stub's .sbat (refused,
    # as ukify does).
    kernel = d / "kernel.efi"
    run([pe_gen, "--machine", "x64", kernel])
    initrds = [d / "a.cpio", d / "b.cpio"]
    initrds[0].write_bytes(os.urandom(1001))      # padded to 4 before the next (ukify's join)
    initrds[1].write_bytes(os.urandom(2000))
    (d / "cmdline").write_bytes(b"console=ttyS0 root=LABEL=root  quiet\n")
    (d / "os-release").write_bytes(OSREL)
    (d / "splash.bmp").write_bytes(b"BM" + os.urandom(300))
    (d / "pcrpkey").write_bytes(os.urandom(270))
    dtb = sorted((corpus / "dtbs").rglob("*.dtb"))[0]
    uki = tmp_path / "uki.efi"
    run([bootpack, "uki", "build", "-o", uki, "--stub", efi_stubs["linuxx64.efi.stub"],
         "--linux", kernel, "--initrd", initrds[0], "--initrd", initrds[1],
         f"--cmdline=@{d / 'cmdline'}", f"--os-release=@{d / 'os-release'}",
         "--dtb", dtb, "--uname", "6.1.0-99-amd64", "--splash", d / "splash.bmp",
         "--section", f".pcrpkey:{d / 'pcrpkey'}"])
    parts = stub_parts(uki)
    j = info_json(bootpack, uki, ("uki", "info"))["uki"]
    assert j["stub_version"] == \
        f"#### LoaderInfo: {stub_release(efi_stubs['linuxx64.efi.stub'])} ####"
    assert (j["kernel_machine"], j["kernel_zboot"], j["kernel_release"]) == \
        (0x8664, False, "6.1.0-99-amd64")
    assert j["cmdline"] == (d / "cmdline").read_text()
    assert j["pretty_name"] == "Debian GNU/Linux 12 (bookworm)"
    assert (j["n_dtbs"], j["dtbs"]) == \
        (1, [{"name": ".dtb", "offset": parts[".dtb"][0], "size": dtb.stat().st_size}])
    assert j["sbat_lines"] == [line for line in parts[".sbat"][1].split(b"\0")[0].decode()
                               .split("\n") if line]
    for key in ("linux", "initrd", "cmdline", "osrel", "dtb", "uname", "splash", "sbat"):
        off, data = parts["." + key]
        assert j["sections"][key] == {"offset": off, "size": len(data)}, key
    check_extract(bootpack, uki, tmp_path, [".linux", ".initrd", ".cmdline", ".osrel", ".dtb",
                                            ".uname", ".splash", ".pcrpkey", ".sbat"])
    a = initrds[0].read_bytes()
    expected = {".linux": kernel.read_bytes(), ".cmdline": (d / "cmdline").read_bytes(),
                ".osrel": OSREL, ".dtb": dtb.read_bytes(), ".uname": b"6.1.0-99-amd64",
                ".splash": (d / "splash.bmp").read_bytes(),
                ".pcrpkey": (d / "pcrpkey").read_bytes(),
                ".initrd": a + bytes(-len(a) % 4) + initrds[1].read_bytes()}
    for name, data in expected.items():
        assert (tmp_path / f"x{name}").read_bytes() == data, name


def test_uki_build_arm64_zboot(bootpack, efi_stubs, zboot_kernels, tmp_path):
    """.uname as uki build reads it from the zboot payload, checked against
    the "Linux version" banner of the uncompressed Image it was built from."""
    k = zboot_kernels[("6.12", "zstd")]
    uki = tmp_path / "uki.efi"
    run([bootpack, "uki", "build", "-o", uki, "--stub", efi_stubs["linuxaa64.efi.stub"],
         "--linux", k.efi, "--cmdline", "console=ttyAMA0"])
    m = re.search(rb"Linux version (\S+)", k.image.read_bytes())
    j = info_json(bootpack, uki)["uki"]
    assert (j["kernel_machine_name"], j["kernel_zboot"], j["kernel_release"], j["cmdline"]) == \
        ("arm64", True, m.group(1).decode(), "console=ttyAMA0")
    check_extract(bootpack, uki, tmp_path, [".linux"])
    assert (tmp_path / "x.linux").read_bytes() == k.efi.read_bytes()


@pytest.mark.parametrize("args, message", [
    (["uki", "extract", "x.efi", "-o", "y"], "missing required option -s/--section"),
    (["uki", "extract", "x.efi"], "missing required options -s/--section and -o/--output"),
    (["uki", "extract", "x.efi", "-s", ".ninechars", "-o", "y"],
     "section name '.ninechars' is not 1 to 8 bytes long"),
    (["uki", "extract", "x.efi", "-s", "", "-o", "y"], "section name '' is not 1 to 8 bytes long"),
    (["uki", "extract", "-s", ".linux", "-o", "y"], "no input image given"),
    (["uki", "info"], "no FILE given"),
    (["uki", "info", "a", "b"], "give one FILE"),
])
def test_usage_errors(bootpack, tmp_path, args, message):
    proc = run([bootpack, *args], cwd=tmp_path, check=False)
    cmd = " ".join(args[:2])
    assert (proc.returncode, proc.stdout, proc.stderr.decode()) == \
        (2, b"", f"bootpack {cmd}: {message}\nTry 'bootpack {cmd} --help' for more information.\n")
    assert not list(tmp_path.iterdir())
