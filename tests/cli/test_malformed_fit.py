# SPDX-License-Identifier: MIT
"""One malformed input per row: FITs for fit list / verify / extract, DTBs and
@argument files for fit build.

Each row states the exact stderr bootpack must print (the whole text, one
"bootpack: 'PATH': ..." line, or for fit verify its per-node lines and the
FAILED summary), the exit status, that no output or temporary file appears
and that every input file is byte-identical afterwards. The messages are the
specification: they name the node, the field and the values involved.

Inputs are FITs made by bootpack and by mkimage and DTBs from the samples,
damaged with libfdt or struct.pack_into; header values and structure offsets
in the expected messages are read back independently with struct and a small
walker below, never taken from bootpack. Compressed streams come from
zlib/bz2/lzma and the lz4/lzop/zstd tools (or are written by hand), and the
image's hash values are recomputed, so only decompressing can catch them.
"""

import bz2
import hashlib
import lzma
import os
import struct
import sys
import tempfile
import zlib
from pathlib import Path
from typing import NamedTuple

import libfdt
import pytest

from conftest import ARCH_ARGS, run
from signkeys import sign_keys  # noqa: F401
from test_fit_inspect import Builder, Raw, recompute_hashes

MiB = 1 << 20
LIMIT = MiB                          # --max-size for the bombs


# --------------------------------------------------------------------------
# the runner

class Expect(NamedTuple):
    args: list                        # bootpack arguments
    err: list                         # the exact stderr, one string per line
    inputs: list                      # files that must be unchanged
    status: int = 1
    stdout: bytes = b""
    max_rss: int = 0                  # limit on peak RSS in bytes (0: not checked)


