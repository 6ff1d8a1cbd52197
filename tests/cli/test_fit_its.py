# SPDX-License-Identifier: MIT
"""bootpack fit build --its against mkimage 2023.01 -f on the sources in its/.

Each case runs both tools on the same .its, inputs and SOURCE_DATE_EPOCH
(keys made at test time) and compares the results with Python libfdt, not
bootpack's reader: the same nodes and properties in the same order with the
same values, and the same bytes after the tree (external data). Unsigned
FITs must also have the same header sizes and strings block: they are
byte-identical except padding, where mkimage leaves stale bytes (libfdt does
not clear the padding after a value whose length is not a multiple of 4, nor
mkimage the gap -B leaves at the tree's end); bootpack writes zeros. Signed FITs differ only in signer-name and signer-version ("mkimage",
"2023.01" against "bootpack", its version) and in the offsets those shift:
RSA PKCS#1 v1.5 is deterministic, so every signature value must match.
"""

import hashlib
import os
import shutil
from pathlib import Path

import libfdt
import pytest

from conftest import run
from signkeys import EPOCH, sign_keys  # noqa: F401

ITS_DIR = Path(__file__).parent / "its"
SIGNER = ("signer-name", "signer-version")
SAMPLE_INPUTS = ("Image", "demo-a.dtb", "demo-b.dtb", "demo-c.dtb", "demo-d.dtb",
                 "demo-overlay.dtbo")


def _pseudo(seed, size):
    out, h = bytearray(), seed.encode()
    while len(out) < size:
        h = hashlib.sha256(h).digest()
        out += h
    return bytes(out[:size])


@pytest.fixture(scope="session")
def its_inputs(samples, tmp_path_factory):
    """A directory holding every input the sources name (sample files and small
    generated ones of odd sizes)."""
    d = tmp_path_factory.mktemp("its-inputs")
    for name in SAMPLE_INPUTS:
        shutil.copy(samples / name, d / name)
    (d / "initrd.img").write_bytes(_pseudo("initrd", 70001))
    (d / "fpga.bin").write_bytes(_pseudo("fpga", 12345))
    (d / "boot.scr").write_text("echo booting\nload mmc 0:1 ${kernel_addr_r} Image\nbooti\n")
    (d / "firmware.bin").write_bytes(_pseudo("firmware", 3001))
    (d / "xen.bin").write_bytes(_pseudo("xen", 9999))
    for its in [*ITS_DIR.glob("*.its"), *ITS_DIR.glob("*.dtsi")]:
        shutil.copy(its, d / its.name)
    return d


def tree(path):
    """(header sizes, [(path, property, value)] in order) read with libfdt."""
    data = Path(path).read_bytes()
    fdt = libfdt.FdtRo(data)
    out, stack, depth, node = [], [], 0, 0
    while True:
        name = fdt.get_name(node) if node else ""
        del stack[depth:]
        stack.append(name)
        where = "/".join(stack) or "/"
        out.append((where, None, None))
        prop = fdt.first_property_offset(node, (libfdt.NOTFOUND,))
        while prop >= 0:
            p = fdt.get_property_by_offset(prop)
            value = bytes(p)
            if p.name in SIGNER:
                value = b"<signer>"
            out.append((where, p.name, value))
            prop = fdt.next_property_offset(prop, (libfdt.NOTFOUND,))
        node, depth = fdt.next_node(node, depth, (libfdt.NOTFOUND,))
        if node < 0 or depth <= 0:
            break
    return fdt, data, out


def compare(ref, got, signed):
    rf, rdata, rtree = tree(ref)
    gf, gdata, gtree = tree(got)
    for i, (a, b) in enumerate(zip(rtree, gtree)):
        assert a == b, f"entry {i}: mkimage {a[:2]} != bootpack {b[:2]}"
    assert len(rtree) == len(gtree)
    # The external data, where -E put it, byte for byte.
    assert rdata[rf.totalsize():] == gdata[gf.totalsize():]
    if signed:
        return
    for field in ("totalsize", "off_dt_struct", "off_dt_strings", "off_mem_rsvmap",
                  "size_dt_struct", "size_dt_strings", "version", "last_comp_version"):
        assert getattr(rf, field)() == getattr(gf, field)(), field
    strings = slice(rf.off_dt_strings(), rf.off_dt_strings() + rf.size_dt_strings())
    assert rdata[strings] == gdata[strings]
    # bootpack's padding (after short values, at the tree's end) is zeros.
    assert gdata[strings.stop:gf.totalsize()] == bytes(gf.totalsize() - strings.stop)


