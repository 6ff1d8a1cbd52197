# SPDX-License-Identifier: MIT
"""Untrusted strings never reach a terminal raw: the escape table.

Every string bootpack prints that came from an input file (FIT node names and
property values, PE section names, the zboot compression name, paths inside
argument files, DTB properties) passes through bp_escape() once. This table
builds hostile inputs carrying control characters, CSI and OSC sequences, C1
controls (raw and UTF-8 encoded), invalid UTF-8 and a 10,000-byte string, runs
every command over them (text, --json and error output) and asserts:

- stdout and stderr are printable ASCII plus '\\n' (no byte below 0x20 other
  than the newline between records, no 0x7f, no byte >= 0x80 at all, so no
  raw C1 control either: bootpack's escaped forms are ASCII by design);
- --json output parses, and its strings decode to the input (each byte of an
  invalid UTF-8 sequence as U+FFFD);
- the escaped form of the hostile value (bootpack(1), ESCAPING) appears where
  the command reports that field.

The FITs are written by a small FDT serializer below rather than dtc or
libfdt's FdtSw, so node names can hold any byte but NUL and '/'.
"""

import json
import os
import struct
import subprocess

import pytest

# name -> hostile bytes (no NUL: they are C strings in the file).
HOSTILE = {
    "csi": b"z\x1b[2Jevil",
    "osc": b"t\x1b]0;pwned\x07x",
    "c1-raw": b"c\x9b31mred\x85",
    "c1-utf8": b"u\xc2\x9b31m\xc2\x90x",
    "ctl": b"a\x01b\rc\x08d\x7fe\tf\ng\\h",
    "bad-utf8": b"b\xff\xfe\xc3(\xed\xa0\x80\xf0\x9f\x98",
    "long": b"L" * 4000 + b"\x1b[31m" + b"M" * 6000,
}
# PE section names hold 8 bytes.
HOSTILE_SECTION = {
    "csi": b"\x1b[2Jx",
    "osc": b"\x1b]0;p\x07",
    "c1": b".\x9b\xc2\x9b1m",
    "ctl": b"\x01\r\x7f\\\n",
    "bad-utf8": b"\xff\xc3(\xed\xa0\x80",
}


# --------------------------------------------------------------------------
# The escaping rules (include/bootpack/escape.h), as the oracle.

def text_escape(b):
    out = []
    for c in b:
        if c == 0x5c:
            out.append("\\\\")
        elif 0x20 <= c < 0x7f:
            out.append(chr(c))
        else:
            out.append(f"\\x{c:02x}")
    return "".join(out)


def json_decode_expected(b):
    """What a JSON parser reads back: valid UTF-8 kept, each other byte U+FFFD."""
    out, i = [], 0
    while i < len(b):
        c = b[i]
        n = 1 if c < 0x80 else 2 if 0xc2 <= c <= 0xdf else 3 if 0xe0 <= c <= 0xef else \
            4 if 0xf0 <= c <= 0xf4 else 0
        try:
            out.append(b[i:i + n].decode("utf-8"))
            i += n
        except UnicodeDecodeError:
            n = 0
        if not n:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def assert_clean(proc, what):
    for stream, data in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        bad = sorted({c for c in data if (c < 0x20 and c != 0x0a) or c >= 0x7f})
        assert not bad, f"{what}: raw bytes {[hex(c) for c in bad]} on {stream}: " \
                        f"{data[:300]!r}"


def marker(b):
    """A piece of the escaped form that survives a cut at 127 characters."""
    return text_escape(b)[:60]


def bp(bootpack, *args, cwd=None):
    args = [a if isinstance(a, bytes) else str(a) for a in args]
    cmd = [str(bootpack), *args]
    if all(len(a) < 256 for a in args):
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                              check=False, timeout=300)
    # conftest's input guard stats every argument, and a 10,000-byte one is
    # ENAMETOOLONG there; such an argument names no input file anyway.
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd) as p:
        out, err = p.communicate(timeout=300)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


# --------------------------------------------------------------------------
# A minimal FDT writer: nodes are (name, [(prop, bytes)], [children]).

