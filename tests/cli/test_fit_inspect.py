# SPDX-License-Identifier: MIT
"""bootpack fit list / extract / verify, and the fit build options that feed
them (--hash, --default-config, --load-address, --entry-address).

Every expected value comes from somewhere other than bootpack: Python libfdt
reading the same file, the byte offsets worked out from the FDT header,
hashlib/zlib over the stored bytes, U-Boot's dumpimage/mkimage, dtc/fdtget,
and the command-line decompressors. FITs are made by bootpack itself and by
mkimage from hand-written .its sources, then damaged with libfdt or by
patching bytes at offsets located independently.
"""

import binascii
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import libfdt
import pytest

from conftest import COMPRESSIONS, MODES, run
from fitcompare import Fit, FitMismatch, align, compare_fits

ARCH = ["-A", "arm64", "-O", "linux", "-n", "Linux-inspect"]
ALL_HASHES = ["crc32", "md5", "sha1", "sha256", "sha384", "sha512"]
EPOCH = "1700000000"

UBOOT_TYPE = {
    "kernel": "Kernel Image",
    "kernel_noload": "Kernel Image (no loading done)",
    "flat_dt": "Flat Device Tree",
    "ramdisk": "RAMDisk Image",
    "firmware": "Firmware",
}
UBOOT_COMPRESSION = {
    "none": "uncompressed", "gzip": "gzip compressed", "bzip2": "bzip2 compressed",
    "lz4": "lz4 compressed", "lzma": "lzma compressed", "lzo": "lzo compressed",
    "zstd": "zstd compressed",
}
CLI_DECOMPRESS = {
    "gzip": ["gzip", "-dc"], "bzip2": ["bzip2", "-dc"], "lz4": ["lz4", "-dc"],
    "lzma": ["xz", "--format=lzma", "-dc"], "lzo": ["lzop", "-dc"], "zstd": ["zstd", "-dc"],
}
# The CLI compressors at their strongest settings: streams bootpack did not write.
CLI_COMPRESS = {
    "gzip": ["gzip", "-9", "-n", "-c"], "bzip2": ["bzip2", "-9", "-c"],
    "lz4": ["lz4", "-9", "-c"], "lzma": ["xz", "--format=lzma", "-9", "-c"],
    "lzo": ["lzop", "-9", "-c"], "zstd": ["zstd", "-19", "-q", "-c"],
}
FDT_PROP_HEADER = 12   # FDT_PROP tag, len, nameoff: the value follows


# --------------------------------------------------------------------------
# helpers