# Peak RSS survives fork and exec, so a child of this (large) Python process
# starts with its size; a fresh small interpreter forks bootpack instead and
# reports the grandchild's ru_maxrss.
RSS_PROBE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss * 1024))
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
"""


def run_bootpack(bootpack, args, cwd, measure=False):
    """Run bootpack in @cwd; with @measure, proc.max_rss is its peak RSS in bytes."""
    if not measure:
        return run([bootpack, *args], cwd=cwd, check=False, timeout=60)
    with tempfile.NamedTemporaryFile() as rss:
        proc = run([sys.executable, "-c", RSS_PROBE, rss.name, bootpack, *args], cwd=cwd,
                   check=False, timeout=60)
        proc.max_rss = int(Path(rss.name).read_text())
    return proc


def check(bootpack, workdir, e):
    before = {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in e.inputs}
    listing = sorted(os.listdir(workdir))
    proc = run_bootpack(bootpack, e.args, workdir, measure=bool(e.max_rss))
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == e.status, (proc.returncode, err)
    assert err == "".join(line + "\n" for line in e.err)
    assert proc.stdout == e.stdout, proc.stdout.decode(errors="replace")
    if e.max_rss:
        assert proc.max_rss < e.max_rss, f"peak RSS {proc.max_rss >> 20} MiB"
    for p, h in before.items():
        assert hashlib.sha256(Path(p).read_bytes()).hexdigest() == h, f"{p} was modified"
    # No output file and no temporary (.NAME.tmp-*) left next to it.
    assert sorted(os.listdir(workdir)) == listing


def one(path, msg):
    return [f"bootpack: '{path}': {msg}"]


def failed(path, *node_msgs):
    """What fit verify -q prints for a FIT with these failures."""
    n = len(node_msgs)
    return [f"bootpack: '{path}': {m}" for m in node_msgs] + \
        [f"bootpack: '{path}': FAILED: {n} problem{'s' if n != 1 else ''} found"]


# --------------------------------------------------------------------------
# devicetree bytes

HEADER = {"magic": 0, "totalsize": 4, "off_dt_struct": 8, "off_dt_strings": 12,
          "off_mem_rsvmap": 16, "version": 20, "last_comp_version": 24,
          "size_dt_strings": 32, "size_dt_struct": 36}
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9


def header(data):
    return {k: struct.unpack_from(">I", data, o)[0] for k, o in HEADER.items()}


def set_header(data, **fields):
    data = bytearray(data)
    for k, v in fields.items():
        struct.pack_into(">I", data, HEADER[k], v)
    return bytes(data)


def align4(n):
    return (n + 3) & ~3


def walk(data):
    """Tokens of the structure block: (kind, offset, node, extra), offsets
    relative to off_dt_struct as libfdt counts them."""
    h = header(data)
    base, names, pos, out = h["off_dt_struct"], [], 0, []
    while True:
        tag = struct.unpack_from(">I", data, base + pos)[0]
        if tag == FDT_BEGIN_NODE:
            end = data.index(b"\0", base + pos + 4)
            name = data[base + pos + 4:end].decode()
            out.append(("node", pos, name or "/", base + pos + 4))
            names.append(name or "/")
            pos = align4(end + 1 - base)
        elif tag == FDT_PROP:
            length, nameoff = struct.unpack_from(">II", data, base + pos + 4)
            out.append(("prop", pos, names[-1], (length, nameoff)))
            pos = align4(pos + 12 + length)
        elif tag == FDT_END_NODE:
            out.append(("end_node", pos, names.pop(), None))
            pos += 4
        elif tag == FDT_NOP:
            pos += 4
        else:
            assert tag == FDT_END, f"unexpected token {tag:#x} at {pos}"
            out.append(("end", pos, None, None))
            return out


def props(data):
    """(offset, node, length, nameoff) of every property, in structure order."""
    return [(pos, name, *x) for kind, pos, name, x in walk(data) if kind == "prop"]


def patch_u32(data, at, value):
    data = bytearray(data)
    struct.pack_into(">I", data, at, value)
    return bytes(data)


# Each header/structure defect: fn(data) -> (damaged bytes, message after "PATH': ").
def d_magic(d):
    return set_header(d, magic=0xd00dfeef), \
        "not a devicetree blob: bad magic 0xd00dfeef (expected 0xd00dfeed)"


def d_version_too_new(d):
    return set_header(d, version=18, last_comp_version=18), \
        ("devicetree version 18 needs a reader of version 18 (last_comp_version); only 16 "
         "and 17 are supported")


def d_version_below_last_comp(d):
    return set_header(d, version=16, last_comp_version=17), \
        "devicetree header is invalid: version 16 is lower than last_comp_version 17"


def d_totalsize_huge(d):
    return set_header(d, totalsize=0xffffffff), \
        ("devicetree is truncated: header totalsize is 4294967295 bytes but the file has only "
         f"{len(d)}")


def d_totalsize_tiny(d):
    return set_header(d, totalsize=32), \
        "devicetree header is invalid: totalsize 32 is smaller than the 40-byte version 17 header"


def d_totalsize_cuts_strings(d):
    h = header(d)
    t, o, s = h["off_dt_strings"] + 1, h["off_dt_strings"], h["size_dt_strings"]
    return set_header(d, totalsize=t), \
        (f"devicetree header is invalid: strings block (off_dt_strings {o} + size_dt_strings "
         f"{s} = {o + s}) ends past totalsize {t}")


def d_struct_in_header(d):
    return set_header(d, off_dt_struct=8), \
        "devicetree header is invalid: off_dt_struct 8 points into the 40-byte header"


def d_struct_past_end(d):
    t = header(d)["totalsize"]
    return set_header(d, off_dt_struct=t + 64), \
        f"devicetree header is invalid: off_dt_struct {t + 64} is past totalsize {t}"


def d_struct_size_wraps(d):
    h = header(d)
    o, t = h["off_dt_struct"], h["totalsize"]
    return set_header(d, size_dt_struct=0xfffffff0), \
        (f"devicetree header is invalid: structure block (off_dt_struct {o} + size_dt_struct "
         f"4294967280 = {o + 0xfffffff0}) ends past totalsize {t}")


def d_strings_past_end(d):
    t = header(d)["totalsize"]
    return set_header(d, off_dt_strings=t + 1), \
        f"devicetree header is invalid: off_dt_strings {t + 1} is past totalsize {t}"


def d_strings_size_past_end(d):
    h = header(d)
    o, t = h["off_dt_strings"], h["totalsize"]
    return set_header(d, size_dt_strings=t - o + 1), \
        (f"devicetree header is invalid: strings block (off_dt_strings {o} + size_dt_strings "
         f"{t - o + 1} = {t + 1}) ends past totalsize {t}")


def d_rsvmap_in_header(d):
    return set_header(d, off_mem_rsvmap=4), \
        "devicetree header is invalid: off_mem_rsvmap 4 points into the 40-byte header"


def d_rsvmap_past_end(d):
    t = header(d)["totalsize"]
    return set_header(d, off_mem_rsvmap=t + 8), \
        f"devicetree header is invalid: off_mem_rsvmap {t + 8} is past totalsize {t}"


def d_rsvmap_unterminated(d):
    h = header(d)
    s, t = h["off_dt_strings"], h["totalsize"]
    # The strings block runs to totalsize and holds no 16 zero bytes in a row.
    assert s + h["size_dt_strings"] == t and bytes(16) not in d[s:t]
    return set_header(d, off_mem_rsvmap=s), \
        (f"devicetree is malformed: the memory reservation map at off_mem_rsvmap {s} has no "
         f"terminating entry before totalsize {t}")


def d_struct_no_end(d):
    h = header(d)
    z = h["size_dt_struct"]
    assert walk(d)[-1][:2] == ("end", z - 4)
    return set_header(d, size_dt_struct=z - 4), \
        (f"devicetree is malformed: the structure block ends at offset {z - 4} (size_dt_struct "
         f"{z - 4}) without an FDT_END token")


def d_node_name_cut(d):
    kind, pos, name, at = [t for t in walk(d) if t[0] == "node"][1]   # first node below /
    assert len(name) > 3
    cut = at - header(d)["off_dt_struct"] + 3
    return set_header(d, size_dt_struct=cut), \
        (f"devicetree is malformed: node name at structure offset {pos} is not NUL-terminated "
         f"before the end of the structure block (size_dt_struct {cut})")


def d_name_unterminated(d):
    """size_dt_strings cut by one: the last name loses its NUL; the first
    property (in structure order) named by it is the one reported."""
    h = header(d)
    size = h["size_dt_strings"] - 1
    strings = d[h["off_dt_strings"]:h["off_dt_strings"] + size]
    last = strings.rindex(b"\0") + 1
    pos, node, _, nameoff = [p for p in props(d) if p[3] >= last][0]
    return set_header(d, size_dt_strings=size), \
        (f"devicetree is malformed: node '{node}': property at structure offset {pos}: name at "
         f"strings offset {nameoff} is not NUL-terminated before the end of the strings block "
         f"(size_dt_strings {size})")


def d_nameoff_past_strings(d):
    h = header(d)
    pos, node, _, _ = props(d)[0]
    bad = h["size_dt_strings"] + 100
    return patch_u32(d, h["off_dt_struct"] + pos + 8, bad), \
        (f"devicetree is malformed: node '{node}': property at structure offset {pos}: name "
         f"offset {bad} is past the end of the strings block (size_dt_strings "
         f"{h['size_dt_strings']})")


def d_prop_len_past_struct(d):
    h = header(d)
    pos, node, _, _ = props(d)[0]
    return patch_u32(d, h["off_dt_struct"] + pos + 4, 0xffffff00), \
        (f"devicetree is malformed: node '{node}': property at structure offset {pos}: its "
         f"4294967040-byte value runs past the end of the structure block (size_dt_struct "
         f"{h['size_dt_struct']})")


def d_unknown_token(d):
    h = header(d)
    z = h["size_dt_struct"]
    return patch_u32(d, h["off_dt_struct"] + z - 4, 0xdeadbeef), \
        f"devicetree is malformed: unknown token 0xdeadbeef at structure offset {z - 4}"


def d_end_node_unbalanced(d):
    h = header(d)
    z = h["size_dt_struct"]
    return patch_u32(d, h["off_dt_struct"] + z - 4, FDT_END_NODE), \
        f"devicetree is malformed: FDT_END_NODE at structure offset {z - 4} closes no node"


def d_end_inside_node(d):
    """The root's FDT_END_NODE turned into FDT_END."""
    h = header(d)
    z = h["size_dt_struct"]
    assert walk(d)[-2][:3] == ("end_node", z - 8, "/")
    return patch_u32(d, h["off_dt_struct"] + z - 8, FDT_END), \
        f"devicetree is malformed: FDT_END at structure offset {z - 8} with 1 node still open"


DEFECTS = {f.__name__[2:].replace("_", "-"): f for f in [
    d_magic, d_version_too_new, d_version_below_last_comp, d_totalsize_huge, d_totalsize_tiny,
    d_totalsize_cuts_strings, d_struct_in_header, d_struct_past_end, d_struct_size_wraps,
    d_strings_past_end, d_strings_size_past_end, d_rsvmap_in_header, d_rsvmap_past_end,
    d_rsvmap_unterminated, d_struct_no_end, d_node_name_cut, d_name_unterminated,
    d_nameoff_past_strings, d_prop_len_past_struct, d_unknown_token, d_end_node_unbalanced,
    d_end_inside_node]}


# --------------------------------------------------------------------------
# inputs shared by every row

