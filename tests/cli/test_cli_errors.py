# SPDX-License-Identifier: MIT
"""Bad input and bad usage: exact stderr line, exit status, and no output.

Every failure must print one line 'bootpack: 'PATH': what is wrong', exit 1
(2 for usage errors), leave no file at the output path, leave an existing
output untouched, and leave no temporary file behind.
"""

import json
import os
import re
import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BASE = ["-A", "arm64", "-O", "linux", "-n", "Linux-test"]


def bp(bootpack, *args, env=None, cwd=None):
    return subprocess.run([str(bootpack), *map(str, args)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, cwd=cwd, check=False, timeout=300)


def build(bootpack, samples, out, *extra, dtbs=None, **kw):
    dtbs = [samples / "demo-a.dtb"] if dtbs is None else dtbs
    return bp(bootpack, "fit", "build", "-o", out, *BASE, "-k", samples / "Image",
              *extra, *dtbs, **kw)


def assert_fails(proc, line, status=1):
    err = proc.stderr.decode()
    assert proc.returncode == status, err
    assert err == line + "\n", err
    assert proc.stdout == b""


def assert_no_leftovers(directory, allowed=()):
    names = sorted(p.name for p in Path(directory).iterdir())
    assert names == sorted(allowed), names


@pytest.fixture
def work(tmp_path):
    return tmp_path


def dtb_bytes(samples):
    return (samples / "demo-a.dtb").read_bytes()


def test_missing_kernel(bootpack, samples, work):
    out = work / "o.fit"
    p = bp(bootpack, "fit", "build", "-o", out, *BASE, "-k", work / "nope", samples / "demo-a.dtb")
    assert_fails(p, f"bootpack: '{work}/nope': cannot open: No such file or directory")
    assert_no_leftovers(work)


def test_kernel_is_a_directory(bootpack, samples, work):
    p = bp(bootpack, "fit", "build", "-o", work / "o.fit", *BASE, "-k", work)
    assert_fails(p, f"bootpack: '{work}': is a directory, not a file")
    assert_no_leftovers(work)


def test_missing_dtb(bootpack, samples, work):
    p = build(bootpack, samples, work / "o.fit", dtbs=[work / "gone.dtb"])
    assert_fails(p, f"bootpack: '{work}/gone.dtb': cannot open: No such file or directory")
    assert_no_leftovers(work)


def test_bad_magic(bootpack, samples, work):
    bad = work / "bad.dtb"
    bad.write_bytes(b"\x7fELF" + bytes(100))
    p = build(bootpack, samples, work / "o.fit", dtbs=[bad])
    assert_fails(p, f"bootpack: '{bad}': not a devicetree blob: bad magic 0x7f454c46 "
                    "(expected 0xd00dfeed)")
    assert_no_leftovers(work, ["bad.dtb"])


def test_truncated_dtb(bootpack, samples, work):
    data = dtb_bytes(samples)
    bad = work / "cut.dtb"
    bad.write_bytes(data[:-10])
    p = build(bootpack, samples, work / "o.fit", dtbs=[bad])
    assert_fails(p, f"bootpack: '{bad}': devicetree is truncated: header totalsize is "
                    f"{len(data)} bytes but the file has only {len(data) - 10}")
    assert_no_leftovers(work, ["cut.dtb"])


def test_totalsize_beyond_file(bootpack, samples, work):
    data = bytearray(dtb_bytes(samples))
    struct.pack_into(">I", data, 4, 0x10000000)
    bad = work / "big.dtb"
    bad.write_bytes(data)
    p = build(bootpack, samples, work / "o.fit", dtbs=[bad])
    assert_fails(p, f"bootpack: '{bad}': devicetree is truncated: header totalsize is "
                    f"{0x10000000} bytes but the file has only {len(data)}")


def test_header_only_fragment(bootpack, samples, work):
    bad = work / "tiny.dtb"
    bad.write_bytes(dtb_bytes(samples)[:16])
    p = build(bootpack, samples, work / "o.fit", dtbs=[bad])
    assert_fails(p, f"bootpack: '{bad}': not a devicetree blob: file is 16 bytes, "
                    "shorter than the 40-byte header")


def test_struct_offset_out_of_bounds(bootpack, samples, work):
    data = bytearray(dtb_bytes(samples))
    struct.pack_into(">I", data, 8, len(data) + 64)  # off_dt_struct past the end
    bad = work / "off.dtb"
    bad.write_bytes(data)
    p = build(bootpack, samples, work / "o.fit", dtbs=[bad])
    assert_fails(p, f"bootpack: '{bad}': devicetree header is invalid: off_dt_struct "
                    f"{len(data) + 64} is past totalsize {len(data)}")


def compile_dts(work, name, source):
    src = work / f"{name}.dts"
    src.write_text(source)
    dtb = work / f"{name}.dtb"
    subprocess.run(["dtc", "-q", "-O", "dtb", "-o", dtb, src], check=True)
    return dtb


def test_root_without_compatible(bootpack, samples, work):
    dtb = compile_dts(work, "nc", '/dts-v1/;\n/ { model = "No Compat"; #address-cells = <1>; };\n')
    p = build(bootpack, samples, work / "o.fit", dtbs=[dtb])
    assert_fails(p, f"bootpack: '{dtb}': devicetree root has no 'compatible' property, "
                    "so no bootloader could select its configuration")


def test_root_without_model(bootpack, samples, work):
    dtb = compile_dts(work, "nm", '/dts-v1/;\n/ { compatible = "x,y"; };\n')
    p = build(bootpack, samples, work / "o.fit", dtbs=[dtb])
    assert_fails(p, f"bootpack: '{dtb}': devicetree root has no 'model' property "
                    "(make_fit.py uses it as the configuration description)")


def test_non_dtb_input_is_an_error(bootpack, samples, work):
    txt = work / "notes.txt"
    txt.write_text("hello")
    p = build(bootpack, samples, work / "o.fit", dtbs=[samples / "demo-a.dtb", txt])
    assert_fails(p, f"bootpack: '{txt}': not a devicetree: only .dtb files (and .dtbo "
                    "overlays, which are used through -D) are accepted")


def test_dtbo_is_ignored_like_make_fit(bootpack, samples, work):
    out = work / "o.fit"
    p = build(bootpack, samples, out, dtbs=[samples / "demo-overlay.dtbo", samples / "demo-b.dtb"])
    assert p.returncode == 0, p.stderr
    listing = subprocess.run(["dumpimage", "-l", out], stdout=subprocess.PIPE, check=True)
    images = re.findall(rb"^ Image \d+ \((\S+)\)", listing.stdout, re.M)
    assert images == [b"kernel", b"fdt-1"]
    assert b"demo-b.dtb" in listing.stdout and b"demo-overlay" not in listing.stdout


@pytest.mark.parametrize("name,msg", [
    ("foo", "unknown compression (choose from none, gzip, bzip2, lz4, lzma, lzo, zstd)"),
    ("xz", "not a FIT compression: U-Boot cannot decompress it (dumpimage reports "
           "\"Unknown Compression\"); use -c lzma, the LZMA container U-Boot reads"),
])
def test_bad_compression(bootpack, samples, work, name, msg):
    """A bad -c value is a usage error like any other bad option value (exit 2)."""
    p = build(bootpack, samples, work / "o.fit", "-c", name)
    assert_fails(p, f"bootpack fit build: -c/--compress '{name}': {msg}\n"
                    "Try 'bootpack fit build --help' for more information.", status=2)
    assert_no_leftovers(work)


def test_decompose_without_cmd_file(bootpack, samples, work):
    dtb = work / "board.dtb"
    dtb.write_bytes(dtb_bytes(samples))
    p = build(bootpack, samples, work / "o.fit", "-D", dtbs=[dtb])
    assert_fails(p, f"bootpack: '{work}/.board.dtb.cmd': cannot open: No such file or "
                    f"directory (-D needs Kbuild's .cmd file for '{dtb}')")
    assert_no_leftovers(work, ["board.dtb"])


def test_output_directory_missing(bootpack, samples, work):
    out = work / "no" / "such" / "o.fit"
    p = build(bootpack, samples, out)
    assert_fails(p, f"bootpack: '{out}': cannot create output: No such file or directory")


def test_output_parent_is_a_file(bootpack, samples, work):
    (work / "file").write_text("x")
    out = work / "file" / "o.fit"
    p = build(bootpack, samples, out)
    assert_fails(p, f"bootpack: '{out}': cannot create output: Not a directory")


def test_output_directory_read_only(bootpack, samples, work, tmp_path_factory):
    """A read-only filesystem refuses even root (permission bits would not)."""
    ro = Path("/proc/self")
    out = ro / "o.fit"
    p = build(bootpack, samples, out)
    assert p.returncode == 1
    assert p.stderr.decode().startswith(f"bootpack: '{out}': cannot create output: ")
    assert not out.exists()


def test_existing_output_untouched_on_failure(bootpack, samples, work):
    out = work / "o.fit"
    out.write_bytes(b"previous image")
    bad = work / "bad.dtb"
    bad.write_bytes(b"garbage!" * 8)
    p = build(bootpack, samples, out, dtbs=[bad])
    assert p.returncode == 1
    assert out.read_bytes() == b"previous image"
    assert_no_leftovers(work, ["bad.dtb", "o.fit"])


def test_existing_output_replaced_on_success(bootpack, samples, work):
    out = work / "o.fit"
    out.write_bytes(b"previous image")
    p = build(bootpack, samples, out)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:4] == b"\xd0\x0d\xfe\xed"
    assert_no_leftovers(work, ["o.fit"])