def fdt(root):
    strings, offsets, struct_ = bytearray(), {}, bytearray()

    def pad():
        struct_.extend(b"\0" * (-len(struct_) % 4))

    def node(name, props, children):
        struct_.extend(struct.pack(">I", 1) + name + b"\0")
        pad()
        for pname, value in props:
            if pname not in offsets:
                offsets[pname] = len(strings)
                strings.extend(pname + b"\0")
            struct_.extend(struct.pack(">III", 3, len(value), offsets[pname]) + value)
            pad()
        for child in children:
            node(*child)
        struct_.extend(struct.pack(">I", 2))

    node(*root)
    struct_.extend(struct.pack(">I", 9))
    rsv = b"\0" * 16
    off_rsv, off_struct = 40, 56
    off_strings = off_struct + len(struct_)
    total = off_strings + len(strings)
    hdr = struct.pack(">10I", 0xd00dfeed, total, off_struct, off_strings, off_rsv, 17, 16, 0,
                      len(strings), len(struct_))
    return hdr + rsv + bytes(struct_) + bytes(strings)


def s(v):
    return v + b"\0"


KERNEL = b"\0" * 0x38 + b"ARM\x64" + b"\0" * 200


def hostile_fit(h, comp):
    """Every string field of a FIT carries @h, tagged so each can be told apart."""
    import hashlib
    image = b"I" + h
    hashes = [(b"hash-" + h, [(b"algo", s(b"sha256")),
                              (b"value", hashlib.sha256(KERNEL).digest())], []),
              (b"hash-x", [(b"algo", s(b"A" + h)), (b"value", b"\1\2")], [])]
    img = (image, [(b"description", s(b"D" + h)), (b"type", s(b"kernel")),
                   (b"arch", s(b"arm64")), (b"os", s(b"linux")),
                   (b"compression", s(comp)), (b"load", struct.pack(">I", 0x1000)),
                   (b"entry", struct.pack(">I", 0x1000)), (b"data", KERNEL)], hashes)
    good = (b"C" + h, [(b"description", s(b"E" + h)), (b"kernel", s(image)),
                       (b"compatible", s(b"P" + h) + s(b"Q" + h))], [])
    dangling = (b"cfg-dangling", [(b"kernel", s(b"K" + h)), (b"fdt", s(b"F" + h))], [])
    root = (b"", [(b"description", s(b"R" + h)), (b"timestamp", struct.pack(">I", 1))],
            [(b"images", [], [img]),
             (b"configurations", [(b"default", s(b"C" + h))], [good, dangling])])
    return fdt(root)


@pytest.fixture(params=sorted(HOSTILE), ids=sorted(HOSTILE))
def hostile(request):
    return HOSTILE[request.param]


@pytest.fixture(params=["bad-compression", "none"])
def fit_pair(request, tmp_path, hostile):
    comp = b"z" + hostile if request.param == "bad-compression" else b"none"
    path = tmp_path / "h.fit"
    path.write_bytes(hostile_fit(hostile, comp))
    return path, comp


# --------------------------------------------------------------------------
# FIT commands

def test_fit_list_text(bootpack, fit_pair, hostile):
    path, comp = fit_pair
    proc = bp(bootpack, "fit", "list", path)
    assert_clean(proc, "fit list")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("ascii")
    for tag in (b"R", b"I", b"D", b"hash-", b"A", b"C", b"E", b"P", b"Q", b"K", b"F"):
        assert marker(tag + hostile) in out, tag
    # In full on stdout: a listing is not cut.
    assert text_escape(b"D" + hostile) in out
    assert text_escape(comp) in out