@pytest.fixture(scope="module")
def base(bootpack, samples, tmp_path_factory, tools):
    d = tmp_path_factory.mktemp("malformed")
    kernel = d / "Image-64k"
    kernel.write_bytes((samples / "Image").read_bytes()[:64 * 1024])
    b = Builder(bootpack, samples, d)
    fw = d / "fw.bin"
    fw.write_bytes(bytes(range(256)) * 4)
    its = d / "mk.its"
    its.write_text(f"""/dts-v1/;
/ {{
	description = "mkimage FIT";
	#address-cells = <1>;
	images {{
		kernel-1 {{
			data = /incbin/("{kernel}");
			type = "kernel"; arch = "arm64"; os = "linux"; compression = "none";
			load = <0x40080000>; entry = <0x40080000>;
			hash-1 {{ algo = "sha256"; }};
		}};
		fdt-1 {{
			data = /incbin/("{samples / 'demo-a.dtb'}");
			type = "flat_dt"; arch = "arm64"; compression = "none";
			hash-1 {{ algo = "sha1"; }};
		}};
		fw-1 {{
			data = /incbin/("{fw}");
			type = "firmware"; arch = "arm64"; os = "u-boot"; compression = "none";
			load = <0x50000000>;
			hash-1 {{ algo = "crc32"; }};
		}};
	}};
	configurations {{
		default = "conf-1";
		conf-1 {{ kernel = "kernel-1"; fdt = "fdt-1"; loadables = "fw-1"; }};
	}};
}};
""")
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    mk = {}
    for tag, flags in [("embedded", []), ("position", ["-E", "-p", "0x2000"])]:
        mk[tag] = d / f"mk-{tag}.fit"
        run(["mkimage", *flags, "-f", its, mk[tag]], env=env)
    dtbs = ("demo-a.dtb", "demo-b.dtb")
    return {
        "dir": d, "kernel": kernel, "mk": mk,
        "none": b("-c", "none", "--hash", "sha256", kernel=kernel, dtbs=dtbs),
        "ext": b("-c", "none", "-E", "--hash", "sha256", kernel=kernel, dtbs=dtbs),
        # type "kernel" with a load address: no kernel_noload warning when compressed
        "load": b("-c", "none", "--hash", "sha256", "--load-address", "0x80000",
                  kernel=kernel, dtbs=dtbs),
    }


@pytest.fixture(scope="module")
def signed_base(base, bootpack, sign_keys):
    """base["none"] signed with dev (RSA-2048), and a control DTB holding dev
    as required for configurations."""
    d = base["dir"]
    fit, ctl = d / "signed.fit", d / "ctl.dtb"
    if not fit.is_file():
        ctl.write_bytes(sign_keys.control().read_bytes())
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
        run([bootpack, "fit", "sign", base["none"], "-o", fit, "--key", sign_keys.rsa(),
             "--key-out", ctl, "--required", "conf"], env=env)
    return {"signed": fit, "ctl": ctl, "keys": sign_keys}


@pytest.fixture
def ctx(base, bootpack, samples, tmp_path, request):
    c = Ctx(base, bootpack, samples, tmp_path)
    c.request = request
    return c


class Ctx:
    def __init__(self, base, bootpack, samples, tmp):
        self.base, self.bootpack, self.samples, self.tmp = base, bootpack, samples, tmp
        self.kernel = base["kernel"]
        self.out = tmp / "out"

    def src(self, which):
        """A base FIT: "none", "ext", "load" (bootpack), "mk-embedded", "mk-position",
        "signed" (signed_base)."""
        if which == "signed":
            return self.signed["signed"]
        return Path(self.base["mk"][which[3:]] if which.startswith("mk-") else self.base[which])

    @property
    def signed(self):
        return self.request.getfixturevalue("signed_base")

    @property
    def keys(self):
        return self.request.getfixturevalue("sign_keys")

    def ctl(self, fn=None):
        """ctl.dtb: a copy of the signed FIT's control DTB, with fn(fdt) applied."""
        path = self.tmp / "ctl.dtb"
        data = self.signed["ctl"].read_bytes()
        if fn:
            fdt = libfdt.Fdt(bytearray(data))
            fdt.resize(len(data) + 4096)
            fn(fdt)
            fdt.pack()
            data = bytes(fdt.as_bytearray())
        path.write_bytes(data)
        return path

    def verify_key(self, fit, ctl):
        return ["fit", "verify", "-q", "--key", ctl, fit]

    def fit(self, which="none", data=None):
        """A private copy of a base FIT (optionally with other bytes) as f.fit."""
        path = self.tmp / "f.fit"
        path.write_bytes(self.src(which).read_bytes() if data is None else data)
        return path

    def edit(self, which, fn, room=64 * 1024):
        """f.fit: a base FIT with fn(fdt) applied (growing by up to @room);
        external data kept in place (data-offset counts from the end of the
        FDT, which may move)."""
        path = self.tmp / "f.fit"
        data = self.src(which).read_bytes()
        total = header(data)["totalsize"]
        fdt = libfdt.Fdt(bytearray(data[:total]))
        fdt.resize(total + room)
        fn(fdt)
        fdt.pack()
        fdt = bytes(fdt.as_bytearray())
        path.write_bytes(fdt + bytes(align4(len(fdt)) - len(fdt)) + data[align4(total):])
        return path

    def extract(self, fit, *args):
        return ["fit", "extract", fit, *args, "-o", self.out]

    def build(self, *args):
        return ["fit", "build", "-o", self.out, *ARCH_ARGS, "-k", self.kernel, *args]


def node(fdt, path):
    return fdt.path_offset(path)


# --------------------------------------------------------------------------
# 1. devicetree header and structure: a FIT to list/verify/extract, a DTB to build

COMMANDS = ["list", "verify", "extract", "build"]


@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize("defect", DEFECTS)
def test_devicetree_defect(bootpack, ctx, defect, cmd):
    if cmd == "build":
        dtb = ctx.tmp / "bad.dtb"
        data, msg = DEFECTS[defect]((ctx.samples / "demo-a.dtb").read_bytes())
        dtb.write_bytes(data)
        e = Expect(ctx.build(dtb), one(dtb, msg), [dtb, ctx.kernel])
    else:
        src = ctx.fit("ext")
        data, msg = DEFECTS[defect](src.read_bytes())
        fit = ctx.fit("ext", data)
        args = {"list": ["fit", "list", fit], "verify": ["fit", "verify", fit],
                "extract": ctx.extract(fit, "kernel")}[cmd]
        e = Expect(args, one(fit, msg), [fit])
    check(bootpack, ctx.tmp, e)


# --------------------------------------------------------------------------
# 2. properties of images and configurations

def setprop_raw(path, name, value):
    def fn(fdt):
        fdt.setprop(node(fdt, path), name, value)
    return fn


def delprop(path, name):
    def fn(fdt):
        fdt.delprop(node(fdt, path), name)
    return fn


def set_u32_in_place(fit, path, name, value):
    """Patch a 4-byte property without moving anything."""
    at, n = Raw(fit).value_offset(path, name)
    assert n == 4
    data = bytearray(fit.read_bytes())
    struct.pack_into(">I", data, at, value)
    fit.write_bytes(bytes(data))