def test_output_may_not_be_an_input(bootpack, samples, work):
    dtb = work / "a.dtb"
    dtb.write_bytes(dtb_bytes(samples))
    p = build(bootpack, samples, dtb, dtbs=[dtb])
    assert_fails(p, f"bootpack: '{dtb}': output is the input file '{dtb}'; refusing to "
                    "overwrite it")
    assert dtb.read_bytes() == dtb_bytes(samples)


def test_bad_source_date_epoch(bootpack, samples, work):
    env = dict(os.environ, SOURCE_DATE_EPOCH="yesterday")
    p = build(bootpack, samples, work / "o.fit", env=env)
    assert_fails(p, "bootpack: SOURCE_DATE_EPOCH='yesterday' is not a number of seconds "
                    "between 0 and 4294967295")
    assert_no_leftovers(work)


@pytest.mark.parametrize("args,msg", [
    ([], "missing required options -o/--output, -A/--arch, -O/--os, -n/--name and "
         "-k/--kernel"),
    (["-o", "x.fit", *BASE], "missing required option -k/--kernel"),
    (["-o", "x.fit", "-n", "n", "-k", "k"], "missing required options -A/--arch and -O/--os"),
    (["-c", "lz5", "-o", "x.fit", *BASE, "-k", "k"],
     "-c/--compress 'lz5': unknown compression (choose from none, gzip, bzip2, lz4, lzma, "
     "lzo, zstd)"),
    (["--bogus"], "unknown option '--bogus'"),
    (["-o"], "option '-o' needs an argument"),
    (["-B", "6"], "--align '6': expected a power of two in hex, from 4 to 40000000 "
                  "(e.g. 1000 for 4 KiB)"),
    (["-j", "many"], "--jobs 'many': expected a number from 0 (all CPUs) to 256"),
])
def test_usage_errors_exit_2(bootpack, work, args, msg):
    p = bp(bootpack, "fit", "build", *args, cwd=work)
    assert p.returncode == 2
    assert p.stderr.decode() == (f"bootpack fit build: {msg}\n"
                                 "Try 'bootpack fit build --help' for more information.\n")
    assert_no_leftovers(work)