def test_fit_list_json(bootpack, fit_pair, hostile):
    path, comp = fit_pair
    proc = bp(bootpack, "fit", "list", "--json", path)
    assert_clean(proc, "fit list --json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.decode("ascii"))[0]
    want = json_decode_expected
    assert got["description"] == want(b"R" + hostile)
    im = got["images"][0]
    assert im["name"] == want(b"I" + hostile)
    assert im["description"] == want(b"D" + hostile)
    assert im["compression"] == want(comp)
    assert [h["node"] for h in im["hashes"]] == [want(b"hash-" + hostile), "hash-x"]
    assert im["hashes"][1]["algo"] == want(b"A" + hostile)
    cfg = got["configurations"]
    assert got["default_config"] == cfg[0]["name"] == want(b"C" + hostile)
    assert cfg[0]["compatible"] == [want(b"P" + hostile), want(b"Q" + hostile)]
    assert cfg[1]["kernel"] == want(b"K" + hostile)
    assert cfg[1]["fdt"] == [want(b"F" + hostile)]


def test_fit_verify(bootpack, fit_pair, hostile):
    path, comp = fit_pair
    proc = bp(bootpack, "fit", "verify", path)
    assert_clean(proc, "fit verify")
    assert proc.returncode == 1
    out = (proc.stdout + proc.stderr).decode("ascii")
    # Node names prefix each line; hash nodes, algorithms and references are quoted.
    for tag in (b"I", b"hash-", b"A", b"C", b"K"):
        assert marker(tag + hostile) in out, (tag, out[:2000])
    if comp != b"none":
        assert f"unknown compression '{marker(comp)}" in out


def test_fit_extract_image(bootpack, fit_pair, hostile, tmp_path):
    path, comp = fit_pair
    out = tmp_path / "out"
    proc = bp(bootpack, "fit", "extract", "-v", "--no-verify", path, b"I" + hostile, "-o", out)
    assert_clean(proc, "fit extract")
    if comp == b"none":
        assert proc.returncode == 0, proc.stderr
        assert out.read_bytes() == KERNEL
        assert marker(b"I" + hostile) in proc.stdout.decode("ascii")
    else:
        assert proc.returncode == 1
        err = proc.stderr.decode("ascii")
        assert f"unknown compression '{marker(comp)}" in err, err
    # A name that is not there is echoed escaped, too.
    proc = bp(bootpack, "fit", "extract", path, b"N" + hostile, "-o", out)
    assert_clean(proc, "fit extract (no such image)")
    assert proc.returncode == 1
    assert marker(b"N" + hostile) in proc.stderr.decode("ascii")


def test_fit_extract_hash_messages(bootpack, fit_pair, hostile, tmp_path):
    """Verifying hashes first: the bad algo node is named in the failure."""
    path, _ = fit_pair
    proc = bp(bootpack, "fit", "extract", path, b"I" + hostile, "-o", tmp_path / "out")
    assert_clean(proc, "fit extract (hash check)")
    assert proc.returncode == 1
    assert marker(b"A" + hostile) in proc.stderr.decode("ascii")


@pytest.mark.parametrize("config,kind", [(b"C", "kernel"), (b"cfg-dangling", "kernel"),
                                         (b"cfg-dangling", "fdt"), (b"X", "kernel")])
def test_fit_extract_config(bootpack, fit_pair, hostile, tmp_path, config, kind):
    path, comp = fit_pair
    name = config + hostile if config in (b"C", b"X") else config
    out = tmp_path / "out"
    proc = bp(bootpack, "fit", "extract", "--no-verify", path, "--config", name, "--kind", kind,
              "-o", out)
    assert_clean(proc, f"fit extract --config {config}")
    err = proc.stderr.decode("ascii")
    if config == b"C":
        assert proc.returncode == (0 if comp == b"none" else 1), err
    else:
        assert proc.returncode == 1
        ref = {b"X": b"X", b"cfg-dangling": b"K" if kind == "kernel" else b"F"}[config]
        assert marker(ref + hostile) in err, err


# --------------------------------------------------------------------------
# fit build: hostile DTB properties, DTB file names and argument-file paths

def dts_string(b):
    return '"' + "".join(chr(c) if 0x20 <= c < 0x7f and c not in b'"\\' else f"\\x{c:02x}"
                         for c in b) + '"'


def test_fit_build_hostile_dtb(bootpack, samples, tmp_path, hostile):
    src = tmp_path / "h.dts"
    src.write_text("/dts-v1/;\n/ {\n\tcompatible = %s, %s;\n\tmodel = %s;\n};\n"
                   % (dts_string(b"P" + hostile), dts_string(b"vendor,board"),
                      dts_string(b"M" + hostile)))
    dtb = tmp_path / "h.dtb"
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(dtb), str(src)], check=True)
    fit = tmp_path / "h.fit"
    proc = bp(bootpack, "fit", "build", "-v", "-o", fit, "-A", "arm64", "-O", "linux",
              "-n", "n", "-k", samples / "Image", dtb)
    assert_clean(proc, "fit build")
    assert proc.returncode == 0, proc.stderr
    for args in (["fit", "list", fit], ["fit", "verify", fit]):
        proc = bp(bootpack, *args)
        assert_clean(proc, " ".join(map(str, args[:2])))
        assert proc.returncode == 0, proc.stderr
    assert marker(b"P" + hostile) in bp(bootpack, "fit", "list", fit).stdout.decode("ascii")
    got = json.loads(bp(bootpack, "fit", "list", "--json", fit).stdout.decode("ascii"))
    assert got[0]["configurations"][0]["compatible"][0] == json_decode_expected(b"P" + hostile)


def argfile_quote(b):
    """One argument in an @FILE: quoted, '\\' and quotes escaped (gcc's rules)."""
    return b"'" + b.replace(b"\\", b"\\\\").replace(b"'", b"\\'") + b"'"