ROWS = {}                            # name -> fn(ctx) -> Expect; run by test_malformed_row


def row(fn):
    ROWS[fn.__name__[4:].replace("_", "-")] = fn
    return fn


@row
def row_compression_unterminated_verify(c):
    fit = c.edit("load", setprop_raw("/images/kernel", "compression", b"none"))
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "kernel: property 'compression' is not a NUL-terminated string"), [fit])


@row
def row_compression_unterminated_extract(c):
    # Once read as absent: the gzip bytes were written out as if uncompressed.
    fit = c.edit("load", setprop_raw("/images/kernel", "compression", b"gzip"))
    return Expect(c.extract(fit, "kernel"), one(
        fit, "image 'kernel': property 'compression' is not a NUL-terminated string"), [fit])


@row
def row_type_unterminated_verify(c):
    fit = c.edit("none", setprop_raw("/images/fdt-1", "type", b"flat_dt"))
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "fdt-1: property 'type' is not a NUL-terminated string"), [fit])


@row
def row_type_unterminated_extract(c):
    fit = c.edit("none", setprop_raw("/images/fdt-1", "type", b"flat_dt"))
    return Expect(c.extract(fit, "fdt-1"), one(
        fit, "image 'fdt-1': property 'type' is not a NUL-terminated string"), [fit])


@row
def row_type_and_description_unterminated(c):
    """The first problem is the node's; a second malformed string is still named."""
    def fn(fdt):
        setprop_raw("/images/fdt-2", "description", b"demo-b.dtb")(fdt)
        setprop_raw("/images/fdt-2", "type", b"flat_dt")(fdt)
    fit = c.edit("none", fn)
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "fdt-2: property 'description' is not a NUL-terminated string",
        "fdt-2: property 'type' is not a NUL-terminated string"), [fit])


@row
def row_image_description_empty(c):
    fit = c.edit("none", setprop_raw("/images/kernel", "description", b""))
    return Expect(c.extract(fit, "kernel"), one(
        fit, "image 'kernel': property 'description' is not a NUL-terminated string"), [fit])


@row
def row_root_description_unterminated(c):
    fit = c.edit("none", setprop_raw("/", "description", b"no terminator"))
    return Expect(["fit", "list", fit], one(
        fit, "root property 'description' is not a NUL-terminated string"), [fit])


@row
def row_root_timestamp_wrong_length(c):
    fit = c.edit("none", setprop_raw("/", "timestamp", bytes(8)))
    return Expect(["fit", "list", "--json", fit], one(
        fit, "root property 'timestamp' is 8 bytes, not one 32-bit cell"), [fit],
        stdout=b"[\n]\n")


@row
def row_config_description_unterminated(c):
    fit = c.edit("none", setprop_raw("/configurations/conf-2", "description", b"Board B"))
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "conf-2: property 'description' is not a NUL-terminated string"), [fit])


@row
def row_config_kernel_unterminated_extract(c):
    fit = c.edit("none", setprop_raw("/configurations/conf-1", "kernel", b"kernel"))
    return Expect(c.extract(fit, "--config", "conf-1", "--kind", "kernel"), one(
        fit, "configuration 'conf-1': property 'kernel' is not a NUL-terminated image name"),
        [fit])


@row
def row_load_wrong_length(c):
    fit = c.edit("load", setprop_raw("/images/kernel", "load", bytes(3)))
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "kernel: property 'load' is 3 bytes, not one or two 32-bit cells",
        "kernel: type 'kernel' needs a 'load' address (U-Boot cannot place it)"), [fit])


@row
def row_hash_algo_unterminated(c):
    fit = c.edit("none", setprop_raw("/images/fdt-1/hash-1", "algo", b"sha256"))
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "fdt-1: hash-1: property 'algo' is not a NUL-terminated string"), [fit])


@row
def row_hash_value_31_bytes_extract(c):
    fit = c.edit("none", setprop_raw("/images/kernel/hash-1", "value", bytes(31)))
    return Expect(c.extract(fit, "kernel"), one(
        fit, "image 'kernel': hash-1: sha256 value is 31 bytes; expected 32"), [fit])


@row
def row_hash_value_5_bytes_crc32_mkimage(c):
    fit = c.edit("mk-embedded", setprop_raw("/images/fw-1/hash-1", "value", bytes(5)))
    return Expect(c.extract(fit, "fw-1"), one(
        fit, "image 'fw-1': hash-1: crc32 value is 5 bytes; expected 4"), [fit])


@row
def row_hash_unknown_algo_extract(c):
    fit = c.edit("mk-embedded", lambda f: f.setprop_str(node(f, "/images/fdt-1/hash-1"),
                                                       "algo", "sha3-256"))
    return Expect(c.extract(fit, "fdt-1"), one(
        fit, "image 'fdt-1': hash-1: unknown hash algorithm 'sha3-256'; cannot check the "
             "data"), [fit])


@row
def row_hash_no_value_extract(c):
    fit = c.edit("none", delprop("/images/fdt-2/hash-1", "value"))
    return Expect(c.extract(fit, "fdt-2"), one(
        fit, "image 'fdt-2': hash-1: no 'value' property; cannot check the data"), [fit])


@row
def row_config_names_missing_kernel(c):
    fit = c.edit("none", lambda f: f.setprop_str(node(f, "/configurations/conf-1"), "kernel",
                                                 "kernel-9"))
    return Expect(c.extract(fit, "--config", "conf-1", "--kind", "kernel"), one(
        fit, "configuration 'conf-1': kernel 'kernel-9' is not an image in /images"), [fit])


@row
def row_config_names_missing_fdt(c):
    fit = c.edit("none", lambda f: f.setprop_str(node(f, "/configurations/conf-2"), "fdt",
                                                 "fdt-7"))
    return Expect(c.extract(fit, "--config", "conf-2", "--kind", "fdt"), one(
        fit, "configuration 'conf-2': fdt 'fdt-7' is not an image in /images"), [fit])


@row
def row_config_names_missing_ramdisk(c):
    fit = c.edit("none", lambda f: f.setprop_str(node(f, "/configurations/conf-1"), "ramdisk",
                                                 "initrd"))
    return Expect(c.extract(fit, "--config", "conf-1", "--kind", "ramdisk"), one(
        fit, "configuration 'conf-1': ramdisk 'initrd' is not an image in /images"), [fit])


@row
def row_config_names_missing_loadable(c):
    fit = c.edit("mk-embedded", lambda f: f.setprop_str(node(f, "/configurations/conf-1"),
                                                        "loadables", "fw-2"))
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "conf-1: loadables 'fw-2' is not an image in /images"), [fit])


@row
def row_image_without_data_verify(c):
    fit = c.edit("none", delprop("/images/fdt-2", "data"))
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "fdt-2: no 'data', 'data-offset' or 'data-position' property"), [fit])