@pytest.mark.parametrize("args", [[], ["fit"], ["fit", "frobnicate"], ["zip", "build"]])
def test_bad_command_exit_2(bootpack, args):
    p = bp(bootpack, *args)
    assert p.returncode == 2
    assert p.stderr.startswith(b"bootpack")


@pytest.mark.parametrize("args,msg,hint", [
    (["fit"], "bootpack: 'fit' needs a command", "bootpack fit --help"),
    (["pe", "frobnicate"], "bootpack: unknown command 'pe frobnicate'", "bootpack pe --help"),
    (["zip", "build"], "bootpack: unknown object 'zip'", "bootpack --help"),
])
def test_bad_command_message(bootpack, args, msg, hint):
    """The usual two lines: what is wrong, and where the list of commands is."""
    p = bp(bootpack, *args)
    assert p.returncode == 2 and p.stdout == b""
    lines = p.stderr.decode().splitlines()
    assert lines[0] == msg and len(lines) == 2
    assert lines[1].startswith(f"Try '{hint}' for the list of")


OBJECT_COMMANDS = {
    "fit": ["build", "list", "extract", "verify", "sign", "key add"],
    "pe": ["info", "verify", "sign", "hash", "add-section", "replace-section", "remove-section"],
    "zboot": ["extract"],
}