def hostile_file_name(h):
    """A file name made from @h: no '/' or NUL, and short enough for the file system."""
    return h.replace(b"/", b"_")[:200]


@pytest.mark.parametrize("how", ["argfile-kernel", "argfile-dtb", "list-dtb", "bad-dtb"])
def test_fit_build_hostile_paths(bootpack, samples, tmp_path, hostile, how):
    name = b"p" + hostile_file_name(hostile)
    missing = os.fsencode(tmp_path) + b"/" + name
    out = tmp_path / "o.fit"
    args = [b"fit", b"build", b"-o", os.fsencode(out), b"-A", b"arm64", b"-O", b"linux",
            b"-n", b"n"]
    kernel = os.fsencode(samples / "Image")
    if how == "argfile-kernel":
        (tmp_path / "args").write_bytes(b"-k " + argfile_quote(missing) + b"\n")
        args += [b"@" + os.fsencode(tmp_path / "args"), os.fsencode(samples / "demo-a.dtb")]
    elif how == "argfile-dtb":
        (tmp_path / "args").write_bytes(b"-k " + kernel + b" " + argfile_quote(missing + b".dtb"))
        args += [b"@" + os.fsencode(tmp_path / "args")]
    elif how == "list-dtb":
        # One path a line: a newline cannot be part of one.
        name = name.replace(b"\n", b"_")
        missing = os.fsencode(tmp_path) + b"/" + name
        (tmp_path / "list").write_bytes(missing + b".dtb\n")
        args += [b"-k", kernel, b"-T", os.fsencode(tmp_path / "list")]
    else:
        bad = missing + b".dtb"
        with open(bad, "wb") as f:
            f.write(b"not a devicetree")
        args += [b"-k", kernel, bad]
    proc = bp(bootpack, *args)
    assert_clean(proc, f"fit build ({how})")
    assert proc.returncode == 1, proc.stderr
    assert text_escape(name)[:60] in proc.stderr.decode("ascii"), proc.stderr


def test_argfile_missing_hostile_path(bootpack, tmp_path, hostile):
    """An argument file naming another that does not exist: main()'s error."""
    name = b"@" + os.fsencode(tmp_path) + b"/a" + hostile_file_name(hostile)
    (tmp_path / "outer").write_bytes(argfile_quote(name) + b"\n")
    proc = bp(bootpack, "fit", "list", b"@" + os.fsencode(tmp_path / "outer"))
    assert_clean(proc, "argument file")
    assert proc.returncode == 1
    assert text_escape(b"a" + hostile_file_name(hostile))[:40] in proc.stderr.decode("ascii")


def test_hostile_arguments(bootpack, tmp_path, hostile):
    """Option values and operands (argument files hold them too) are echoed escaped."""
    cases = [["fit", "extract", "x", "--config", "c", "--kind", hostile, "-o", "o"],
             ["fit", "build", "-o", "o", "-A", "a", "-O", "o", "-n", "n", "-k", "k", "-c",
              hostile],
             ["fit", "build", "--hash", hostile],
             ["fit", "verify", "--jobs", hostile],
             ["fit", "list", "--" + "x", hostile],
             ["pe", hostile],
             [hostile],
             ["pe", "add-section", "in", "-o", "o", "--file", "f", "--name", hostile],
             ["pe", "add-section", "in", "-o", "o", "--file", "f", "--name", "n",
              "--flags", hostile]]
    for args in cases:
        proc = bp(bootpack, *args, cwd=tmp_path)
        assert_clean(proc, repr(args[:3]))
        assert proc.returncode == 2, (args[:3], proc.stderr)
        if args[0] != "fit" or args[1] != "list":
            assert marker(hostile)[:40] in proc.stderr.decode("ascii"), (args[:3], proc.stderr)


# --------------------------------------------------------------------------
# PE and zboot

def pe_image(pe_gen, tmp_path, *extra):
    path = tmp_path / "in.efi"
    proc = subprocess.run([str(pe_gen), *extra, "--layout", str(path)], stdout=subprocess.PIPE,
                          check=True)
    return path, json.loads(proc.stdout)


@pytest.fixture(params=sorted(HOSTILE_SECTION), ids=sorted(HOSTILE_SECTION))
def section_name(request):
    return HOSTILE_SECTION[request.param]