def bp(bootpack, *args, cwd=None, env=None):
    """Run bootpack (conftest's guard checks that its inputs are unchanged)."""
    args = [a if isinstance(a, bytes) else str(a) for a in args]
    return subprocess.run([str(bootpack), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd=cwd, env=env, check=False, timeout=300)


def ok(proc):
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def err_lines(proc):
    return proc.stderr.decode(errors="replace").splitlines()


def assert_one_error(proc, line, status=1):
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == status, (proc.returncode, err)
    assert err == line + "\n", err


def assert_usage(proc, cmd, msg):
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.decode() == (f"bootpack {cmd}: {msg}\n"
                                    f"Try 'bootpack {cmd} --help' for more information.\n")
    assert proc.stdout == b""


def assert_dir(directory, names):
    got = sorted(p.name for p in Path(directory).iterdir())
    assert got == sorted(names), f"directory holds {got}, expected {sorted(names)}"


def digest(algo, data):
    if algo == "crc32":
        return zlib.crc32(data).to_bytes(4, "big")    # U-Boot stores it big-endian
    return hashlib.new(algo, data).digest()


def cli_decompress(data, comp):
    if comp == "none":
        return bytes(data)
    proc = subprocess.run(CLI_DECOMPRESS[comp], input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 0, f"{CLI_DECOMPRESS[comp]}: {proc.stderr.decode()}"
    return proc.stdout


def cli_rejects(data, comp):
    proc = subprocess.run(CLI_DECOMPRESS[comp], input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    return proc.returncode != 0


def pstr(value):
    """A string property as JSON shows it: up to the NUL, invalid UTF-8 -> U+FFFD."""
    return bytes(value).split(b"\0")[0].decode("utf-8", errors="replace")


def pstrs(value):
    return [s.decode("utf-8", errors="replace") for s in bytes(value).split(b"\0")[:-1]]


def paddr(value):
    return int.from_bytes(value, "big") if value is not None else None


class Raw:
    """A FIT read straight with libfdt, with file offsets of property values."""

    def __init__(self, path):
        self.path = Path(path)
        self.data = self.path.read_bytes()
        self.fdt = libfdt.FdtRo(self.data)
        self.totalsize = self.fdt.totalsize()

    def node(self, path):
        return self.fdt.path_offset(path, (libfdt.NOTFOUND,))

    def props(self, path_or_off):
        off = self.node(path_or_off) if isinstance(path_or_off, str) else path_or_off
        out = []
        poff = self.fdt.first_property_offset(off, (libfdt.NOTFOUND,))
        while poff >= 0:
            p = self.fdt.get_property_by_offset(poff)
            out.append((p.name, bytes(p), poff))
            poff = self.fdt.next_property_offset(poff, (libfdt.NOTFOUND,))
        return out

    def prop(self, path, name):
        for n, v, _ in self.props(path):
            if n == name:
                return v
        return None

    def value_offset(self, path, name):
        """Absolute file offset and length of a property's value."""
        for n, v, poff in self.props(path):
            if n == name:
                return self.fdt.off_dt_struct() + poff + FDT_PROP_HEADER, len(v)
        raise KeyError(f"{path}: no {name}")

    def subnodes(self, path):
        off = self.node(path)
        names = []
        sub = self.fdt.first_subnode(off, (libfdt.NOTFOUND,))
        while sub >= 0:
            names.append(self.fdt.get_name(sub))
            sub = self.fdt.next_subnode(sub, (libfdt.NOTFOUND,))
        return names

    def extent(self, name):
        """(file offset, size) of an image's stored bytes, worked out by hand."""
        path = f"/images/{name}"
        pos, off, size = (self.prop(path, p) for p in ("data-position", "data-offset", "data-size"))
        if pos is not None:
            return int.from_bytes(pos, "big"), int.from_bytes(size, "big")
        if off is not None:
            base = align(self.totalsize, 4)
            return base + int.from_bytes(off, "big"), int.from_bytes(size, "big")
        return self.value_offset(path, "data")

    def stored(self, name):
        start, size = self.extent(name)
        return self.data[start:start + size]

    def images(self):
        return self.subnodes("/images")

    def configs(self):
        return self.subnodes("/configurations")


def expected_listing(path, arg=None):
    """What fit list --json must say about PATH, from libfdt alone."""
    r = Raw(path)
    root = {n: v for n, v, _ in r.props("/")}
    out = {
        "file": arg if arg is not None else str(path),
        "file_size": len(r.data),
        "fdt_size": r.totalsize,
        "description": pstr(root["description"]) if "description" in root else None,
        "timestamp": paddr(root.get("timestamp")),
        "default_config": None,
        "images": [],
        "configurations": [],
    }
    for name in r.images():
        path_ = f"/images/{name}"
        p = {n: v for n, v, _ in r.props(path_)}
        start, size = r.extent(name)
        subs = r.subnodes(path_)
        hashes = []
        for s in subs:
            if s.startswith("hash"):
                algo = r.prop(f"{path_}/{s}", "algo")
                value = r.prop(f"{path_}/{s}", "value")
                hashes.append({"node": s, "algo": pstr(algo) if algo is not None else None,
                               "value": value.hex() if value is not None else None})
        out["images"].append({
            "name": name,
            **{k: pstr(p[k]) if k in p else None
               for k in ("description", "type", "arch", "os", "compression")},
            "load": paddr(p.get("load")), "entry": paddr(p.get("entry")),
            "external": "data-offset" in p or "data-position" in p,
            "data_size": size, "data_offset": start,
            "hashes": hashes,
            "signatures": sum(s.startswith("signature") for s in subs),
            "problem": None,
        })
    if r.node("/configurations") >= 0:
        cp = {n: v for n, v, _ in r.props("/configurations")}
        out["default_config"] = pstr(cp["default"]) if "default" in cp else None
        for name in r.configs():
            path_ = f"/configurations/{name}"
            p = {n: v for n, v, _ in r.props(path_)}
            out["configurations"].append({
                "name": name,
                "description": pstr(p["description"]) if "description" in p else None,
                "kernel": pstrs(p["kernel"])[0] if "kernel" in p else None,
                "ramdisk": pstrs(p["ramdisk"])[0] if "ramdisk" in p else None,
                "fdt": pstrs(p.get("fdt", b"")),
                "loadables": pstrs(p.get("loadables", b"")),
                "compatible": pstrs(p.get("compatible", b"")),
                "signatures": sum(s.startswith("signature") for s in r.subnodes(path_)),
                "problem": None,
            })
    return out


def list_json(bootpack, *paths, cwd=None):
    proc = ok(bp(bootpack, "fit", "list", "--json", *paths, cwd=cwd))
    assert proc.stderr == b""
    return json.loads(proc.stdout.decode("utf-8"))   # strict UTF-8, strict JSON


def assert_listing_equal(got, want):
    """Field by field, so a failure names the image/config and field."""
    for key in want:
        if key in ("images", "configurations"):
            continue
        assert got.get(key) == want[key], f"{key}: bootpack {got.get(key)!r}, libfdt {want[key]!r}"
    for kind in ("images", "configurations"):
        assert [x["name"] for x in got[kind]] == [x["name"] for x in want[kind]], kind
        for g, w in zip(got[kind], want[kind]):
            for key in w:
                assert g.get(key) == w[key], \
                    f"{kind} {w['name']}: {key}: bootpack {g.get(key)!r}, libfdt {w[key]!r}"
            assert sorted(g) == sorted(w), f"{kind} {w['name']}: keys {sorted(g)}"
    assert sorted(got) == sorted(want), f"top-level keys {sorted(got)}"


def dumpimage_list(path):
    """dumpimage -l -> (images, configs, default); repeated fields kept in order."""
    text = run(["dumpimage", "-l", path]).stdout.decode(errors="replace")
    images, configs, default, cur, last = [], [], None, None, None
    for line in text.splitlines():
        m = re.match(r"^ Image \d+ \((.*)\)$", line)
        if m:
            cur = {"name": m[1], "hashes": []}
            images.append(cur)
            continue
        m = re.match(r"^ Configuration \d+ \((.*)\)$", line)
        if m:
            cur = {"name": m[1], "FDT": [], "Loadables": []}
            configs.append(cur)
            continue
        m = re.match(r"^ Default Configuration: '(.*)'$", line)
        if m:
            default, cur = m[1], None
            continue
        m = re.match(r"^  ([A-Za-z ]+):\s+(.*)$", line)
        if m and cur is not None:
            key, val = m[1], m[2].strip()
            if key == "Hash algo":
                cur["hashes"].append([val, None])
            elif key == "Hash value":
                cur["hashes"][-1][1] = val
            elif key in ("FDT", "Loadables"):
                cur[key].append(val)
            else:
                cur[key] = val
            last = key
            continue
        m = re.match(r"^ {10,}(\S.*)$", line)
        if m and cur is not None and last in ("FDT", "Loadables"):
            cur[last].append(m[1].strip())
    return images, configs, default


def recompute_hashes(fdt, image_path, data):
    """Rewrite every hash-N/value of an image for DATA (same length: in place)."""
    sub = fdt.first_subnode(fdt.path_offset(image_path), (libfdt.NOTFOUND,))
    while sub >= 0:
        if fdt.get_name(sub).startswith("hash"):
            algo = pstr(fdt.getprop(sub, "algo"))
            fdt.setprop(sub, "value", digest(algo, data))
        sub = fdt.next_subnode(sub, (libfdt.NOTFOUND,))


def edit_fit(path, fn, out=None):
    """Apply fn(fdt) to an embedded FIT (the tree may grow or shrink)."""
    data = Path(path).read_bytes()
    fdt = libfdt.Fdt(bytearray(data))
    fdt.resize(len(data) + 65536)
    fn(fdt)
    fdt.pack()
    out = Path(out or path)
    out.write_bytes(bytes(fdt.as_bytearray()))
    return out


def patch(path, offset, new):
    data = bytearray(Path(path).read_bytes())
    data[offset:offset + len(new)] = new
    Path(path).write_bytes(bytes(data))


def flip(path, offset):
    data = bytearray(Path(path).read_bytes())
    data[offset] ^= 0x01
    Path(path).write_bytes(bytes(data))


class Unchanged:
    """Context manager: the files must be byte-identical afterwards."""

    def __init__(self, *paths):
        self.paths = [Path(p) for p in paths]

    def __enter__(self):
        self.before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in self.paths]
        return self

    def __exit__(self, *exc):
        after = [hashlib.sha256(p.read_bytes()).hexdigest() for p in self.paths]
        for p, b, a in zip(self.paths, self.before, after):
            assert a == b, f"{p} was modified"
        return False


# --------------------------------------------------------------------------
# shared inputs and FITs

@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return tmp_path_factory.mktemp("inspect")


@pytest.fixture(scope="module")
def small_kernel(samples, ws):
    """The first 192 KiB of the sample Image (keeps the ARM\\x64 magic at 0x38)."""
    path = ws / "Image-small"
    data = (samples / "Image").read_bytes()[:192 * 1024]
    assert data[0x38:0x3c] == b"ARM\x64"
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def initrd(ws):
    chunks, h = [], b"inspect-ramdisk"
    while sum(map(len, chunks)) < 40000:
        h = hashlib.sha256(h).digest()
        chunks.append(h if h[0] & 1 else b"ramdisk text ")
    path = ws / "initrd.img"
    path.write_bytes(b"".join(chunks)[:40003])
    return path


class Builder:
    def __init__(self, bootpack, samples, directory):
        self.bootpack = bootpack
        self.samples = samples
        self.dir = directory
        self.cache = {}

    def __call__(self, *extra, kernel=None, dtbs=("demo-a.dtb", "demo-b.dtb"), name=None,
                 env=None):
        kernel = kernel or self.samples / "Image"
        key = (str(kernel), tuple(map(str, extra)), tuple(map(str, dtbs)), name)
        if key not in self.cache:
            out = self.dir / (name or f"b{len(self.cache)}.fit")
            full_env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, **(env or {}))
            ok(bp(self.bootpack, "fit", "build", "-o", out, *ARCH, "-k", kernel, *extra,
                  *[self.samples / d for d in dtbs], env=full_env))
            self.cache[key] = out
        return self.cache[key]

    def copy(self, src, dest_dir, name=None):
        dest = Path(dest_dir) / (name or Path(src).name)
        shutil.copyfile(src, dest)
        return dest


@pytest.fixture(scope="module")
def build(bootpack, samples, ws):
    d = ws / "built"
    d.mkdir()
    return Builder(bootpack, samples, d)


@pytest.fixture(scope="module")
def mk(samples, ws, small_kernel, initrd, tools):
    """Hand-written .its FITs made by mkimage: kernel with load/entry, ramdisk,
    two fdts (one an overlay) in one configuration, a loadable, every hash
    algorithm, a default configuration; embedded, -E, -E -B and -E -p."""
    d = ws / "mkimage"
    d.mkdir()
    fw = d / "fw.bin"
    fw.write_bytes(bytes(range(256)) * 3 + b"tail!")
    its = f"""/dts-v1/;
/ {{
	description = "hand-made FIT";
	#address-cells = <1>;
	images {{
		kernel-1 {{
			description = "small kernel";
			data = /incbin/("{small_kernel}");
			type = "kernel";
			arch = "arm64";
			os = "linux";
			compression = "none";
			load = <0x40080000>;
			entry = <0x40080800>;
			hash-1 {{ algo = "crc32"; }};
			hash-2 {{ algo = "sha1"; }};
		}};
		ramdisk-1 {{
			description = "initrd";
			data = /incbin/("{initrd}");
			type = "ramdisk";
			arch = "arm64";
			os = "linux";
			compression = "none";
			load = <0x48000000>;
			hash-1 {{ algo = "md5"; }};
		}};
		fdt-1 {{
			description = "board a";
			data = /incbin/("{samples / 'demo-a.dtb'}");
			type = "flat_dt";
			arch = "arm64";
			compression = "none";
			hash-1 {{ algo = "sha384"; }};
		}};
		fdt-2 {{
			description = "an overlay";
			data = /incbin/("{samples / 'demo-overlay.dtbo'}");
			type = "flat_dt";
			arch = "arm64";
			compression = "none";
			hash-1 {{ algo = "sha512"; }};
		}};
		fw-1 {{
			description = "firmware blob";
			data = /incbin/("{fw}");
			type = "firmware";
			arch = "arm64";
			os = "u-boot";
			compression = "none";
			load = <0x50000000>;
			hash-1 {{ algo = "sha256"; }};
		}};
	}};
	configurations {{
		default = "conf-b";
		conf-a {{
			description = "kernel and board a";
			kernel = "kernel-1";
			fdt = "fdt-1";
		}};
		conf-b {{
			description = "everything";
			kernel = "kernel-1";
			ramdisk = "ramdisk-1";
			fdt = "fdt-1", "fdt-2";
			loadables = "fw-1";
			compatible = "bootpack,demo-a", "bootpack,demo-soc";
		}};
	}};
}};
"""
    src = d / "hand.its"
    src.write_text(its)
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    fits = {}
    for tag, flags in [("embedded", []), ("external", ["-E"]),
                       ("external-B", ["-E", "-B", "0x100"]),
                       ("position", ["-E", "-p", "0x3000"])]:
        out = d / f"hand-{tag}.fit"
        run(["mkimage", *flags, "-f", src, out], env=env)
        fits[tag] = out
    return {"dir": d, "its": its, "fw": fw, "fits": fits}


def sample_fit(build, comp, mode, ramdisk=None, hashes="sha256"):
    extra = ["-c", comp] + (["-E"] if mode == "external" else [])
    if hashes:
        extra += ["--hash", hashes]
    if ramdisk is not None:
        extra += ["-r", ramdisk]
    return build(*extra)


# --------------------------------------------------------------------------
# fit list

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_list_json_matches_libfdt_bootpack(bootpack, build, initrd, samples, comp, mode):
    fit = sample_fit(build, comp, mode, ramdisk=initrd, hashes="crc32,sha256")
    with Unchanged(fit):
        got = list_json(bootpack, fit)
    assert len(got) == 1
    want = expected_listing(fit)
    assert_listing_equal(got[0], want)
    assert got[0]["timestamp"] == int(EPOCH)
    # data_offset/data_size locate the stored bytes: they decompress to the inputs.
    data = fit.read_bytes()
    inputs = {"kernel": samples / "Image", "ramdisk": initrd,
              "fdt-1": samples / "demo-a.dtb", "fdt-2": samples / "demo-b.dtb"}
    for im in got[0]["images"]:
        stored = data[im["data_offset"]:im["data_offset"] + im["data_size"]]
        assert len(stored) == im["data_size"]
        assert cli_decompress(stored, im["compression"]) == inputs[im["name"]].read_bytes(), \
            im["name"]
        assert [h["value"] for h in im["hashes"]] == [
            digest("crc32", stored).hex(), digest("sha256", stored).hex()], im["name"]
        assert im["external"] == (mode == "external")
        if mode == "external":
            assert im["data_offset"] >= got[0]["fdt_size"]
        else:
            assert im["data_offset"] < got[0]["fdt_size"]


@pytest.mark.parametrize("variant", ["embedded", "external", "external-B", "position"])
def test_list_json_matches_libfdt_mkimage(bootpack, mk, small_kernel, initrd, samples, variant):
    fit = mk["fits"][variant]
    got = list_json(bootpack, fit)[0]
    assert_listing_equal(got, expected_listing(fit))
    # Independent of libfdt: the bytes at data_offset are the files mkimage was given.
    data = fit.read_bytes()
    files = {"kernel-1": small_kernel, "ramdisk-1": initrd, "fdt-1": samples / "demo-a.dtb",
             "fdt-2": samples / "demo-overlay.dtbo", "fw-1": mk["fw"]}
    for im in got["images"]:
        want = files[im["name"]].read_bytes()
        assert im["data_size"] == len(want), im["name"]
        assert data[im["data_offset"]:im["data_offset"] + len(want)] == want, im["name"]
    if variant == "position":
        assert got["images"][0]["data_offset"] == 0x3000    # mkimage -p 0x3000
    if variant == "external-B":
        assert all(im["data_offset"] % 0x100 == 0 for im in got["images"])
    kernel = got["images"][0]
    assert (kernel["type"], kernel["load"], kernel["entry"]) == ("kernel", 0x40080000, 0x40080800)
    conf_b = got["configurations"][1]
    assert conf_b["fdt"] == ["fdt-1", "fdt-2"] and conf_b["loadables"] == ["fw-1"]
    assert conf_b["ramdisk"] == "ramdisk-1" and got["default_config"] == "conf-b"


@pytest.mark.parametrize("which", ["bootpack-gzip-external", "bootpack-none-embedded",
                                   "mkimage-embedded", "mkimage-position"])
def test_list_json_matches_dumpimage(bootpack, build, mk, initrd, which):
    if which.startswith("bootpack"):
        _, comp, mode = which.split("-")
        fit = build("-c", comp, *(["-E"] if mode == "external" else []), "-r", initrd,
                    "--hash", ",".join(ALL_HASHES), "--default-config", "conf-2")
    else:
        fit = mk["fits"][which.split("-", 1)[1]]
    got = list_json(bootpack, fit)[0]
    images, configs, default = dumpimage_list(fit)
    assert [im["name"] for im in got["images"]] == [i["name"] for i in images]
    for im, du in zip(got["images"], images):
        assert UBOOT_TYPE[im["type"]] == du["Type"], im["name"]
        assert UBOOT_COMPRESSION[im["compression"]] == du["Compression"], im["name"]
        assert im["data_size"] == int(du["Data Size"].split()[0]), im["name"]
        assert [[h["algo"], h["value"]] for h in im["hashes"]] == du["hashes"], im["name"]
        if "Load Address" in du:
            assert im["load"] == int(du["Load Address"], 16), im["name"]
        if "Entry Point" in du and du["Entry Point"] != "unavailable":
            assert im["entry"] == int(du["Entry Point"], 16), im["name"]
    assert got["default_config"] == default
    assert [c["name"] for c in got["configurations"]] == [c["name"] for c in configs]
    for c, du in zip(got["configurations"], configs):
        assert c["description"] == du["Description"]
        assert c["kernel"] == du["Kernel"]
        assert c["ramdisk"] == du.get("Init Ramdisk")
        assert c["fdt"] == du["FDT"]
        assert c["loadables"] == du["Loadables"]


def test_list_text(bootpack, build, initrd):
    fit = build("-c", "lz4", "-r", initrd, "--hash", "md5,sha1", "--default-config", "conf-2",
                dtbs=("demo-a.dtb", "demo-b.dtb", "demo-c.dtb"))
    want = expected_listing(fit)
    proc = ok(bp(bootpack, "fit", "list", fit))
    assert proc.stderr == b""
    text = proc.stdout.decode()
    when = datetime.datetime.fromtimestamp(int(EPOCH), datetime.timezone.utc)
    lines = text.splitlines()
    assert lines[0] == (f"FIT:            {fit} ({want['file_size']} bytes, "
                        f"FDT {want['fdt_size']} bytes)")
    assert f"Description:    {want['description']}" in lines
    assert f"Created:        {when:%Y-%m-%d %H:%M:%S} UTC ({EPOCH})" in lines
    assert "Default config: conf-2" in lines
    assert f"Images: {len(want['images'])}" in lines
    assert f"Configurations: {len(want['configurations'])}" in lines
    for im in want["images"]:
        i = lines.index(f" Image '{im['name']}'")
        block = lines[i + 1:]
        block = block[:next((k for k, line in enumerate(block) if not line.startswith("  ")),
                            len(block))]
        fields = {}
        for line in block:
            m = re.match(r"^  ([A-Za-z ]+:)\s+(.*)$", line)
            assert m, line
            fields.setdefault(m[1], []).append(m[2])
        assert fields["Type:"] == [im["type"]]
        assert fields["Compression:"] == [im["compression"]]
        assert fields["Description:"] == [im["description"]]
        where = "external" if im["external"] else "embedded"
        assert fields["Data:"] == [f"{im['data_size']} bytes at file offset "
                                   f"{im['data_offset']:#x} ({where})"]
        assert fields["Hash:"] == [f"{h['node']} {h['algo']} {h['value']}" for h in im["hashes"]]
    assert " Configuration 'conf-1'" in lines
    assert " Configuration 'conf-2' (default)" in lines
    i = lines.index(" Configuration 'conf-3'")
    conf3 = lines[i + 1:]
    conf3 = conf3[:next((k for k, line in enumerate(conf3) if not line.startswith("  ")),
                        len(conf3))]
    want3 = want["configurations"][2]
    assert conf3 == [
        f"  Description:   {want3['description']}",
        "  Kernel:        kernel",
        "  Ramdisk:       ramdisk",
        "  FDT:           fdt-3",
        "  Compatible:    " + ", ".join(want3["compatible"]),
    ]


def test_list_several_files(bootpack, build, mk, ws):
    a = build("-c", "gzip")
    b = mk["fits"]["external"]
    got = list_json(bootpack, a, b, a)
    assert [g["file"] for g in got] == [str(a), str(b), str(a)]
    assert_listing_equal(got[1], expected_listing(b))
    assert got[0] == got[2]
    text = ok(bp(bootpack, "fit", "list", a, b)).stdout.decode()
    assert text.count("\nFIT:") + text.startswith("FIT:") == 2
    assert f"FIT:            {b} (" in text


def test_list_bad_file_among_good(bootpack, build, ws):
    a = build("-c", "none")
    bad = ws / "garbage.bin"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    proc = bp(bootpack, "fit", "list", "--json", a, bad, a)
    assert proc.returncode == 1
    assert err_lines(proc) == [f"bootpack: '{bad}': not a devicetree blob: bad magic "
                               "0x00016761 (expected 0xd00dfeed)"]
    got = json.loads(proc.stdout)                 # still one valid document
    assert [g["file"] for g in got] == [str(a), str(a)]


# dtc escapes: a quote, a backslash, control bytes, invalid UTF-8 (lone
# bytes, a surrogate, an overlong form) around valid multi-byte UTF-8.
HOSTILE_DESC = (r'q\"uote \\back\tslash\x01\x1b[31mred\x7f \xff\xfe\x80 ok é 日本 '
                r'\xed\xa0\x80 \xc0\xaf end')
HOSTILE_DTS = r"""/dts-v1/;
/ {
	description = "@DESC@";
	#address-cells = <1>;
	timestamp = <1234>;
	images {
		kernel {
			description = "line1\nline2\r";
			data = [00 01 02 03 04 05 06 07];
			type = "kernel";
			arch = "arm64";
			os = "linux\"\\";
			compression = "none";
			load = <0x1000>;
			entry = <0x1000>;
			hash-1 { algo = "sha1\x1b"; value = [01 02]; };
		};
	};
	configurations {
		default = "c\"1\xff";
		c1 {
			description = "</script>\x0c\x08";
			kernel = "kernel";
			compatible = "a\"b", "c\\d", "\xc3\x28";
		};
	};
};
"""


def test_list_json_hostile_strings(bootpack, ws):
    d = ws / "hostile"
    d.mkdir()
    src = d / "h.dts"
    src.write_text(HOSTILE_DTS.replace("@DESC@", HOSTILE_DESC), encoding="utf-8")
    fit = d / "h.fit"
    run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", fit, src])
    # A file name with a quote, a backslash, a newline and a non-UTF-8 byte.
    odd = os.fsencode(d) + b"/we\"ird\\name\n\xff.fit"
    shutil.copyfile(fit, odd)
    proc = ok(bp(bootpack, "fit", "list", "--json", odd))
    got = json.loads(proc.stdout.decode("utf-8"))[0]
    want = expected_listing(fit, arg=odd.decode("utf-8", errors="replace"))
    assert_listing_equal(got, want)
    assert got["description"].startswith(
        'q"uote \\back\tslash\x01\x1b[31mred\x7f \ufffd\ufffd\ufffd ok é 日本')
    assert got["configurations"][0]["compatible"][:2] == ['a"b', "c\\d"]
    # Text: control characters are escaped, never written raw to a terminal.
    text = ok(bp(bootpack, "fit", "list", odd)).stdout
    for c in (b"\x1b", b"\x01", b"\r", b"\x0c", b"\x08", b"\x7f"):
        assert c not in text, c
    assert b"line1\\x0aline2\\x0d" in text


def test_list_json_hostile_node_names(bootpack, ws):
    """Node names are as untrusted as property values: build them with FdtSw."""
    sw = libfdt.FdtSw()
    sw.finish_reservemap()
    with sw.add_node(""):
        sw.property_string("description", "names")
        with sw.add_node("images"):
            with sw.add_node('k"er\\nel\x1b'):
                sw.property_string("type", "kernel_noload")
                sw.property("data", b"payload!")
        with sw.add_node("configurations"):
            sw.property_string("default", 'c"\t')
            with sw.add_node('c"\t'):
                sw.property_string("kernel", 'k"er\\nel\x1b')
    path = ws / "names.fit"
    path.write_bytes(bytes(sw.as_fdt().as_bytearray()))
    got = list_json(bootpack, path)[0]
    assert got["images"][0]["name"] == 'k"er\\nel\x1b'
    assert got["configurations"][0]["name"] == 'c"\t'
    assert got["configurations"][0]["kernel"] == 'k"er\\nel\x1b'
    out = ws / "names.out"
    ok(bp(bootpack, "fit", "extract", path, "--config", 'c"\t', "--kind", "kernel", "-o", out))
    assert out.read_bytes() == b"payload!"


# --------------------------------------------------------------------------
# fit extract

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_extract_every_compression(bootpack, build, samples, initrd, tmp_path, comp, mode):
    fit = sample_fit(build, comp, mode, ramdisk=initrd, hashes="sha1")
    r = Raw(fit)
    with Unchanged(fit):
        for name, src in [("kernel", samples / "Image"), ("fdt-1", samples / "demo-a.dtb"),
                          ("fdt-2", samples / "demo-b.dtb"), ("ramdisk", initrd)]:
            out = tmp_path / f"{name}.out"
            proc = ok(bp(bootpack, "fit", "extract", fit, name, "-o", out, "-v"))
            assert out.read_bytes() == src.read_bytes(), name
            assert proc.stdout.decode() == f"{out}: image '{name}', {src.stat().st_size} bytes\n"
            raw = tmp_path / f"{name}.raw"
            ok(bp(bootpack, "fit", "extract", fit, name, "--raw", "-o", raw))
            assert raw.read_bytes() == r.stored(name), name
            stored_comp = "none" if name == "ramdisk" else comp
            assert cli_decompress(raw.read_bytes(), stored_comp) == src.read_bytes(), name
        # Through a configuration.
        out = tmp_path / "via-config.dtb"
        ok(bp(bootpack, "fit", "extract", fit, "--config", "conf-2", "--kind", "fdt", "-o", out))
        assert out.read_bytes() == (samples / "demo-b.dtb").read_bytes()
        ok(bp(bootpack, "fit", "extract", fit, "--config", "conf-1", "--kind", "ramdisk",
              "-o", out))
        assert out.read_bytes() == initrd.read_bytes()
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("comp", sorted(CLI_COMPRESS))
def test_extract_cli_compressed_mkimage_fit(bootpack, small_kernel, samples, tmp_path, comp):
    """Streams made by the CLI tools at their strongest level, packed by mkimage."""
    packed = tmp_path / f"kernel.{comp}"
    with open(small_kernel, "rb") as f:
        packed.write_bytes(subprocess.run(CLI_COMPRESS[comp], stdin=f, stdout=subprocess.PIPE,
                                          check=True).stdout)
    its = tmp_path / "k.its"
    its.write_text(f"""/dts-v1/;
/ {{
	description = "cli {comp}";
	#address-cells = <1>;
	images {{
		kernel {{
			data = /incbin/("{packed}");
			type = "kernel";
			arch = "arm64";
			os = "linux";
			compression = "{comp}";
			load = <0x40000000>;
			entry = <0x40000000>;
			hash-1 {{ algo = "sha256"; }};
		}};
	}};
	configurations {{
		default = "conf";
		conf {{ kernel = "kernel"; }};
	}};
}};
""")
    fit = tmp_path / "k.fit"
    run(["mkimage", "-f", its, fit])
    out = tmp_path / "Image"
    with Unchanged(fit):
        ok(bp(bootpack, "fit", "extract", fit, "kernel", "-o", out))
        assert out.read_bytes() == small_kernel.read_bytes()
        ok(bp(bootpack, "fit", "extract", fit, "kernel", "--raw", "-o", out))
        assert out.read_bytes() == packed.read_bytes()
        ok(bp(bootpack, "fit", "extract", fit, "--config", "conf", "--kind", "kernel", "-o", out))
        assert out.read_bytes() == small_kernel.read_bytes()
        proc = ok(bp(bootpack, "fit", "verify", "--decompress", fit))
        assert f"kernel: {comp} data decompresses to {small_kernel.stat().st_size} bytes, " \
            "an arm64 Linux Image" in \
            proc.stdout.decode().splitlines()


def test_extract_mkimage_resolution(bootpack, mk, samples, small_kernel, initrd, tmp_path):
    for variant, fit in mk["fits"].items():
        with Unchanged(fit):
            cases = [
                (["kernel-1"], small_kernel),
                (["--config", "conf-b", "--kind", "kernel"], small_kernel),
                (["--config", "conf-b", "--kind", "ramdisk"], initrd),
                (["--config", "conf-b", "--kind", "fdt", "--index", "1"], samples / "demo-a.dtb"),
                (["--config", "conf-b", "--kind", "fdt", "--index", "2"],
                 samples / "demo-overlay.dtbo"),
                (["--config", "conf-a", "--kind", "fdt"], samples / "demo-a.dtb"),
                (["--config", "conf-b", "--kind", "loadable"], mk["fw"]),
                (["--config", "conf-b", "--kind", "loadable", "--index", "1"], mk["fw"]),
            ]
            for args, want in cases:
                out = tmp_path / "out"
                ok(bp(bootpack, "fit", "extract", fit, *args, "-o", out))
                assert out.read_bytes() == want.read_bytes(), (variant, args)


@pytest.mark.parametrize("args,msg", [
    (["--config", "nope", "--kind", "fdt"], "no configuration 'nope' in /configurations"),
    (["--config", "conf-a", "--kind", "ramdisk"], "configuration 'conf-a' names no ramdisk image"),
    (["--config", "conf-a", "--kind", "loadable"],
     "configuration 'conf-a' names no loadable image"),
    (["--config", "conf-b", "--kind", "fdt"],
     "configuration 'conf-b' names 2 fdt images; choose one with --index 1 to 2"),
    (["--config", "conf-b", "--kind", "fdt", "--index", "3"],
     "configuration 'conf-b' names 2 fdt images; --index 3 is past the end"),
    (["--config", "conf-b", "--kind", "loadable", "--index", "2"],
     "configuration 'conf-b' names 1 loadable image; --index 2 is past the end"),
    (["no-such-image"], "no image 'no-such-image' in /images"),
    (["configurations"], "no image 'configurations' in /images"),
])
def test_extract_resolution_errors(bootpack, mk, tmp_path, args, msg):
    fit = mk["fits"]["embedded"]
    out = tmp_path / "out"
    with Unchanged(fit):
        proc = bp(bootpack, "fit", "extract", fit, *args, "-o", out)
    assert_one_error(proc, f"bootpack: '{fit}': {msg}")
    assert proc.stdout == b""
    assert_dir(tmp_path, [])


@pytest.mark.parametrize("args,msg", [
    (["F", "kernel-1", "--config", "conf-a", "--kind", "fdt", "-o", "x"],
     "give either an IMAGE or --config, not both"),
    (["F", "--kind", "fdt", "-o", "x"], "no IMAGE given (or use --config NAME --kind KIND)"),
    (["F", "kernel-1", "--kind", "fdt", "-o", "x"], "--kind and --index need --config"),
    (["F", "kernel-1", "--index", "1", "-o", "x"], "--kind and --index need --config"),
    (["F", "--config", "conf-a", "-o", "x"],
     "--config needs --kind (kernel, fdt, ramdisk or loadable)"),
    (["F", "--config", "conf-a", "--kind", "dtb", "-o", "x"],
     "--kind 'dtb': expected kernel, fdt, ramdisk or loadable"),
    (["F", "--config", "conf-a", "--kind", "kernel", "--index", "1", "-o", "x"],
     "--index applies to --kind fdt or loadable"),
    (["F", "--config", "conf-b", "--kind", "fdt", "--index", "0", "-o", "x"],
     "--index '0': expected a number from 1"),
    (["F", "--config", "conf-b", "--kind", "fdt", "--index", "-1", "-o", "x"],
     "--index '-1': expected a number from 1"),
    (["F", "kernel-1"], "missing required option -o/--output"),
    (["F", "-o", "x"], "no IMAGE given (or use --config NAME --kind KIND)"),
    (["F", "kernel-1", "extra", "-o", "x"], "too many arguments"),
    (["F", "kernel-1", "-o", "x", "--max-size", "lots"],
     "--max-size 'lots': expected a byte count such as 512M or 2G"),
    (["F", "kernel-1", "-o", "x", "--max-size", "0"],
     "--max-size '0': expected a byte count such as 512M or 2G"),
    (["F", "kernel-1", "-o", "x", "--frobnicate"], "unknown option '--frobnicate'"),
])
def test_extract_usage_errors(bootpack, mk, tmp_path, args, msg):
    fit = mk["fits"]["embedded"]
    args = [fit if a == "F" else a for a in args]
    with Unchanged(fit):
        proc = bp(bootpack, "fit", "extract", *args, cwd=tmp_path)
    assert_usage(proc, "fit extract", msg)
    assert_dir(tmp_path, [])


@pytest.mark.parametrize("image", ["kernel", "fdt-1", "ramdisk"])
@pytest.mark.parametrize("mode", MODES)
def test_extract_refuses_corrupt_image(bootpack, build, samples, initrd, tmp_path, image, mode):
    src = sample_fit(build, "none", mode, ramdisk=initrd, hashes="crc32,sha256")
    fit = build.copy(src, tmp_path, "f.fit")
    start, size = Raw(fit).extent(image)
    flip(fit, start + size // 2)
    damaged = fit.read_bytes()
    out = tmp_path / "out.img"
    proc = bp(bootpack, "fit", "extract", fit, image, "-o", out)
    assert_one_error(proc, f"bootpack: '{fit}': image '{image}': hash-1: crc32 hash does not "
                           "match the data")
    assert proc.stdout == b""
    assert fit.read_bytes() == damaged
    assert_dir(tmp_path, ["f.fit"])                 # no output, no .out.img.tmp-*
    # An existing output is left alone on failure.
    out.write_bytes(b"previous")
    assert bp(bootpack, "fit", "extract", fit, image, "-o", out).returncode == 1
    assert out.read_bytes() == b"previous"
    # --no-verify writes the damaged bytes.
    ok(bp(bootpack, "fit", "extract", fit, image, "--no-verify", "-o", out))
    original = {"kernel": samples / "Image", "fdt-1": samples / "demo-a.dtb",
                "ramdisk": initrd}[image].read_bytes()
    want = bytearray(original)
    want[size // 2] ^= 0x01
    assert out.read_bytes() == bytes(want)
    assert fit.read_bytes() == damaged
    assert_dir(tmp_path, ["f.fit", "out.img"])


def test_extract_no_verify_compressed_corruption(bootpack, build, tmp_path):
    """A damaged gzip stream: refused for the hash, and with --no-verify the
    decompressor refuses it too (gzip's own CRC); no output, no temporary."""
    fit = build.copy(build("-c", "gzip", "--hash", "md5"), tmp_path, "f.fit")
    start, size = Raw(fit).extent("kernel")
    patch(fit, start + size - 8, bytes(b ^ 0xff for b in Raw(fit).stored("kernel")[-8:-4]))
    assert cli_rejects(Raw(fit).stored("kernel"), "gzip")
    out = tmp_path / "k"
    proc = bp(bootpack, "fit", "extract", fit, "kernel", "-o", out)
    assert_one_error(proc, f"bootpack: '{fit}': image 'kernel': hash-1: md5 hash does not "
                           "match the data")
    proc = bp(bootpack, "fit", "extract", fit, "kernel", "--no-verify", "-o", out)
    assert proc.returncode == 1
    assert len(err_lines(proc)) == 1
    assert err_lines(proc)[0].startswith(
        f"bootpack: '{fit}': image 'kernel': cannot decompress gzip data: ")
    assert_dir(tmp_path, ["f.fit"])
    # --raw --no-verify hands out the stored bytes untouched.
    ok(bp(bootpack, "fit", "extract", fit, "kernel", "--raw", "--no-verify", "-o", out))
    assert out.read_bytes() == Raw(fit).stored("kernel")


@pytest.mark.parametrize("comp", ["gzip", "zstd", "lzma"])
def test_extract_max_size(bootpack, build, samples, tmp_path, comp):
    fit = build("-c", comp)
    size = (samples / "Image").stat().st_size           # 4 MiB
    out = tmp_path / "k"
    with Unchanged(fit):
        for limit in ["1M", str(size - 1)]:
            proc = bp(bootpack, "fit", "extract", fit, "kernel", "--max-size", limit, "-o", out)
            n = 1 << 20 if limit == "1M" else size - 1
            # bootpack's zstd frames carry the content size: refused from the header
            why = (f"zstd frame 1 declares {size} bytes of content, more than the limit of {n} "
                   "bytes") if comp == "zstd" else f"decompressed size exceeds limit of {n} bytes"
            assert_one_error(proc, f"bootpack: '{fit}': image 'kernel': cannot decompress "
                                   f"{comp} data: {why}")
            assert_dir(tmp_path, [])
        for limit in [str(size), "4M", "4MiB"]:
            ok(bp(bootpack, "fit", "extract", fit, "kernel", "--max-size", limit, "-o", out))
            assert out.read_bytes() == (samples / "Image").read_bytes()
        # --raw does not decompress, so the limit does not apply.
        ok(bp(bootpack, "fit", "extract", fit, "kernel", "--raw", "--max-size", "1K", "-o", out))
        assert out.read_bytes() == Raw(fit).stored("kernel")


def test_extract_output_is_the_input(bootpack, build, tmp_path):
    fit = build.copy(build("-c", "lz4", "--hash", "crc32"), tmp_path, "f.fit")
    before = fit.read_bytes()
    os.link(fit, tmp_path / "hard.fit")
    os.symlink("f.fit", tmp_path / "sym.fit")
    for src, dest in [(fit, fit), (fit, tmp_path / "hard.fit"), (fit, tmp_path / "sym.fit"),
                      (tmp_path / "sym.fit", fit)]:
        proc = bp(bootpack, "fit", "extract", src, "kernel", "-o", dest)
        assert_one_error(proc, f"bootpack: '{dest}': output is the input FIT; refusing to "
                               "overwrite it")
        assert fit.read_bytes() == before
        assert_dir(tmp_path, ["f.fit", "hard.fit", "sym.fit"])
    assert (tmp_path / "sym.fit").is_symlink()


def test_unknown_compression(bootpack, build, samples, tmp_path):
    fit = build.copy(build("-c", "none", "-E"), tmp_path, "f.fit")
    at, n = Raw(fit).value_offset("/images/fdt-1", "compression")
    assert n == 5
    patch(fit, at, b"lz77\0")
    assert run(["fdtget", fit, "/images/fdt-1", "compression"]).stdout == b"lz77\n"
    out = tmp_path / "o"
    proc = bp(bootpack, "fit", "extract", fit, "fdt-1", "-o", out)
    assert_one_error(proc, f"bootpack: '{fit}': image 'fdt-1': unknown compression 'lz77'; "
                           "only the stored bytes can be extracted")
    assert not out.exists()
    ok(bp(bootpack, "fit", "extract", fit, "fdt-1", "--raw", "-o", out))
    assert out.read_bytes() == (samples / "demo-a.dtb").read_bytes()
    proc = verify(bootpack, fit)
    assert proc.returncode == 1
    assert err_lines(proc) == [
        f"bootpack: '{fit}': fdt-1: unknown compression 'lz77' (U-Boot knows none, gzip, "
        "bzip2, lz4, lzma, lzo and zstd)", f"bootpack: '{fit}': FAILED: 1 problem found"]


def test_extract_read_only_destination(bootpack, build):
    fit = build("-c", "none")
    out = Path("/proc/self/kernel.out")
    proc = bp(bootpack, "fit", "extract", fit, "fdt-1", "-o", out)
    assert proc.returncode == 1
    assert len(err_lines(proc)) == 1
    assert err_lines(proc)[0].startswith(f"bootpack: '{out}': cannot create output: ")


# --------------------------------------------------------------------------
# fit verify

def verify(bootpack, *args, **kw):
    return bp(bootpack, "fit", "verify", *args, **kw)


def expected_hash_lines(fit):
    r = Raw(fit)
    lines = []
    for name in r.images():
        stored = r.stored(name)
        for s in r.subnodes(f"/images/{name}"):
            if s.startswith("hash"):
                algo = pstr(r.prop(f"/images/{name}/{s}", "algo"))
                lines.append(f"{name}: {s}: {algo} {digest(algo, stored).hex()}")
    return lines


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comp", ["none", "gzip", "zstd"])
def test_verify_clean_bootpack(bootpack, build, initrd, comp, mode):
    fit = build("-c", comp, *(["-E"] if mode == "external" else []), "-r", initrd,
                "--hash", ",".join(ALL_HASHES),
                dtbs=("demo-a.dtb", "demo-b.dtb", "demo-c.dtb", "demo-d.dtb",
                      "demo-a-overlay.dtb"))
    # The stored values are what hashlib/zlib compute over the stored bytes.
    r = Raw(fit)
    for name in r.images():
        for i, algo in enumerate(ALL_HASHES, 1):
            assert r.prop(f"/images/{name}/hash-{i}", "value") == digest(algo, r.stored(name))
    with Unchanged(fit):
        proc = verify(bootpack, fit)
    warnings = 1 if comp != "none" else 0
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert len(err.splitlines()) == warnings, err
    out = proc.stdout.decode().splitlines()
    for line in expected_hash_lines(fit):
        assert line in out
    assert out[-1] == (f"{fit}: OK (7 images, 5 configurations, {7 * len(ALL_HASHES)} hashes "
                       f"checked, {warnings} warning{'' if warnings == 1 else 's'})")
    # -q: nothing on stdout; -j does not change anything.
    quiet = verify(bootpack, "-q", fit)
    assert quiet.returncode == 0 and quiet.stdout == b"" and quiet.stderr == proc.stderr
    for jobs in ("1", "3"):
        again = verify(bootpack, "-j", jobs, fit)
        assert (again.returncode, again.stdout, again.stderr) == \
            (0, proc.stdout, proc.stderr), f"-j {jobs} changes the report"
        again = verify(bootpack, "-j", jobs, "--decompress", fit)
        assert again.returncode == 0, again.stderr
        assert again.stderr == proc.stderr


def test_verify_embedded_dtb_at_any_4_byte_offset(bootpack, build, samples):
    """FDT properties are 4-byte aligned, so an uncompressed embedded DTB sits
    at an offset that is often only 4 (not 8) aligned. U-Boot copies such a
    DTB before use; verify must still accept a well-formed DTB there."""
    fit = build("-c", "none", dtbs=("demo-a.dtb", "demo-b.dtb", "demo-c.dtb", "demo-d.dtb"))
    r = Raw(fit)
    offsets = {n: r.extent(n)[0] for n in r.images()}
    assert any(off % 8 == 4 for off in offsets.values()), offsets   # the case exercised
    for n in r.images():
        if n.startswith("fdt"):
            libfdt.FdtRo(r.stored(n))           # each is a good DTB to libfdt
    proc = verify(bootpack, fit)
    assert proc.stderr == b"", proc.stderr.decode()
    assert proc.returncode == 0


@pytest.mark.parametrize("variant", ["embedded", "external", "external-B", "position"])
def test_verify_mkimage_fits(bootpack, mk, variant):
    fit = mk["fits"][variant]
    if True:
        proc = verify(bootpack, fit)
        assert proc.returncode == 0, (variant, proc.stderr.decode())
        assert proc.stderr == b"", (variant, proc.stderr.decode())
        out = proc.stdout.decode().splitlines()
        for line in expected_hash_lines(fit):
            assert line in out, (variant, line)
        assert out[-1] == f"{fit}: OK (5 images, 2 configurations, 6 hashes checked, 0 warnings)"


def test_verify_crc16_ccitt_from_mkimage(bootpack, small_kernel, tmp_path):
    """mkimage (and U-Boot's hash_lookup_algo) know "crc16-ccitt"; a FIT using
    it is valid for U-Boot, so verify must not call it a failure."""
    its = tmp_path / "c.its"
    its.write_text(f"""/dts-v1/;
/ {{
	description = "crc16";
	images {{
		kernel {{
			data = /incbin/("{small_kernel}");
			type = "kernel";
			arch = "arm64";
			os = "linux";
			compression = "none";
			load = <0x40000000>;
			entry = <0x40000000>;
			hash-1 {{ algo = "crc16-ccitt"; }};
			hash-2 {{ algo = "sha256"; }};
		}};
	}};
	configurations {{
		default = "conf";
		conf {{ kernel = "kernel"; }};
	}};
}};
""")
    fit = tmp_path / "c.fit"
    run(["mkimage", "-f", its, fit])
    want = binascii.crc_hqx(small_kernel.read_bytes(), 0).to_bytes(2, "big")
    assert Raw(fit).prop("/images/kernel/hash-1", "value") == want   # what mkimage stored
    proc = verify(bootpack, fit)
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / "k"
    ok(bp(bootpack, "fit", "extract", fit, "kernel", "-o", out))
    assert out.read_bytes() == small_kernel.read_bytes()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("image", ["kernel", "fdt-2", "ramdisk"])
def test_verify_flipped_byte(bootpack, build, samples, initrd, tmp_path, image, mode):
    # Uncompressed only with -E: embedded uncompressed DTBs trip over the
    # alignment bug test_verify_embedded_dtb_at_any_4_byte_offset shows.
    if mode == "external":
        src = build("-c", "none", "-E", "-r", initrd, "--hash", "sha256")
    else:
        src = build("-c", "gzip", "-r", initrd, "--hash", "sha256", "--load-address", "0x80000")
    fit = build.copy(src, tmp_path, "f.fit")
    r = Raw(fit)
    start, size = r.extent(image)
    stored = r.stored(image)
    if image == "fdt-2" and mode == "external":
        at = stored.index(b"Bootpack Demo Board B")    # keep it a well-formed DTB
    else:
        at = size // 2
    flip(fit, start + at)
    computed = hashlib.sha256(Raw(fit).stored(image)).hexdigest()
    proc = verify(bootpack, fit)
    assert proc.returncode == 1
    assert err_lines(proc) == [
        f"bootpack: '{fit}': {image}: hash-1: sha256 hash does not match the data "
        f"(stored {hashlib.sha256(stored).hexdigest()}, computed {computed})",
        f"bootpack: '{fit}': FAILED: 1 problem found",
    ]
    assert f"{fit}: OK" not in proc.stdout.decode()


def hash_edit(tmp_path, src, fn):
    def edit(fdt):
        fn(fdt, fdt.path_offset("/images/kernel/hash-1"))
    return edit_fit(src, edit, tmp_path / "f.fit")


@pytest.mark.parametrize("case,edit,msg", [
    ("short", lambda f, h: f.setprop(h, "value", bytes(31)),
     "kernel: hash-1: sha256 value is 31 bytes; expected 32"),
    ("long", lambda f, h: f.setprop(h, "value", bytes(33)),
     "kernel: hash-1: sha256 value is 33 bytes; expected 32"),
    ("unknown", lambda f, h: f.setprop_str(h, "algo", "sha3-256"),
     "kernel: hash-1: unknown hash algorithm 'sha3-256'"),
    ("no-value", lambda f, h: f.delprop(h, "value"), "kernel: hash-1: no 'value' property"),
    ("no-algo", lambda f, h: f.delprop(h, "algo"), "kernel: hash-1: no 'algo' property"),
])
def test_verify_bad_hash_node(bootpack, build, small_kernel, tmp_path, case, edit, msg):
    fit = hash_edit(tmp_path, build("-c", "gzip", "--load-address", "0x80000", "--hash", "sha256",
                                    kernel=small_kernel), edit)
    proc = verify(bootpack, fit)
    assert proc.returncode == 1
    assert err_lines(proc) == [f"bootpack: '{fit}': {msg}",
                               f"bootpack: '{fit}': FAILED: 1 problem found"]
    # list shows the node as it is (absent values are null)
    assert_listing_equal(list_json(bootpack, fit)[0], expected_listing(fit))
    # extract refuses it too (without --no-verify) and writes nothing
    out = tmp_path / "k"
    proc = bp(bootpack, "fit", "extract", fit, "kernel", "-o", out)
    assert proc.returncode == 1 and len(err_lines(proc)) == 1
    assert err_lines(proc)[0].startswith(f"bootpack: '{fit}': image 'kernel': hash-1: ")
    assert not out.exists()
    ok(bp(bootpack, "fit", "extract", fit, "kernel", "--no-verify", "-o", out))
    assert out.read_bytes() == small_kernel.read_bytes()


def test_verify_external_data_past_eof(bootpack, build, tmp_path):
    fit = build.copy(build("-c", "gzip", "-E", "--hash", "sha1"), tmp_path, "f.fit")
    r = Raw(fit)
    last = r.images()[-1]
    start, size = r.extent(last)
    assert start + size == len(r.data) or align(start + size, 4) == len(r.data)
    cut = start + size // 2
    os.truncate(fit, cut)
    proc = verify(bootpack, fit)
    assert proc.returncode == 1
    lines = err_lines(proc)
    off = start - align(r.totalsize, 4)
    problem = (f"external data ({size} bytes at file offset {start}, from 'data-offset' {off}) "
               f"extends past the end of the file ({cut} bytes)")
    assert f"bootpack: '{fit}': {last}: {problem}" in lines
    assert lines[-1] == f"bootpack: '{fit}': FAILED: 1 problem found"
    assert all(f"'{fit}': {last}: " in line or "warning" in line or "FAILED" in line
               for line in lines), lines
    proc = bp(bootpack, "fit", "list", "--json", fit)
    assert proc.returncode == 0, proc.stderr     # listing a damaged FIT is not an error
    got = json.loads(proc.stdout)[0]
    bad = [im for im in got["images"] if im["name"] == last][0]
    assert bad["problem"] == problem
    text = ok(bp(bootpack, "fit", "list", fit)).stdout.decode()
    assert f"  Problem:       {bad['problem']}" in text.splitlines()
    assert all(im["problem"] is None for im in got["images"] if im["name"] != last)
    out = tmp_path / "o"
    proc = bp(bootpack, "fit", "extract", fit, last, "-o", out)
    assert proc.returncode == 1 and len(err_lines(proc)) == 1
    assert f"'{fit}': image '{last}': " in err_lines(proc)[0]
    assert not out.exists()


@pytest.mark.parametrize("case", ["kernel", "fdt", "ramdisk", "wrong-type", "default",
                                  "empty-kernel"])
def test_verify_dangling_references(bootpack, build, initrd, small_kernel, tmp_path, case):
    def edit(fdt):
        conf = fdt.path_offset("/configurations/conf-1")
        if case == "kernel":
            fdt.setprop_str(conf, "kernel", "kernel-x")
        elif case == "fdt":
            fdt.setprop(conf, "fdt", b"fdt-1\0fdt-9\0")
        elif case == "ramdisk":
            fdt.setprop_str(conf, "ramdisk", "initrd")
        elif case == "wrong-type":
            fdt.setprop_str(conf, "kernel", "fdt-1")
        elif case == "empty-kernel":
            fdt.setprop(conf, "kernel", b"\0")
        else:
            fdt.setprop_str(fdt.path_offset("/configurations"), "default", "conf-9")
    fit = edit_fit(build("-r", initrd, "-c", "lz4", "--load-address", "0x80000",
                         kernel=small_kernel), edit, tmp_path / "f.fit")
    msg = {
        "kernel": "conf-1: kernel 'kernel-x' is not an image in /images",
        "fdt": "conf-1: fdt 'fdt-9' is not an image in /images",
        "ramdisk": "conf-1: ramdisk 'initrd' is not an image in /images",
        "wrong-type": "conf-1: kernel 'fdt-1' has type 'flat_dt'",
        "default": "default configuration 'conf-9' does not exist",
        "empty-kernel": "conf-1: property 'kernel' is not a NUL-terminated image name",
    }[case]
    proc = verify(bootpack, fit)
    assert proc.returncode == 1
    if case == "empty-kernel":       # U-Boot cannot boot it: no kernel, no loadables
        assert err_lines(proc) == [
            f"bootpack: '{fit}': {msg}",
            f"bootpack: '{fit}': warning: conf-1: names no kernel and no loadables",
            f"bootpack: '{fit}': FAILED: 1 problem found"]
        assert list_json(bootpack, fit)[0]["configurations"][0]["problem"] == msg[8:]
        return
    assert err_lines(proc) == [f"bootpack: '{fit}': {msg}",
                               f"bootpack: '{fit}': FAILED: 1 problem found"]
    if case == "kernel":
        out = tmp_path / "k"
        proc = bp(bootpack, "fit", "extract", fit, "--config", "conf-1", "--kind", "kernel",
                  "-o", out)
        assert_one_error(proc, f"bootpack: '{fit}': configuration 'conf-1': kernel 'kernel-x' is "
                               "not an image in /images")


def test_verify_compressed_kernel_noload_warning(bootpack, build, small_kernel):
    fit = build("-c", "lzo", kernel=small_kernel)
    proc = verify(bootpack, fit)
    assert proc.returncode == 0
    lines = err_lines(proc)
    assert len(lines) == 1
    assert lines[0].startswith(f"bootpack: '{fit}': warning: kernel: compressed (lzo) "
                               "kernel_noload image: U-Boot")
    assert "--load-address" in lines[0]
    assert proc.stdout.decode().splitlines()[-1].endswith("0 hashes checked, 1 warning)")
    # The cure the warning names: type "kernel" with a load address.
    fixed = build("-c", "lzo", "--load-address", "0x40200000", kernel=small_kernel)
    proc = verify(bootpack, fixed)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode()
    # Uncompressed kernel_noload is fine as it is.
    proc = verify(bootpack, build("-c", "none", kernel=small_kernel))
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode()


def kernel_stream_edit(kind, stored):
    if kind == "truncated":
        return stored[:-16]
    data = bytearray(stored)
    if kind == "checksum":              # the trailing integrity check of the format
        data[-6] ^= 0x5a
    return bytes(data)


@pytest.mark.parametrize("comp,kind", [(c, "truncated") for c in COMPRESSIONS if c != "none"] +
                         [("gzip", "checksum"), ("zstd", "checksum"), ("lz4", "checksum"),
                          ("bzip2", "checksum")])
def test_verify_decompress_finds_corrupt_stream(bootpack, build, small_kernel, tmp_path,
                                                comp, kind):
    """The hash is recomputed over the damaged stream, so only decompressing
    can tell: plain verify passes, --decompress fails naming the image."""
    src = build("-c", comp, "--hash", "sha256,crc32", kernel=small_kernel)
    bad = kernel_stream_edit(kind, Raw(src).stored("kernel"))
    assert cli_rejects(bad, comp), "the CLI tool accepts the damaged stream; bad test input"

    def edit(fdt):
        node = fdt.path_offset("/images/kernel")
        fdt.setprop(node, "data", bad)
        recompute_hashes(fdt, "/images/kernel", bad)
    fit = edit_fit(src, edit, tmp_path / "f.fit")
    assert Raw(fit).stored("kernel") == bad
    proc = verify(bootpack, fit)
    assert proc.returncode == 0, proc.stderr.decode()
    proc = verify(bootpack, "--decompress", fit)
    assert proc.returncode == 1
    lines = err_lines(proc)
    assert any(line.startswith(f"bootpack: '{fit}': kernel: cannot decompress {comp} data: ")
               for line in lines), lines
    assert lines[-1] == f"bootpack: '{fit}': FAILED: 1 problem found"
    proc = bp(bootpack, "fit", "extract", fit, "kernel", "-o", tmp_path / "k")
    assert proc.returncode == 1 and len(err_lines(proc)) == 1
    assert err_lines(proc)[0].startswith(
        f"bootpack: '{fit}': image 'kernel': cannot decompress {comp} data: ")
    assert_dir(tmp_path, ["f.fit"])


def test_verify_decompress_max_size(bootpack, build, small_kernel):
    fit = build("-c", "zstd", "--load-address", "0x1000", kernel=small_kernel)
    size = small_kernel.stat().st_size
    proc = verify(bootpack, "--decompress", "--max-size", str(size), fit)
    assert proc.returncode == 0, proc.stderr.decode()
    assert f"kernel: zstd data decompresses to {size} bytes, an arm64 Linux Image" in \
        proc.stdout.decode().splitlines()
    proc = verify(bootpack, "--decompress", "--max-size", str(size - 1), fit)
    assert proc.returncode == 1
    assert any(line.startswith(f"bootpack: '{fit}': kernel: cannot decompress zstd data: ")
               for line in err_lines(proc)), err_lines(proc)


def replace_in_place(fit, image, new):
    """Same-size replacement of an image's stored bytes, hash values rewritten."""
    r = Raw(fit)
    start, size = r.extent(image)
    assert len(new) == size
    patch(fit, start, new)
    for s_ in r.subnodes(f"/images/{image}"):
        if s_.startswith("hash"):
            algo = pstr(r.prop(f"/images/{image}/{s_}", "algo"))
            patch(fit, r.value_offset(f"/images/{image}/{s_}", "value")[0], digest(algo, new))


@pytest.mark.parametrize("comp", ["none", "gzip"])
def test_verify_flat_dt_that_is_not_a_dtb(bootpack, build, small_kernel, tmp_path, comp):
    junk = b"this is not a devicetree, just some text " * 40
    want_tail = ("fdt-2: data is not a usable devicetree (not a devicetree blob: bad magic "
                 "0x74686973 (expected 0xd00dfeed))")
    if comp == "none":      # -E: in place, same size (and no embedded-alignment bug)
        src = build("-c", "none", "-E", "--hash", "md5", kernel=small_kernel)
        fit = build.copy(src, tmp_path, "f.fit")
        replace_in_place(fit, "fdt-2", junk[:Raw(fit).extent("fdt-2")[1]])
    else:
        packed = subprocess.run(["gzip", "-c"], input=junk, stdout=subprocess.PIPE,
                                check=True).stdout

        def edit(fdt):
            fdt.setprop(fdt.path_offset("/images/fdt-2"), "data", packed)
            recompute_hashes(fdt, "/images/fdt-2", packed)
        fit = edit_fit(build("-c", comp, "--hash", "md5", "--load-address", "0x80000",
                             kernel=small_kernel), edit, tmp_path / "f.fit")
    proc = verify(bootpack, fit)
    if comp == "none":
        assert proc.returncode == 1
        assert err_lines(proc) == [f"bootpack: '{fit}': {want_tail}",
                                   f"bootpack: '{fit}': FAILED: 1 problem found"]
    else:
        assert proc.returncode == 0, proc.stderr.decode()    # cannot see inside unless asked
        proc = verify(bootpack, "--decompress", fit)
        assert proc.returncode == 1
        assert err_lines(proc) == [f"bootpack: '{fit}': {want_tail}",
                                   f"bootpack: '{fit}': FAILED: 1 problem found"]


@pytest.mark.parametrize("comp", ["none", "lz4"])
def test_verify_arm64_kernel_without_magic(bootpack, build, small_kernel, tmp_path, comp):
    data = bytearray(small_kernel.read_bytes())
    data[0x38:0x3c] = b"\0\0\0\0"
    kernel = tmp_path / "Image"
    kernel.write_bytes(bytes(data))
    fit = build("-c", comp, "-E", "--load-address", "0x80000", kernel=kernel,
                name=f"nomagic-{comp}.fit")
    msg = (f"bootpack: '{fit}': kernel: data is not an arm64 Linux Image (no \"ARM\\x64\" magic "
           "at offset 0x38): U-Boot stops with \"Bad Linux ARM64 Image magic!\"")
    args = ["--decompress"] if comp != "none" else []
    proc = verify(bootpack, *args, fit)
    assert proc.returncode == 1
    assert err_lines(proc) == [msg, f"bootpack: '{fit}': FAILED: 1 problem found"]
    if comp != "none":
        assert verify(bootpack, fit).returncode == 0
    # The magic is an arm64 rule: the same bytes as an arm kernel are fine.
    arm = tmp_path / "arm.fit"
    ok(bp(bootpack, "fit", "build", "-o", arm, "-A", "arm", "-O", "linux", "-n", "x",
          "-k", kernel, "-c", comp, "-E", "--load-address", "0x80000",
          build.samples / "demo-a.dtb"))
    proc = verify(bootpack, *args, arm)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode()


def test_verify_kernel_type_without_load(bootpack, build, small_kernel, tmp_path):
    def edit(fdt):
        node = fdt.path_offset("/images/kernel")
        fdt.setprop_str(node, "type", "kernel")
        fdt.delprop(node, "load")
    fit = edit_fit(build(kernel=small_kernel), edit, tmp_path / "f.fit")
    proc = verify(bootpack, fit)
    assert proc.returncode == 1
    assert err_lines(proc) == [
        f"bootpack: '{fit}': kernel: type 'kernel' needs a 'load' address (U-Boot cannot "
        "place it)", f"bootpack: '{fit}': FAILED: 1 problem found"]


def test_verify_several_files(bootpack, build, small_kernel, ws):
    good = build("-E", "--load-address", "0x80000", "--hash", "crc32", kernel=small_kernel)
    bad = ws / "plain.dtb"
    shutil.copyfile(build.samples / "demo-a.dtb", bad)
    proc = verify(bootpack, good, bad, good)
    assert proc.returncode == 1
    out = proc.stdout.decode().splitlines()
    assert sum(line.startswith(f"{good}: OK (") for line in out) == 2
    assert err_lines(proc) == [f"bootpack: '{bad}': not a FIT image: the devicetree has no "
                               "/images node"]


@pytest.mark.parametrize("what", ["plain-dtb", "random", "empty", "missing", "directory",
                                  "truncated-header"])
@pytest.mark.parametrize("cmd", ["verify", "list", "list-json", "extract"])
def test_not_a_fit(bootpack, samples, build, tmp_path, cmd, what):
    path = tmp_path / "input"
    if what == "plain-dtb":
        shutil.copyfile(samples / "demo-b.dtb", path)
        msg = "not a FIT image: the devicetree has no /images node"
    elif what == "random":
        path.write_bytes(hashlib.sha512(b"random").digest() * 4)
        magic = int.from_bytes(path.read_bytes()[:4], "big")
        msg = f"not a devicetree blob: bad magic {magic:#010x} (expected 0xd00dfeed)"
    elif what == "empty":
        path.write_bytes(b"")
        msg = "not a devicetree blob: file is 0 bytes, shorter than the 40-byte header"
    elif what == "missing":
        msg = "cannot open: No such file or directory"
    elif what == "truncated-header":
        fit = build("-c", "none")
        path.write_bytes(fit.read_bytes()[:1000])
        msg = (f"devicetree is truncated: header totalsize is {Raw(fit).totalsize} bytes but "
               "the file has only 1000")
    else:
        path.mkdir()
        msg = "is a directory, not a file"
    args = {"verify": ["fit", "verify", path], "list": ["fit", "list", path],
            "list-json": ["fit", "list", "--json", path],
            "extract": ["fit", "extract", path, "kernel", "-o", tmp_path / "out"]}[cmd]
    proc = bp(bootpack, *args)
    assert_one_error(proc, f"bootpack: '{path}': {msg}")
    if cmd == "list-json":
        assert json.loads(proc.stdout) == []
    else:
        assert proc.stdout == b""
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("cmd,args,msg", [
    ("fit verify", [], "no FIT file given"),
    ("fit list", [], "no FIT file given"),
    ("fit list", ["--xml", "F"], "unknown option '--xml'"),
    ("fit verify", ["-j", "257", "F"], "--jobs '257': expected a number from 0 (all CPUs) to 256"),
    ("fit verify", ["-j", "-1", "F"], "--jobs '-1': expected a number from 0 (all CPUs) to 256"),
    ("fit verify", ["--max-size", "12X", "F"],
     "--max-size '12X': expected a byte count such as 512M or 2G"),
    ("fit verify", ["--max-size"], "option '--max-size' needs an argument"),
])
def test_inspect_usage_errors(bootpack, build, cmd, args, msg):
    fit = build("-c", "none")
    proc = bp(bootpack, *cmd.split(), *[fit if a == "F" else a for a in args])
    assert_usage(proc, cmd, msg)


def test_help(bootpack):
    for cmd in ("list", "extract", "verify"):
        proc = ok(bp(bootpack, "fit", cmd, "--help"))
        assert proc.stdout.startswith(f"Usage: bootpack fit {cmd}".encode())
        assert proc.stderr == b""
    text = ok(bp(bootpack, "--help")).stdout.decode()
    for cmd in ("fit list", "fit extract", "fit verify"):
        assert cmd in text


# --------------------------------------------------------------------------
# fit build --hash / --default-config / --load-address / --entry-address

def its_for(fit, raw_dir, bootpack, samples, initrd, dtbs, hashes, load=None, entry=None):
    """An .its describing the same FIT by hand, data taken with fit extract --raw."""
    r = Raw(fit)
    comp = pstr(r.prop("/images/kernel", "compression"))
    files = {}
    for name in r.images():
        out = raw_dir / f"{name}.raw"
        ok(bp(bootpack, "fit", "extract", fit, name, "--raw", "-o", out))
        assert out.read_bytes() == r.stored(name)
        files[name] = out

    def hash_nodes(indent):
        return "".join(f'{indent}hash-{i} {{\n{indent}\talgo = "{a}";\n{indent}}};\n'
                       for i, a in enumerate(hashes, 1))
    ktype = "kernel" if load is not None else "kernel_noload"
    load = load or 0
    entry = entry if entry is not None else load
    cells = 2 if max(load, entry) > 0xffffffff else 1

    def addr(v):
        return f"<0x{v >> 32:x} 0x{v & 0xffffffff:x}>" if cells == 2 else f"<0x{v:x}>"
    text = f"""/dts-v1/;
/ {{
	description = "Linux-inspect with devicetree set";
	#address-cells = <{cells}>;
	timestamp = <{EPOCH}>;
	images {{
		kernel {{
			description = "Linux-inspect";
			type = "{ktype}";
			arch = "arm64";
			os = "linux";
			compression = "{comp}";
			data = /incbin/("{files['kernel']}");
			load = {addr(load)};
			entry = {addr(entry)};
{hash_nodes(chr(9) * 3)}		}};
		ramdisk {{
			description = "Ramdisk";
			type = "ramdisk";
			arch = "arm64";
			os = "linux";
			compression = "none";
			data = /incbin/("{files['ramdisk']}");
			load = {addr(0)};
{hash_nodes(chr(9) * 3)}		}};
"""
    for i, dtb in enumerate(dtbs, 1):
        text += f"""		fdt-{i} {{
			description = "{dtb}";
			type = "flat_dt";
			arch = "arm64";
			compression = "{comp}";
			data = /incbin/("{files[f'fdt-{i}']}");
{hash_nodes(chr(9) * 3)}		}};
"""
    text += "\t};\n\tconfigurations {\n"
    for i, dtb in enumerate(dtbs, 1):
        root = libfdt.FdtRo((samples / dtb).read_bytes())
        compat = bytes(root.getprop(0, "compatible"))
        model = pstr(root.getprop(0, "model"))
        compat_its = ", ".join(f'"{s.decode()}"' for s in compat.split(b"\0")[:-1])
        text += f"""		conf-{i} {{
			compatible = {compat_its};
			description = "{model}";
			fdt = "fdt-{i}";
			kernel = "kernel";
			ramdisk = "ramdisk";
		}};
"""
    text += "\t};\n};\n"
    return text


@pytest.mark.parametrize("comp,mode,hashes", [
    ("none", "embedded", ALL_HASHES),
    ("gzip", "embedded", ALL_HASHES),
    ("lz4", "external", ALL_HASHES),
    ("zstd", "embedded", ["sha512", "crc32"]),
    ("bzip2", "external", ["md5"]),
])
def test_build_hash_matches_mkimage(bootpack, build, samples, initrd, tmp_path, comp, mode,
                                    hashes):
    dtbs = ["demo-a.dtb", "demo-b.dtb"]
    external = ["-E"] if mode == "external" else []
    fit = build("-c", comp, *external, "-r", initrd, "--hash", ",".join(hashes), dtbs=dtbs)
    its = tmp_path / "same.its"
    its.write_text(its_for(fit, tmp_path, bootpack, samples, initrd, dtbs, hashes))
    ref = tmp_path / "mkimage.fit"
    run(["mkimage", *external, "-f", its, ref], env=dict(os.environ, SOURCE_DATE_EPOCH=EPOCH))
    ours, theirs = Fit.load(fit), Fit.load(ref)
    try:
        compare_fits(theirs, ours, expect_timestamp=int(EPOCH))
    except FitMismatch as exc:
        pytest.fail(f"bootpack --hash differs from mkimage:\n{exc}", pytrace=False)
    for node in ours.images():
        names = [c.name for c in node.children]
        assert names == [f"hash-{i}" for i in range(1, len(hashes) + 1)]
        for i, algo in enumerate(hashes, 1):
            h = node.child(f"hash-{i}")
            assert h.prop_names() == theirs.node(h.path).prop_names() == ["value", "algo"]
            assert h.get("value") == theirs.node(h.path).get("value")
            assert h.get("value") == digest(algo, ours.stored_data(node))
    # fdtdump shows the same hash nodes (values as bytes) for both.
    dump = run(["fdtdump", fit]).stdout.decode(errors="replace")
    ref_dump = run(["fdtdump", ref]).stdout.decode(errors="replace")
    pick = re.compile(r"hash-\d+ \{\s+value = [^;]*;\s+algo = \"[a-z0-9]+\";", re.S)
    assert pick.findall(dump) == pick.findall(ref_dump) != []


def test_build_hash_with_load_address_matches_mkimage(bootpack, build, samples, initrd,
                                                      tmp_path):
    dtbs = ["demo-c.dtb"]
    fit = build("-c", "lzma", "-r", initrd, "--hash", "sha256", "--load-address", "0x40480000",
                "--entry-address", "0x40480040", dtbs=dtbs)
    its = tmp_path / "same.its"
    its.write_text(its_for(fit, tmp_path, bootpack, samples, initrd, dtbs, ["sha256"],
                           load=0x40480000, entry=0x40480040))
    ref = tmp_path / "mkimage.fit"
    run(["mkimage", "-f", its, ref], env=dict(os.environ, SOURCE_DATE_EPOCH=EPOCH))
    try:
        compare_fits(Fit.load(ref), Fit.load(fit), expect_timestamp=int(EPOCH))
    except FitMismatch as exc:
        pytest.fail(f"bootpack differs from mkimage:\n{exc}", pytrace=False)


@pytest.mark.parametrize("bad,msg", [
    ("sha256,sha256", "--hash: 'sha256' is given twice"),
    ("crc32,md5,crc32", "--hash: 'crc32' is given twice"),
    ("sha3", "--hash 'sha3': unknown hash algorithm (expected crc16-ccitt, crc32, md5, sha1, "
             "sha256, sha384 or sha512)"),
    ("SHA256", "--hash 'SHA256': unknown hash algorithm (expected crc16-ccitt, crc32, md5, "
               "sha1, sha256, sha384 or sha512)"),
    (",", "--hash ',': no algorithm given"),
])
def test_build_bad_hash(bootpack, samples, small_kernel, tmp_path, bad, msg):
    proc = bp(bootpack, "fit", "build", "-o", tmp_path / "o.fit", *ARCH, "-k", small_kernel,
              "--hash", bad, samples / "demo-a.dtb")
    assert_usage(proc, "fit build", msg)
    assert_dir(tmp_path, [])


def test_build_default_config(bootpack, build, tmp_path):
    fit = build("-E", "--default-config", "conf-3",
                dtbs=("demo-a.dtb", "demo-b.dtb", "demo-c.dtb"))
    out = run(["fdtget", fit, "/configurations", "default"]).stdout.decode()
    assert out == "conf-3\n"
    # First in /configurations, as a hand-written .its has it.
    assert [n for n, _, _ in Raw(fit).props("/configurations")] == ["default"]
    assert dumpimage_list(fit)[2] == "conf-3"
    assert list_json(bootpack, fit)[0]["default_config"] == "conf-3"
    assert verify(bootpack, fit).returncode == 0
    # Without the option there is no default (as make_fit.py).
    plain = build(dtbs=("demo-a.dtb", "demo-b.dtb", "demo-c.dtb"))
    assert Raw(plain).prop("/configurations", "default") is None


@pytest.mark.parametrize("name", ["conf-0", "conf-4", "conf-99", "foo", "conf-01", "conf-1x",
                                  "conf-", "", "fdt-1"])
def test_build_default_config_rejected(bootpack, samples, small_kernel, tmp_path, name):
    out = tmp_path / "o.fit"
    proc = bp(bootpack, "fit", "build", "-o", out, *ARCH, "-k", small_kernel,
              "--default-config", name, *[samples / d for d in ("demo-a.dtb", "demo-b.dtb",
                                                                 "demo-c.dtb")])
    assert proc.returncode in (1, 2), proc.stderr
    lines = err_lines(proc)
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("Try ")), lines
    assert f"'{name}'" in lines[0] and "does not exist" in lines[0], lines
    assert "conf-1 to conf-3" in lines[0]
    assert_dir(tmp_path, [])


def test_build_default_config_without_dtbs(bootpack, small_kernel, tmp_path):
    proc = bp(bootpack, "fit", "build", "-o", tmp_path / "o.fit", *ARCH, "-k", small_kernel,
              "--default-config", "conf-1")
    assert proc.returncode in (1, 2)
    assert "no DTBs were given" in proc.stderr.decode()
    assert_dir(tmp_path, [])


@pytest.mark.parametrize("load,entry", [
    ("0x40080000", None), ("0x40080000", "0x40080800"), ("40080000", None), ("0", "0x0"),
    ("0xffffffff", None), ("0X40200000", "40200800"),
])
def test_build_load_entry_address(bootpack, build, small_kernel, load, entry):
    extra = ["--load-address", load] + (["--entry-address", entry] if entry else [])
    fit = build("-c", "gzip", *extra, kernel=small_kernel)
    # Hexadecimal with or without 0x, as mkimage -a reads addresses.
    want_load = int(load, 16)
    want_entry = int(entry, 16) if entry else want_load
    assert run(["fdtget", fit, "/images/kernel", "type"]).stdout == b"kernel\n"
    assert run(["fdtget", "-tx", fit, "/images/kernel", "load"]).stdout.decode() == \
        f"{want_load:x}\n"
    assert run(["fdtget", "-tx", fit, "/images/kernel", "entry"]).stdout.decode() == \
        f"{want_entry:x}\n"
    assert run(["fdtget", "-tx", fit, "/", "#address-cells"]).stdout == b"1\n"
    images, _, _ = dumpimage_list(fit)
    assert images[0]["Type"] == "Kernel Image"
    assert int(images[0]["Load Address"], 16) == want_load
    assert int(images[0]["Entry Point"], 16) == want_entry
    got = list_json(bootpack, fit)[0]["images"][0]
    assert (got["type"], got["load"], got["entry"]) == ("kernel", want_load, want_entry)
    proc = verify(bootpack, fit)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode()


@pytest.mark.parametrize("load,entry", [("0x880000000", None), ("0x1000", "0x100000000"),
                                        ("0x100000000", "0xffffffff00000000")])
def test_build_64bit_addresses(bootpack, build, small_kernel, initrd, load, entry):
    extra = ["--load-address", load] + (["--entry-address", entry] if entry else [])
    fit = build("-r", initrd, *extra, kernel=small_kernel)
    want_load = int(load, 0)
    want_entry = int(entry, 0) if entry else want_load
    r = Raw(fit)
    assert r.prop("/", "#address-cells") == (2).to_bytes(4, "big")
    assert r.prop("/images/kernel", "load") == want_load.to_bytes(8, "big")
    assert r.prop("/images/kernel", "entry") == want_entry.to_bytes(8, "big")
    # Every address follows #address-cells, the ramdisk's too.
    assert r.prop("/images/ramdisk", "load") == bytes(8)
    assert run(["fdtget", "-tx", fit, "/images/kernel", "load"]).stdout.decode() == \
        f"{want_load >> 32:x} {want_load & 0xffffffff:x}\n"
    images, _, _ = dumpimage_list(fit)
    assert int(images[0]["Load Address"], 16) == want_load
    assert int(images[0]["Entry Point"], 16) == want_entry
    got = list_json(bootpack, fit)[0]["images"]
    assert (got[0]["load"], got[0]["entry"]) == (want_load, want_entry)
    assert got[1]["load"] == 0
    proc = verify(bootpack, fit)
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.mark.parametrize("args,msg", [
    (["--entry-address", "0x1000"], "--entry-address needs --load-address"),
    (["--load-address", "0x4008000g"],
     "--load-address '0x4008000g': expected an address (e.g. 0x40200000)"),
    (["--load-address", "-1"], "--load-address '-1': expected an address (e.g. 0x40200000)"),
    (["--load-address", "0x10000000000000000"],
     "--load-address '0x10000000000000000': expected an address (e.g. 0x40200000)"),
    (["--load-address", ""], "--load-address '': expected an address (e.g. 0x40200000)"),
    (["--load-address", "0x1000", "--entry-address", "x"],
     "--entry-address 'x': expected an address (e.g. 0x40200000)"),
])
def test_build_bad_addresses(bootpack, samples, small_kernel, tmp_path, args, msg):
    proc = bp(bootpack, "fit", "build", "-o", tmp_path / "o.fit", *ARCH, "-k", small_kernel,
              *args, samples / "demo-a.dtb")
    assert_usage(proc, "fit build", msg)
    assert_dir(tmp_path, [])


def test_build_new_options_in_help(bootpack):
    text = ok(bp(bootpack, "fit", "build", "--help")).stdout.decode()
    for opt in ("--hash", "--default-config", "--load-address", "--entry-address"):
        assert opt in text


# --------------------------------------------------------------------------
# odds and ends

def test_signature_and_config_hash_nodes(bootpack, build, small_kernel, tmp_path):
    """Signature nodes are counted and reported as not checked, wherever they are;
    hash nodes in a configuration are flagged (U-Boot ignores them)."""
    def edit(fdt):
        kernel = fdt.path_offset("/images/kernel")
        sig = fdt.add_subnode(kernel, "signature-1")
        fdt.setprop_str(sig, "algo", "sha256,rsa2048")
        fdt.setprop(sig, "value", bytes(256))
        conf = fdt.path_offset("/configurations/conf-1")
        sig = fdt.add_subnode(conf, "signature-1")
        fdt.setprop_str(sig, "algo", "sha256,rsa2048")
        fdt.setprop_str(sig, "key-name-hint", "dev")
        fdt.setprop(sig, "value", bytes(256))
        h = fdt.add_subnode(fdt.path_offset("/configurations/conf-2"), "hash-1")
        fdt.setprop_str(h, "algo", "sha1")
    fit = edit_fit(build("-c", "gzip", "--load-address", "0x80000", "--hash", "sha1",
                         kernel=small_kernel), edit, tmp_path / "f.fit")
    got = list_json(bootpack, fit)[0]
    assert_listing_equal(got, expected_listing(fit))
    assert [im["signatures"] for im in got["images"]] == [1, 0, 0]
    assert [c["signatures"] for c in got["configurations"]] == [1, 0]
    proc = verify(bootpack, fit)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = err_lines(proc)
    assert f"bootpack: '{fit}': warning: kernel: signature node present: not checked " \
        "without a control devicetree's keys" in lines
    assert any(line.startswith(f"bootpack: '{fit}': warning: conf-2: hash nodes in a "
                               "configuration are ignored by U-Boot") for line in lines), lines
    # The configuration signature is the one verified boot relies on: verify
    # must not report OK without saying it was not checked either.
    assert any(line.startswith(f"bootpack: '{fit}': warning: conf-1: ") and "signature" in line
               for line in lines), lines


def test_no_configurations_node(bootpack, tmp_path):
    sw = libfdt.FdtSw()
    sw.finish_reservemap()
    with sw.add_node(""):
        sw.property_string("description", "images only")
        with sw.add_node("images"):
            with sw.add_node("blob"):
                sw.property_string("type", "firmware")
                sw.property_string("compression", "none")
                sw.property("data", b"firmware bytes")
                with sw.add_node("hash-1"):
                    sw.property("value", digest("sha256", b"firmware bytes"))
                    sw.property_string("algo", "sha256")
    fit = tmp_path / "f.fit"
    fit.write_bytes(bytes(sw.as_fdt().as_bytearray()))
    got = list_json(bootpack, fit)[0]
    assert_listing_equal(got, expected_listing(fit))
    assert got["configurations"] == [] and got["default_config"] is None
    assert got["timestamp"] is None
    proc = verify(bootpack, fit)
    assert proc.returncode == 0
    assert err_lines(proc) == [f"bootpack: '{fit}': warning: no /configurations node: bootm "
                               "needs an explicit image name"]
    out = tmp_path / "blob"
    ok(bp(bootpack, "fit", "extract", fit, "blob", "-o", out))
    assert out.read_bytes() == b"firmware bytes"


def test_data_position_wins_over_data_offset(bootpack, mk, small_kernel, tmp_path):
    """U-Boot's fit_image_get_data_and_size() takes data-position first."""
    fit = tmp_path / "f.fit"
    shutil.copyfile(mk["fits"]["position"], fit)
    r = Raw(fit)
    # Add a bogus data-offset next to kernel-1's data-position; the FDT grows
    # but stays below 0x3000, where mkimage -p put the first image.
    data = fit.read_bytes()
    fdt = libfdt.Fdt(bytearray(data[:r.totalsize]))
    fdt.resize(r.totalsize + 1024)
    fdt.setprop_u32(fdt.path_offset("/images/kernel-1"), "data-offset", 0x7ffffff0)
    fdt.pack()
    head = bytes(fdt.as_bytearray())
    assert len(head) <= 0x3000                      # the data still lies where -p put it
    fit.write_bytes(head + bytes(0x3000 - len(head)) + data[0x3000:])
    got = list_json(bootpack, fit)[0]
    kernel = got["images"][0]
    assert (kernel["data_offset"], kernel["problem"]) == (0x3000, None)
    out = tmp_path / "k"
    ok(bp(bootpack, "fit", "extract", fit, "kernel-1", "-o", out))
    assert out.read_bytes() == small_kernel.read_bytes()


def test_extract_file_mode_follows_umask(bootpack, build, tmp_path):
    fit = build("-c", "none")
    out = tmp_path / "dtb"
    old = os.umask(0o027)
    try:
        ok(bp(bootpack, "fit", "extract", fit, "fdt-1", "-o", out))
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o640


def test_verify_reports_content_checks(bootpack, build, samples, small_kernel):
    """Uncompressed images get their content named: the sample kernel carries
    the arm64 Image magic and every sample DTB parses."""
    fit = build("-c", "none", kernel=small_kernel)
    proc = verify(bootpack, fit)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert "kernel: data is an arm64 Linux Image" in lines
    n_fdt = len([n for n in Raw(fit).subnodes("/images") if n.startswith("fdt-")])
    assert n_fdt >= 1
    for i in range(1, n_fdt + 1):
        assert f"fdt-{i}: data is a well-formed devicetree" in lines, lines