@pytest.mark.parametrize("obj", sorted(OBJECT_COMMANDS))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_object_help_lists_its_commands(bootpack, obj, flag):
    """'bootpack OBJECT --help': that object's commands with the summaries of --help."""
    p = bp(bootpack, obj, flag)
    assert p.returncode == 0 and p.stderr == b""
    text = p.stdout.decode()
    assert text.startswith(f"Usage: bootpack {obj} COMMAND [OPTION]... [ARG]...\n")
    top = bp(bootpack, "--help").stdout.decode()
    listed = re.findall(r"^  (\S+(?: \S+)?)  +(.+)$", text, re.M)
    assert [c for c, _ in listed] == OBJECT_COMMANDS[obj]
    for command, summary in listed:
        assert re.search(rf"^  {obj} {re.escape(command)} +{re.escape(summary)}$", top, re.M)
    for other in OBJECT_COMMANDS:
        if other != obj:
            assert f"bootpack {other}" not in text


@pytest.mark.parametrize("command,args,msg", [
    ("pe add-section", ["in.efi", "-o", "o.efi", "--name", ".bpfdata1", "--file", "f"],
     "--name '.bpfdata1': a section name is 1 to 8 bytes (PE section headers hold 8)"),
    ("pe remove-section", ["in.efi", "-o", "o.efi", "--name", ""],
     "--name '': a section name is 1 to 8 bytes (PE section headers hold 8)"),
    ("pe add-section", ["in.efi"], "missing required options -o/--output, --name and --file"),
    ("pe replace-section", ["in.efi", "-o", "o.efi"],
     "missing required options --name and --file"),
    ("pe remove-section", ["in.efi", "--name", "x"], "missing required option -o/--output"),
])
def test_pe_edit_usage_errors(bootpack, work, command, args, msg):
    """Blame the option, not the input image (which is not even opened)."""
    p = bp(bootpack, *command.split(), *args, cwd=work)
    assert p.returncode == 2 and p.stdout == b""
    assert p.stderr.decode() == (f"bootpack {command}: {msg}\n"
                                 f"Try 'bootpack {command} --help' for more information.\n")


def test_files_from_error_is_one_line(bootpack, work):
    """-T's error goes through the CLI's error helper, like every other."""
    p = bp(bootpack, "fit", "build", "-o", "o.fit", *BASE, "-k", "k", "-T", "nope.txt",
           cwd=work)
    assert_fails(p, "bootpack: 'nope.txt': cannot open: No such file or directory")


def test_help_and_version(bootpack):
    p = bp(bootpack, "--version")
    assert p.returncode == 0 and re.fullmatch(rb"bootpack \d+\.\d+\.\d+\n", p.stdout)
    p = bp(bootpack, "--help")
    assert p.returncode == 0 and b"fit build" in p.stdout
    p = bp(bootpack, "fit", "build", "--help")
    assert p.returncode == 0 and p.stderr == b""


@pytest.mark.parametrize("command", [
    "fit build", "fit list", "fit extract", "fit verify", "fit sign", "fit key add",
    "pe info", "pe verify", "pe sign", "pe hash",
    "pe add-section", "pe replace-section", "pe remove-section", "zboot extract"])