@row
def row_image_without_data_extract(c):
    fit = c.edit("mk-embedded", delprop("/images/kernel-1", "data"))
    return Expect(c.extract(fit, "kernel-1"), one(
        fit, "image 'kernel-1': no 'data', 'data-offset' or 'data-position' property"), [fit])


@row
def row_data_offset_wrong_length(c):
    fit = c.edit("ext", setprop_raw("/images/fdt-1", "data-offset", bytes(8)))
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "fdt-1: property 'data-offset' is 8 bytes, not one 32-bit cell"), [fit])


@row
def row_data_size_wrong_length(c):
    fit = c.edit("ext", setprop_raw("/images/kernel", "data-size", bytes(2)))
    return Expect(c.extract(fit, "kernel"), one(
        fit, "image 'kernel': property 'data-size' is 2 bytes, not one 32-bit cell"), [fit])


@row
def row_data_offset_past_eof(c):
    fit = c.fit("ext")
    set_u32_in_place(fit, "/images/fdt-2", "data-offset", 0xfffffffc)
    n = fit.stat().st_size
    start = align4(header(fit.read_bytes())["totalsize"]) + 0xfffffffc
    size = Raw(fit).prop("/images/fdt-2", "data-size")
    size = int.from_bytes(size, "big")
    msg = (f"external data ({size} bytes at file offset {start}, from 'data-offset' 4294967292) "
           f"extends past the end of the file ({n} bytes)")
    return Expect(c.extract(fit, "fdt-2"), one(fit, f"image 'fdt-2': {msg}"), [fit])


@row
def row_data_position_and_size_wrap_32_bits(c):
    fit = c.fit("mk-position")
    set_u32_in_place(fit, "/images/fw-1", "data-position", 0xffffffff)
    set_u32_in_place(fit, "/images/fw-1", "data-size", 0xffffffff)
    n = fit.stat().st_size
    return Expect(["fit", "verify", "-q", fit], failed(
        fit, "fw-1: external data (4294967295 bytes at file offset 4294967295, from "
             f"'data-position' 4294967295) extends past the end of the file ({n} bytes)"), [fit])


@row
def row_data_size_one_past_eof(c):
    """The last image one byte longer than the file: the bound is exact."""
    fit = c.fit("mk-position")
    r = Raw(fit)
    start, size = r.extent("fw-1")
    n = fit.stat().st_size
    set_u32_in_place(fit, "/images/fw-1", "data-size", n - start + 1)
    return Expect(c.extract(fit, "fw-1"), one(
        fit, f"image 'fw-1': external data ({n - start + 1} bytes at file offset {start}, from "
             f"'data-position' {start}) extends past the end of the file ({n} bytes)"), [fit])


# --------------------------------------------------------------------------
# 3. compressed images: bombs, sizes that lie, truncated streams.
# The image's hash values are recomputed over the damaged stream, so plain
# verify passes and only decompressing finds the fault.

def xxh32(data, seed=0):
    """XXH32 for the few bytes of an lz4 frame descriptor (its header checksum)."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    mask = 0xffffffff

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & mask
    assert len(data) < 16
    h, i = (seed + p5 + len(data)) & mask, 0
    while i + 4 <= len(data):
        h = rotl((h + struct.unpack_from("<I", data, i)[0] * p3) & mask, 17) * p4 & mask
        i += 4
    for b in data[i:]:
        h = rotl((h + b * p5) & mask, 11) * p1 & mask
    h ^= h >> 15
    h = h * p2 & mask
    h ^= h >> 13
    h = h * p3 & mask
    return h ^ (h >> 16)


def lz4_with_content_size(frame, size):
    """Rewrite the content size of an lz4 frame that has one (FLG bit 3)."""
    assert frame[:4] == b"\x04\x22\x4d\x18" and frame[4] & 0x08 and not frame[4] & 0x01
    desc = frame[4:6] + struct.pack("<Q", size)
    assert (xxh32(frame[4:14]) >> 8) & 0xff == frame[14], "xxh32 does not reproduce lz4's HC"
    return frame[:4] + desc + bytes([(xxh32(desc) >> 8) & 0xff]) + frame[15:]


def zstd_with_content_size(frame, size):
    """Rebuild a zstd frame header with a 4- or 8-byte Frame_Content_Size."""
    assert frame[:4] == b"\x28\xb5\x2f\xfd"
    fhd = frame[4]
    fcs_len = [1 if fhd & 0x20 else 0, 2, 4, 8][fhd >> 6]
    keep = (0 if fhd & 0x20 else 1) + [0, 1, 2, 4][fhd & 3]     # window descriptor, dict ID
    rest = frame[5 + keep + fcs_len:]
    flag, fmt = (2, "<I") if size < 1 << 32 else (3, "<Q")
    return frame[:4] + bytes([(fhd & 0x3f) | flag << 6]) + frame[5:5 + keep] + \
        struct.pack(fmt, size) + rest


def zstd_rle_frame(size, block=128 << 10):
    """A zstd frame of @size zero bytes in RLE blocks, no content size."""
    out = bytearray(b"\x28\xb5\x2f\xfd\x00\x38")       # FHD 0, window 2^17
    while size:
        n = min(size, block)
        size -= n
        out += struct.pack("<I", (n << 3) | (1 << 1) | (0 if size else 1))[:3] + b"\0"
    return bytes(out)


def lzop_first_block(stream):
    """File offset of the first block header of an lzop stream (no filter or extra field)."""
    flags = struct.unpack_from(">I", stream, 16)[0]
    assert not flags & (0x800 | 0x40)
    return 9 + 2 + 2 + 2 + 1 + 1 + 4 + 4 + 4 + 4 + 1 + stream[33] + 4


ZEROS = 32 * MiB                   # what every bomb expands to


@pytest.fixture(scope="module")
def streams(base):
    """Compressed forms of the 64 KiB kernel (from tools other than bootpack)
    and of 64 MiB of zeros."""
    kernel = base["kernel"]
    k = kernel.read_bytes()
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)
    s = {"gzip": gz.compress(k) + gz.flush(),
         "bzip2": bz2.compress(k),
         "lzma": lzma.compress(k, format=lzma.FORMAT_ALONE),
         # from a file, so lz4 and zstd know the size and put it in the frame header
         "lz4": run(["lz4", "-q", "-c", "--content-size", kernel]).stdout,
         "lzo": run(["lzop", "-q", "-c", kernel]).stdout,
         "zstd": run(["zstd", "-q", "-c", kernel]).stdout}
    zeros = bytes(MiB)
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)
    bz = bz2.BZ2Compressor(1)
    xz = lzma.LZMACompressor(format=lzma.FORMAT_ALONE, preset=0)
    n = ZEROS // MiB
    bombs = {"gzip": b"".join(gz.compress(zeros) for _ in range(n)) + gz.flush(),
             "bzip2": b"".join(bz.compress(zeros) for _ in range(n)) + bz.flush(),
             "lzma": b"".join(xz.compress(zeros) for _ in range(n)) + xz.flush(),
             "zstd": zstd_rle_frame(ZEROS)}
    big = base["dir"] / "zeros"
    big.write_bytes(bytes(ZEROS))
    bombs["lz4"] = run(["lz4", "-q", "-c", big]).stdout
    bombs["lzo"] = run(["lzop", "-q", "-c", big]).stdout
    big.unlink()
    for comp, data in bombs.items():
        assert len(data) < ZEROS // 128, (comp, len(data))     # a bomb: 128:1 or more
    return {"kernel": s, "bomb": bombs}


@pytest.fixture(scope="module")
def rss_baseline(bootpack, base):
    """Peak RSS of a run that holds next to nothing (ASan or valgrind included)."""
    proc = run_bootpack(bootpack, ["fit", "verify", "-q", base["none"]], base["dir"], True)
    assert proc.returncode == 0, proc.stderr
    return proc.max_rss


def with_stream(c, comp, data):
    """f.fit: the "load" FIT with the kernel's data replaced, hashes recomputed."""
    def fn(fdt):
        kern = node(fdt, "/images/kernel")
        fdt.setprop(kern, "data", data)
        fdt.setprop_str(kern, "compression", comp)
        recompute_hashes(fdt, "/images/kernel", data)
    return c.edit("load", fn, room=len(data) + 4096)