# (source, options, signing): KEYS and CTRL stand for the key directory and a
# fresh copy of a control devicetree.
CASES = [
    ("kernel_fdt.its", [], False),
    ("kernel_fdt.its", ["-E"], False),
    ("kernel_fdt_ramdisk.its", ["-E", "-B", "1000"], False),
    ("multi.its", [], False),
    ("loadables.its", ["-E", "-p", "100000"], False),
    ("fpga.its", [], False),
    ("script.its", ["-E"], False),
    ("overlay.its", [], False),
    ("openwrt-mkits.its", [], False),
    ("sign-configs.its", [], False),            # no -k: nodes stay unsigned, as mkimage leaves them
    ("sign-configs.its", ["-k", "KEYS"], True),
    ("sign-configs.its", ["-E", "-k", "KEYS", "-K", "CTRL", "-r"], True),
    ("sign-images.its", ["-k", "KEYS", "-K", "CTRL"], True),
    ("yocto-kernel-fitimage.its", ["-E", "-k", "KEYS", "-K", "CTRL", "-r"], True),
    ("two-keys.its", ["-k", "KEYS", "-K", "CTRL", "-r"], True),
    ("incbin-forms.its", ["-E"], False),
]


@pytest.mark.parametrize("source,opts,signed", CASES,
                         ids=[f"{c[0][:-4]}{''.join(c[1]).replace('KEYS', '').replace('CTRL', '')}"
                              for c in CASES])
def test_its_matches_mkimage(bootpack, its_inputs, sign_keys, tmp_path, source, opts,  # noqa: F811
                             signed):
    ctrl = None
    if "KEYS" in opts:
        sign_keys.rsa("dev")
        sign_keys.rsa("dev3072", 3072)
    if "CTRL" in opts:
        ctrl = tmp_path / "ctrl"
        ctrl.mkdir()
        shutil.copy(sign_keys.control(), ctrl / "m.dtb")
        shutil.copy(sign_keys.control(), ctrl / "b.dtb")
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)

    def args(which):
        # --key-out for bootpack: the test guard knows it names an output.
        return [str(sign_keys.dir) if o == "KEYS" else str(ctrl / which) if o == "CTRL" else
                "--key-out" if o == "-K" and which == "b.dtb" else o for o in opts]
    ref, got = tmp_path / "mkimage.itb", tmp_path / "bootpack.itb"
    run(["mkimage", "-f", source, *args("m.dtb"), ref], cwd=its_inputs, env=env)
    proc = run([bootpack, "fit", "build", "--its", source, *args("b.dtb"), "-o", got],
               cwd=its_inputs, env=env)
    compare(ref, got, signed)
    if "@" in (its_inputs / source).read_text():
        # dtc's warnings reach the terminal, with the source line, as mkimage shows them.
        assert (f"bootpack: dtc: {source}:17.11-19.6: Warning (unit_address_vs_reg)"
                in proc.stderr.decode()), proc.stderr
    if ctrl:
        # The public keys, as mkimage -K (-r) writes them: same nodes and values.
        assert tree(ctrl / "m.dtb")[2] == tree(ctrl / "b.dtb")[2]


def test_its_mkimage_command_line(bootpack, its_inputs, tmp_path):
    """mkimage's own argument order: -f SOURCE [OPTIONS] OUTPUT."""
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    run(["mkimage", "-f", "multi.its", "-E", tmp_path / "m.itb"], cwd=its_inputs, env=env)
    run([bootpack, "fit", "build", "-f", "multi.its", "-E", tmp_path / "b.itb"],
        cwd=its_inputs, env=env)
    compare(tmp_path / "m.itb", tmp_path / "b.itb", False)