def set_section_name(path, lay, i, name):
    data = bytearray(path.read_bytes())
    off = lay["sect_table_offset"] + 40 * i
    data[off:off + 8] = name.ljust(8, b"\0")
    path.write_bytes(bytes(data))


def test_pe_hostile_section_name(bootpack, pe_gen, tmp_path, section_name):
    path, lay = pe_image(pe_gen, tmp_path, "--sections", "3")
    set_section_name(path, lay, 2, section_name)
    want = text_escape(section_name)
    proc = bp(bootpack, "pe", "info", path)
    assert_clean(proc, "pe info")
    assert want in proc.stdout.decode("ascii")
    proc = bp(bootpack, "pe", "info", "--json", path)
    assert_clean(proc, "pe info --json")
    got = json.loads(proc.stdout.decode("ascii"))
    assert json_decode_expected(section_name) in [s["name"] for s in got["sections"]]
    proc = bp(bootpack, "pe", "verify", path)
    assert_clean(proc, "pe verify")
    data = tmp_path / "data"
    data.write_bytes(b"x" * 100)
    out = tmp_path / "out.efi"
    for cmd, extra in (("replace-section", ["--file", data]), ("remove-section", ["--force"])):
        proc = bp(bootpack, "pe", cmd, path, "-o", out, "--name", section_name, *extra)
        assert_clean(proc, f"pe {cmd}")
        assert proc.returncode == 0, proc.stderr
        proc = bp(bootpack, "pe", "info", out)
        assert_clean(proc, f"pe info after {cmd}")
    # Adding a section whose name exists, or removing one that does not: named in the error.
    proc = bp(bootpack, "pe", "add-section", path, "-o", out, "--name", section_name,
              "--file", data)
    assert_clean(proc, "pe add-section (exists)")
    assert proc.returncode == 1 and want in proc.stderr.decode("ascii"), proc.stderr
    proc = bp(bootpack, "pe", "remove-section", out, "-o", tmp_path / "o2.efi", "--name",
              section_name)
    assert_clean(proc, "pe remove-section (absent)")
    assert proc.returncode == 1 and want in proc.stderr.decode("ascii"), proc.stderr
    # A new section with a hostile name shows up escaped.
    proc = bp(bootpack, "pe", "add-section", out, "-o", tmp_path / "o3.efi", "--name",
              section_name, "--file", data)
    assert proc.returncode == 0, proc.stderr
    assert want in bp(bootpack, "pe", "info", tmp_path / "o3.efi").stdout.decode("ascii")


ZBOOT_COMP_NAME = 0x18      # Linux zboot header: .asciz at 0x18 ...
ZBOOT_COMP_END = 0x38       # ... up to LINUX_PE_MAGIC


@pytest.mark.parametrize("name", [b"z\x1b[2Jevil", b"g\x1b]0;x\x07\x9b\xc2\x85\xff",
                                  b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
                                  b"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e"
                                  b"\x1f"])
def test_zboot_hostile_compression(bootpack, pe_gen, tmp_path, name):
    path, _ = pe_image(pe_gen, tmp_path, "--zboot", "gzip", "--flat")
    data = bytearray(path.read_bytes())
    room = ZBOOT_COMP_END - ZBOOT_COMP_NAME
    data[ZBOOT_COMP_NAME:ZBOOT_COMP_END] = name[:room - 1].ljust(room, b"\0")
    path.write_bytes(bytes(data))
    want = text_escape(name[:room - 1])
    for args in (["pe", "info", path], ["pe", "verify", path],
                 ["zboot", "extract", path, "-o", tmp_path / "Image"]):
        proc = bp(bootpack, *args)
        assert_clean(proc, " ".join(map(str, args[:2])))
        assert want in (proc.stdout + proc.stderr).decode("ascii"), args[:2]
    proc = bp(bootpack, "pe", "info", "--json", path)
    assert_clean(proc, "pe info --json")
    got = json.loads(proc.stdout.decode("ascii"))
    assert got["zboot"]["compression"] == json_decode_expected(name[:room - 1])


def test_fit_build_hostile_default_config(bootpack, samples, tmp_path, hostile):
    """A value the library quotes without escaping is still escaped by the CLI."""
    proc = bp(bootpack, "fit", "build", "-o", tmp_path / "o.fit", "-A", "arm64", "-O", "linux",
              "-n", "n", "-k", samples / "Image", "--default-config", hostile,
              samples / "demo-a.dtb")
    assert_clean(proc, "fit build --default-config")
    assert proc.returncode == 1, proc.stderr
    assert "default configuration" in proc.stderr.decode("ascii")