def test_help_options_documented_in_man_page(bootpack, command):
    """--help comes from the option table; the man page must cover each option,
    and each command must have its section."""
    help_text = bp(bootpack, *command.split(), "--help").stdout.decode()
    longs = re.findall(r"--([a-z][a-z-]+)", help_text)
    assert "help" in longs
    if command == "fit build":
        assert {"output", "arch", "os", "name", "kernel", "ramdisk", "compress", "external",
                "align", "decompose-dtbs", "files-from", "jobs", "verbose", "hash",
                "default-config", "load-address", "entry-address"} <= set(longs)
    man = (REPO / "doc" / "bootpack.1").read_text().replace("\\-", "-")
    obj, cmd = command.split(maxsplit=1)
    assert re.search(rf'^\.SS "bootpack {obj} [^"]*\b{cmd}\b', man, re.M), \
        f"no .SS section for {command}"
    for opt in longs:
        assert f"--{opt}" in man, f"--{opt} is not in doc/bootpack.1"


def test_list_json_keys_documented_in_man_page(bootpack, samples, work):
    """Every key `fit list --json` prints is described in the man page."""
    fit = work / "k.fit"
    bp(bootpack, "fit", "build", "-o", fit, "-A", "arm64", "-O", "linux", "-n", "k",
       "-k", samples / "Image", "-r", samples / "demo-c.dtb", "--hash", "crc32",
       "--default-config", "conf-1", samples / "demo-a.dtb")
    p = bp(bootpack, "fit", "list", "--json", fit)
    assert p.returncode == 0, p.stderr
    top = json.loads(p.stdout)
    keys = set(top[0]) | set(top[0]["images"][0]) | set(top[0]["configurations"][0]) | \
        set(top[0]["images"][0]["hashes"][0])
    man = (REPO / "doc" / "bootpack.1").read_text().replace("\\-", "-")
    section = man[man.index('.SS "bootpack fit list"'):man.index('.SS "bootpack fit extract"')]
    for key in sorted(keys):
        assert re.search(rf"\b{key}\b", section), f"JSON key {key} is not documented"


def test_argument_files(bootpack, samples, work):
    """@FILE: quoted names, nesting, and a missing @FILE (an error, as in make_fit.py)."""
    spaced = work / "my board.dtb"
    spaced.write_bytes(dtb_bytes(samples))
    inner = work / "inner"
    inner.write_text(f"'{spaced}' \"{samples / 'demo-b.dtb'}\"\n")
    outer = work / "outer"
    outer.write_text(f"-c lz4 @{inner}\n{samples / 'demo-c.dtb'}\n")
    out = work / "o.fit"
    p = build(bootpack, samples, out, f"@{outer}", dtbs=[])
    assert p.returncode == 0, p.stderr
    listing = subprocess.run(["dumpimage", "-l", out], stdout=subprocess.PIPE, check=True).stdout
    assert re.findall(rb"Description:\s+(\S.*\.dtb)", listing) == [
        b"my board.dtb", b"demo-b.dtb", b"demo-c.dtb"]
    assert listing.count(b"lz4 compressed") == 4
    p = build(bootpack, samples, out, dtbs=[f"@{work}/missing.dtb"])
    assert_fails(p, f"bootpack: '{work}/missing.dtb': cannot open argument file: No such file or "
                    "directory")


def test_files_from(bootpack, samples, work):
    spaced = work / "a b.dtb"
    spaced.write_bytes(dtb_bytes(samples))
    lst = work / "list"
    lst.write_text(f"{spaced}\n\n{samples / 'demo-d.dtb'}\n")
    out = work / "o.fit"
    p = build(bootpack, samples, out, "-T", lst, dtbs=[])
    assert p.returncode == 0, p.stderr
    listing = subprocess.run(["dumpimage", "-l", out], stdout=subprocess.PIPE, check=True).stdout
    assert re.findall(rb"Description:\s+(\S.*\.dtb)", listing) == [b"a b.dtb", b"demo-d.dtb"]
    p = build(bootpack, samples, out, "-T", work / "nolist", dtbs=[])
    assert_fails(p, f"bootpack: '{work}/nolist': cannot open: No such file or directory")


def test_verbose_summary(bootpack, samples, work):
    out = work / "o.fit"
    p = build(bootpack, samples, out, "-v", "-E", "-c", "gzip")
    assert p.returncode == 0, p.stderr
    size = out.stat().st_size
    assert re.fullmatch(rf"FIT size {size:#x}/\d+\.\d MB, header 0x[0-9a-f]+/\d+\.\d KB, "
                        r"2 files, uncompressed \d+\.\d MB\n", p.stdout.decode()), p.stdout