def test_its_include_path(bootpack, its_inputs, tmp_path):
    """-D replaces dtc's options as mkimage's does; /incbin/ files are found in the
    source's directory first, then in each -i directory."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(its_inputs / "kernel_fdt.its", src / "k.its")
    (src / "demo-a.dtb").write_bytes((its_inputs / "demo-b.dtb").read_bytes())
    dtc = f"-I dts -O dtb -p 1000 -i {its_inputs}"
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    run(["mkimage", "-D", dtc, "-f", src / "k.its", tmp_path / "m.itb"], env=env)
    run([bootpack, "fit", "build", "-D", dtc, "--its", src / "k.its", "-o", tmp_path / "b.itb"],
        env=env)
    compare(tmp_path / "m.itb", tmp_path / "b.itb", False)
    fdt = libfdt.FdtRo((tmp_path / "b.itb").read_bytes())
    fdt1 = fdt.path_offset("/images/fdt-1")
    assert bytes(fdt.getprop(fdt1, "data")) == (its_inputs / "demo-b.dtb").read_bytes()
    kernel = fdt.path_offset("/images/kernel")
    assert bytes(fdt.getprop(kernel, "data")) == (its_inputs / "Image").read_bytes()


def _many(n_images, n_signed):
    """@n_images devicetrees, each with a sha512 hash (76 bytes mkimage must
    find room for), and @n_signed signed configurations."""
    images = "".join(f"""
		fdt-{i} {{
			data = /incbin/("demo-{'abcd'[i % 4]}.dtb");
			type = "flat_dt";
			arch = "arm64";
			compression = "none";
			hash-1 {{ algo = "sha512"; }};
		}};""" for i in range(1, n_images + 1))
    confs = "".join(f"""
		conf-{i} {{
			fdt = "fdt-{i}";
			signature-1 {{ algo = "sha256,rsa2048"; key-name-hint = "dev"; }};
		}};""" for i in range(1, n_signed + 1))
    return f"""/dts-v1/;
/ {{
	description = "{n_images} hashed images";
	#address-cells = <1>;
	images {{{images}
	}};
	configurations {{
		default = "conf-1";{confs}
	}};
}};
"""


def test_its_more_than_mkimage_can_hold(bootpack, its_inputs, sign_keys, tmp_path):  # noqa: F811
    """mkimage grows the tree by 1 KiB per retry and gives up at 64 KiB of
    additions (FDT_ERR_NOSPACE, as on the 577-DTB corpus with signed
    configurations). bootpack sizes the tree once: it succeeds, and where
    mkimage still succeeds (500 images) the trees are the same."""
    sign_keys.rsa("dev")
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    keys = str(sign_keys.dir)
    ctrl = tmp_path / "ctrl.dtb"
    shutil.copy(sign_keys.control(), ctrl)
    for n, mkimage_ok in ((500, True), (900, False)):
        its = its_inputs / f"many-{n}.its"
        its.write_text(_many(n, 8))
        ref, got = tmp_path / f"m{n}.itb", tmp_path / f"b{n}.itb"
        proc = run(["mkimage", "-f", its, "-k", keys, ref], cwd=its_inputs, env=env,
                   check=False)
        run([bootpack, "fit", "build", "--its", its, "-k", keys, "--key-out", ctrl, "-r",
             "-o", got], cwd=its_inputs, env=env)
        if mkimage_ok:
            assert proc.returncode == 0
            compare(ref, got, True)
            continue
        assert proc.returncode != 0 and b"Can't add hashes to FIT blob: -28" in proc.stderr, \
            proc.stderr
        fdt = libfdt.FdtRo(got.read_bytes())
        for i in (1, 8):
            sig = fdt.path_offset(f"/configurations/conf-{i}/signature-1")
            assert len(fdt.getprop(sig, "value")) == 256
            nodes = bytes(fdt.getprop(sig, "hashed-nodes")).split(b"\0")[:-1]
            assert nodes == [b"/", f"/configurations/conf-{i}".encode(),
                             f"/images/fdt-{i}".encode(), f"/images/fdt-{i}/hash-1".encode()]
        last = fdt.path_offset(f"/images/fdt-{n}/hash-1")
        data = (its_inputs / f"demo-{'abcd'[n % 4]}.dtb").read_bytes()
        assert bytes(fdt.getprop(last, "value")) == hashlib.sha512(data).digest()
        # Every signature checks against the key -K wrote (bootpack's verifier).
        proc = run([bootpack, "fit", "verify", "--key", ctrl, got], env=env)
        assert proc.stdout.count(b"signature-1: sha256,rsa2048 verified with key 'dev'") == 8, \
            proc.stdout[-2000:]