def decompress_rows(c, comp, data, msg, max_size=None):
    """The same damaged stream for fit verify --decompress and fit extract."""
    fit = with_stream(c, comp, data)
    limit = ["--max-size", str(max_size)] if max_size else []
    return [
        Expect(["fit", "verify", "-q", "--decompress", *limit, fit],
               failed(fit, f"kernel: cannot decompress {comp} data: {msg}"), [fit]),
        Expect(c.extract(fit, "kernel", *limit),
               one(fit, f"image 'kernel': cannot decompress {comp} data: {msg}"), [fit]),
    ]


CODECS = ["gzip", "bzip2", "lz4", "lzma", "lzo", "zstd"]
TRUNCATED = {"gzip": "gzip data is truncated", "bzip2": "bzip2 data is truncated",
             "lz4": "lz4 data is truncated", "lzma": "lzma data is truncated",
             "lzo": "lzop data is truncated in block 0", "zstd": "zstd data is truncated"}


@pytest.mark.parametrize("comp", CODECS)
def test_decompression_bomb(bootpack, ctx, streams, rss_baseline, comp):
    """32 MiB of zeros, refused at a 1 MiB limit without ever holding them:
    peak memory stays within half the expansion of an idle run's (lz4's
    decoder alone takes 8 MiB for its 4 MiB blocks)."""
    rows = decompress_rows(ctx, comp, streams["bomb"][comp],
                           f"decompressed size exceeds limit of {LIMIT} bytes", LIMIT)
    for e in rows:
        check(bootpack, ctx.tmp, e._replace(max_rss=rss_baseline + ZEROS // 2))


def test_bomb_without_limit(bootpack, ctx, streams, rss_baseline):
    """The same kind of stream decodes in full without --max-size: the limit,
    not a fault, stops the bombs above, and the RSS probe sees decoded bytes."""
    fit = with_stream(ctx, "zstd", streams["bomb"]["zstd"])
    proc = run_bootpack(bootpack, ["fit", "verify", "-q", "--decompress", fit], ctx.tmp, True)
    assert (proc.returncode, proc.stderr) == (1, f"bootpack: '{fit}': kernel: data is not an "
            "arm64 Linux Image (no \"ARM\\x64\" magic at offset 0x38): U-Boot stops with \"Bad "
            f"Linux ARM64 Image magic!\"\nbootpack: '{fit}': FAILED: 1 problem found\n".encode())
    assert proc.max_rss > rss_baseline + ZEROS, (proc.max_rss >> 20, rss_baseline >> 20)


@pytest.mark.parametrize("comp", CODECS)
def test_truncated_stream(bootpack, ctx, streams, comp):
    data = streams["kernel"][comp]
    for e in decompress_rows(ctx, comp, data[:len(data) // 2], TRUNCATED[comp]):
        check(bootpack, ctx.tmp, e)


K = 64 * 1024                      # the kernel's real size


@pytest.mark.parametrize("declared", [K + 1000, K - 1000])
def test_gzip_isize_lies(bootpack, ctx, streams, declared):
    data = streams["kernel"]["gzip"]
    assert struct.unpack("<I", data[-4:])[0] == K
    bad = data[:-4] + struct.pack("<I", declared)
    for e in decompress_rows(ctx, "gzip", bad, f"gzip trailer ISIZE is {declared} but the "
                                               f"member decompresses to {K} bytes"):
        check(bootpack, ctx.tmp, e)


@pytest.mark.parametrize("declared", [K + 1000, K - 1000])
def test_lz4_content_size_lies(bootpack, ctx, streams, declared):
    bad = lz4_with_content_size(streams["kernel"]["lz4"], declared)
    msg = f"lz4 frame 1 declares a content size of {declared} bytes but decodes to {K}"
    for e in decompress_rows(ctx, "lz4", bad, msg):
        check(bootpack, ctx.tmp, e)


@pytest.mark.parametrize("declared", [K + 1000, K - 1000])
def test_zstd_content_size_lies(bootpack, ctx, streams, declared):
    bad = zstd_with_content_size(streams["kernel"]["zstd"], declared)
    msg = f"zstd frame 1 declares a content size of {declared} bytes but decodes to {K}"
    for e in decompress_rows(ctx, "zstd", bad, msg):
        check(bootpack, ctx.tmp, e)


def test_zstd_content_size_beyond_limit(bootpack, ctx, streams):
    """A 25 KiB frame claiming 1 TiB: refused from the header, before the
    decoder sizes its window by the claim."""
    bad = zstd_with_content_size(streams["kernel"]["zstd"], 1 << 40)
    msg = ("zstd frame 1 declares 1099511627776 bytes of content, more than the limit of "
           f"{1 << 30} bytes")
    for e in decompress_rows(ctx, "zstd", bad, msg):
        check(bootpack, ctx.tmp, e)


@pytest.mark.parametrize("declared", [K + 1000, K - 1000])
def test_lzma_header_size_lies(bootpack, ctx, streams, declared):
    data = streams["kernel"]["lzma"]
    assert data[5:13] == b"\xff" * 8            # "unknown", with an end marker
    bad = data[:5] + struct.pack("<Q", declared) + data[13:]
    msg = f"lzma header declares an uncompressed size of {declared} bytes but decodes to {K}"
    for e in decompress_rows(ctx, "lzma", bad, msg):
        check(bootpack, ctx.tmp, e)


@pytest.mark.parametrize("declared", [K + 1000, K - 1000])
def test_lzop_block_size_lies(bootpack, ctx, streams, declared):
    data = bytearray(streams["kernel"]["lzo"])
    at = lzop_first_block(data)
    dlen, slen = struct.unpack_from(">II", data, at)
    assert dlen == K and slen < K - 1000
    struct.pack_into(">I", data, at, declared)
    msg = (f"lzop block 0: the block header declares {declared} bytes but the LZO data "
           f"decodes to {'more' if declared < K else K}")
    for e in decompress_rows(ctx, "lzo", bytes(data), msg):
        check(bootpack, ctx.tmp, e)


# --------------------------------------------------------------------------
# 4. @argument files for fit build

def argfile(path, text):
    path.write_text(text)
    return path


@row
def row_argfile_includes_itself(c):
    a = argfile(c.tmp / "a", "")
    argfile(a, f"{c.samples / 'demo-a.dtb'} @{a}\n")
    return Expect(c.build(f"@{a}"), one(a, "argument file includes itself"), [a])


@row
def row_argfile_includes_itself_by_another_name(c):
    a = argfile(c.tmp / "a", f"-E @{c.tmp}/./a\n")
    return Expect(c.build(f"@{a}"), one(a, f"argument file includes itself (as '{c.tmp}/./a')"),
                  [a])


@row
def row_argfiles_include_each_other(c):
    a, b = c.tmp / "a", c.tmp / "b"
    argfile(a, f"-c gzip @{b}\n")
    argfile(b, f"{c.samples / 'demo-b.dtb'}\n@{a}\n")
    return Expect(c.build(f"@{a}"), one(b, f"argument files include each other: {a} -> {b} -> "
                                           f"{a}"), [a, b])


@row
def row_argfile_loop_through_relative_name(c):
    """The loop is found by identity: the files name each other by other paths."""
    d = c.tmp / "d"
    d.mkdir()
    a, b, x = d / "a", c.tmp / "b", c.tmp / "x"
    argfile(a, "@b\n")                       # relative to bootpack's working directory
    argfile(b, "@x\n")
    argfile(x, "@./d/../d/a\n")
    return Expect(c.build("@d/a"), one("x", "argument files include each other: "
                                            "d/a -> b -> x -> ./d/../d/a"), [a, b, x])


@row
def row_argfile_missing(c):
    gone = c.tmp / "dtbs-list"
    return Expect(c.build(f"@{gone}"), one(gone, "cannot open argument file: No such file or "
                                                 "directory"), [])


@row
def row_argfile_names_missing_argfile(c):
    a = argfile(c.tmp / "a", f"{c.samples / 'demo-a.dtb'}\n@{c.tmp / 'more'}\n")
    return Expect(c.build(f"@{a}"), one(c.tmp / "more", f"cannot open argument file (named in "
                                                        f"'{a}'): No such file or directory"),
                  [a])


@row
def row_argfile_names_bad_dtb(c):
    """A DTB reached through an argument file is reported by its own path."""
    dtb = c.tmp / "x y.dtb"
    data, msg = d_struct_no_end((c.samples / "demo-c.dtb").read_bytes())
    dtb.write_bytes(data)
    a = argfile(c.tmp / "a", f"'{dtb}'\n")
    return Expect(c.build(f"@{a}"), one(dtb, msg), [a, dtb])


@row
def row_root_without_compatible(c):
    def fn(fdt):
        fdt.delprop(0, "compatible")
    dtb = c.tmp / "nocompat.dtb"
    f = libfdt.Fdt(bytearray((c.samples / "demo-b.dtb").read_bytes()))
    fn(f)
    f.pack()
    dtb.write_bytes(bytes(f.as_bytearray()))
    a = argfile(c.tmp / "list", f"{c.samples / 'demo-a.dtb'}\n{dtb}\n")
    return Expect(c.build(f"@{a}"), one(dtb, "devicetree root has no 'compatible' property, so "
                                             "no bootloader could select its configuration"),
                  [a, dtb])


def root_compatible_row(c, name, value, msg):
    dtb = c.tmp / name
    f = libfdt.Fdt(bytearray((c.samples / "demo-b.dtb").read_bytes()))
    f.setprop(0, "compatible", value)
    f.pack()
    dtb.write_bytes(bytes(f.as_bytearray()))
    return Expect(c.build(dtb), one(dtb, msg), [dtb])


@row
def row_root_compatible_unterminated(c):
    return root_compatible_row(c, "unterminated.dtb", b"vendor,board",
                               "devicetree root 'compatible' (12 bytes) is not a list of "
                               "non-empty NUL-terminated strings")


@row
def row_root_compatible_empty(c):
    return root_compatible_row(c, "empty.dtb", b"",
                               "devicetree root 'compatible' (0 bytes) is not a list of "
                               "non-empty NUL-terminated strings")


@row
def row_root_compatible_empty_string(c):
    return root_compatible_row(c, "hole.dtb", b"vendor,board\0\0vendor,soc\0",
                               "devicetree root 'compatible' (25 bytes) is not a list of "
                               "non-empty NUL-terminated strings")


# --------------------------------------------------------------------------
# 5. fit verify's full report: passing checks on stdout, failures on stderr

@row
def row_verify_report_around_bad_algo(c):
    fit = c.edit("none", setprop_raw("/images/fdt-1/hash-1", "algo", b"sha256"))
    r = Raw(fit)
    kernel = hashlib.sha256(r.stored("kernel")).hexdigest()
    fdt2 = hashlib.sha256(r.stored("fdt-2")).hexdigest()
    stdout = (f"kernel: hash-1: sha256 {kernel}\n"
              "kernel: data is an arm64 Linux Image\n"
              "fdt-1: data is a well-formed devicetree\n"
              f"fdt-2: hash-1: sha256 {fdt2}\n"
              "fdt-2: data is a well-formed devicetree\n"
              "conf-1: references resolve\n"
              "conf-2: references resolve\n")
    return Expect(["fit", "verify", fit], failed(
        fit, "fdt-1: hash-1: property 'algo' is not a NUL-terminated string"), [fit],
        stdout=stdout.encode())


# --------------------------------------------------------------------------
# 6. signatures and keys (issue 15, point 7): signature nodes in the FIT,
# key nodes in the control DTB, key files and URIs given to fit sign / key add

SIG = "/configurations/conf-1/signature-1"
KEY = "/signature/key-dev"


def sig_failed(c, fit, ctl, msg):
    return Expect(c.verify_key(fit, ctl), failed(fit, msg), [fit, ctl])


@row
def row_sig_algo_unknown(c):
    fit = c.edit("signed", lambda f: f.setprop_str(node(f, SIG), "algo", "sha256,rsa1024"))
    return sig_failed(c, fit, c.ctl(), "conf-1: signature-1: unknown signature algorithm "
                      "'sha256,rsa1024' (expected sha1|sha256|sha384|sha512 , "
                      "rsa2048|rsa3072|rsa4096|ecdsa256|ecdsa384)")


@row
def row_sig_algo_unterminated(c):
    fit = c.edit("signed", setprop_raw(SIG, "algo", b"sha256,rsa2048"))
    return sig_failed(c, fit, c.ctl(), "conf-1: signature-1: TBD")


@row
def row_sig_value_wrong_length(c):
    fit = c.edit("signed", setprop_raw(SIG, "value", bytes(255)))
    return sig_failed(c, fit, c.ctl(), "conf-1: signature-1: TBD")


@row
def row_sig_value_missing(c):
    fit = c.edit("signed", delprop(SIG, "value"))
    return sig_failed(c, fit, c.ctl(), "conf-1: signature-1: TBD")


@row
def row_sig_hashed_nodes_missing_path(c):
    nodes = b"/\0/configurations/conf-1\0/images/fdt-1\0/images/fdt-1/hash-1\0" \
            b"/images/kernel\0/images/kernel/hash-1\0/images/nothere\0"
    fit = c.edit("signed", setprop_raw(SIG, "hashed-nodes", nodes))
    return sig_failed(c, fit, c.ctl(), "conf-1: signature-1: TBD")


@row
def row_sig_hashed_nodes_duplicate_path(c):
    nodes = b"/\0/configurations/conf-1\0/images/fdt-1\0/images/fdt-1/hash-1\0" \
            b"/images/kernel\0/images/kernel\0/images/kernel/hash-1\0"
    fit = c.edit("signed", setprop_raw(SIG, "hashed-nodes", nodes))
    return sig_failed(c, fit, c.ctl(), "conf-1: signature-1: TBD")


@row
def row_sig_hashed_strings_past_block(c):
    fit = c.edit("signed", setprop_raw(SIG, "hashed-strings", struct.pack(">II", 0, 1 << 20)))
    return sig_failed(c, fit, c.ctl(), "conf-1: signature-1: TBD")


@row
def row_sig_hashed_strings_wrong_length(c):
    fit = c.edit("signed", setprop_raw(SIG, "hashed-strings", bytes(4)))
    return sig_failed(c, fit, c.ctl(), "conf-1: signature-1: TBD")


def key_row(c, fn, msg):
    fit = c.fit("signed")
    ctl = c.ctl(fn)
    return Expect(c.verify_key(fit, ctl), one(ctl, msg), [fit, ctl])


@row
def row_key_algo_unknown(c):
    return key_row(c, lambda f: f.setprop_str(node(f, KEY), "algo", "sha256,dsa2048"), "TBD")


@row
def row_key_required_without_algo(c):
    return key_row(c, delprop(KEY, "algo"), "TBD")


@row
def row_key_num_bits_absurd(c):
    return key_row(c, setprop_raw(KEY, "rsa,num-bits", struct.pack(">I", 0xffffffff)),
                   "key node 'key-dev': rsa,num-bits is 4294967295, expected 2048, 3072 or 4096")


@row
def row_key_num_bits_disagrees(c):
    return key_row(c, setprop_raw(KEY, "rsa,num-bits", struct.pack(">I", 4096)),
                   "key node 'key-dev': algo 'sha256,rsa2048' does not match rsa,num-bits 4096")


@row
def row_key_modulus_wrong_length(c):
    return key_row(c, setprop_raw(KEY, "rsa,modulus", bytes(255)),
                   "key node 'key-dev': 'rsa,modulus' is 255 bytes, expected 256")


@row
def row_key_modulus_even(c):
    def fn(f):
        mod = bytearray(f.getprop(node(f, KEY), "rsa,modulus"))
        mod[-1] &= 0xfe
        f.setprop(node(f, KEY), "rsa,modulus", bytes(mod))
    return key_row(c, fn, "key node 'key-dev': rsa,modulus is even")


@row
def row_key_exponent_zero(c):
    return key_row(c, setprop_raw(KEY, "rsa,exponent", bytes(8)),
                   "key node 'key-dev': rsa,exponent 0 is not an odd number above 1")


@row
def row_key_exponent_even(c):
    return key_row(c, setprop_raw(KEY, "rsa,exponent", struct.pack(">Q", 65536)),
                   "key node 'key-dev': rsa,exponent (even) is not an odd number above 1")


@row
def row_key_n0_inverse_wrong(c):
    return key_row(c, setprop_raw(KEY, "rsa,n0-inverse", struct.pack(">I", 1)),
                   "key node 'key-dev': rsa,n0-inverse does not match rsa,modulus")


@row
def row_key_r_squared_wrong(c):
    return key_row(c, setprop_raw(KEY, "rsa,r-squared", bytes(255) + b"\1"),
                   "key node 'key-dev': rsa,r-squared does not match rsa,modulus")


def sign_row(c, key, msg, *extra):
    """fit sign with a bad key: one line, exit 1, no output."""
    fit = c.fit("none")
    return Expect(["fit", "sign", fit, "-o", c.out, "--key", key, *extra], [msg],
                  [fit] + ([key] if isinstance(key, Path) else []))


@row
def row_sign_key_is_certificate(c):
    crt = c.keys.crt()
    return sign_row(c, crt, f"bootpack: '{crt}': a certificate, not a private key: signing "
                            "needs the private key")


@row
def row_sign_key_is_garbage(c):
    key = c.tmp / "garbage.key"
    key.write_bytes(b"\x00\xffnot a key at all\n" * 20)
    return sign_row(c, key, f"bootpack: '{key}': not a PEM private key (expected an RSA or EC "
                            "private key or a pkcs11: URI)")


@row
def row_sign_key_public_only(c):
    pub = c.keys.pub()
    return sign_row(c, pub, f"bootpack: '{pub}': a public key, not a private key: signing needs "
                            "the private key")


@row
def row_sign_pkcs11_uri_unresolved(c):
    uri = "pkcs11:token=bootpack-no-such-token;object=dev;type=private"
    return sign_row(c, uri, f"bootpack: '{uri}': no private key found in a token for this URI "
                            "(token, object, id or PIN wrong?): failed loading private key",
                    "--pin", "1234")


@row
def row_key_add_garbage(c):
    ctl = c.keys.control()
    key = c.tmp / "garbage.crt"
    key.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    return Expect(["fit", "key", "add", ctl, "--key", key, "-o", c.out],
                  one(key, "no PEM key or certificate found (expected an RSA or EC private "
                           "key, public key or X.509 certificate)"), [ctl, key])


# --------------------------------------------------------------------------
# every @row above

@pytest.mark.parametrize("name", list(ROWS))
def test_malformed_row(bootpack, ctx, name):
    check(bootpack, ctx.tmp, ROWS[name](ctx))
