# SPDX-License-Identifier: MIT
"""Kbuild, for real: `make image.fit MAKE_FIT="bootpack fit build"`.

In Debian's linux-source-6.12 tree, configured and built by
scripts/build-zboot-kernels (kbuild-6.12: arm64 allnoconfig plus a few
platforms, about 40 DTBs of which 4 are composite, i.e. assembled by
fdtoverlay from a base .dtb and .dtbo overlays), Kbuild's own `image.fit`
rule (scripts/Makefile.lib cmd_fit) runs once with bootpack as MAKE_FIT
and once with its default, scripts/make_fit.py, for FIT_COMPRESSION=gzip
and for FIT_COMPRESSION=zstd FIT_DECOMPOSE_DTBS=1 (each `make` costs about
11 s of CPU however little it packs: it walks the whole tree to find Image
up to date, so the other two combinations are left out). The two image.fit
must be the same tree (fitcompare.compare_fits: same nodes, properties and
decompressed data; make_fit.py's timestamp is its clock's). Independently
of both tools, the kernel image must hold arch/arm64/boot/Image and each
configuration the DTB files Kbuild's dts Makefiles name for it (a
composite's `NAME-dtbs := BASE.dtb OVERLAY.dtbo` when decomposed).

The tree is shared (cached): `make` runs under the build script's lock,
must find Image up to date (it only packs), and the image.fit it writes is
moved out. make_fit.py's outputs are cached in $BOOTPACK_CACHE/ref-fits,
keyed by everything they depend on.
"""

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (BUILD_ZBOOT, _real_run, build_zboot, cache_root, file_digest, file_lock,
                      produce_once, run, tool_versions)
from fitcompare import Fit, compare_fits

KBUILD_TREE = "kbuild-6.12"
EPOCH = 1700000000
VARIANTS = [("gzip", False), ("zstd", True)]


class KbuildTree:
    def __init__(self, zdir, info):
        self.zdir = zdir
        self.info = info
        self.srctree = Path(info["srctree"])
        self.objtree = Path(info["objtree"])
        self.env = dict(e.split("=", 1) for e in info["env"])
        self.lock = zdir / ".lock"
        self.boot = self.objtree / "arch" / "arm64" / "boot"
        self.fit = self.boot / "image.fit"
        self.dtbs_list = self.boot / "dts" / "dtbs-list"


def read_info(path):
    info = {"env": []}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key == "env":
            info["env"].append(value)
        else:
            info[key] = value
    return info


@pytest.fixture(scope="session")
def kbuild_tree(request):
    """The kept kbuild-6.12 tree (scripts/build-zboot-kernels kbuild-6.12;
    from an empty cache `make check` builds it in the background)."""
    zdir = build_zboot(request, KBUILD_TREE, what=f"the {KBUILD_TREE} tree")
    tree = KbuildTree(zdir, read_info(zdir / KBUILD_TREE / "BUILD-INFO"))
    for p in (tree.srctree / "Makefile", tree.objtree / ".config", tree.boot / "Image",
              tree.dtbs_list):
        if not p.is_file():
            pytest.fail(f"{KBUILD_TREE} incomplete: {p} missing")
    return tree


def make_env(tree):
    env = dict(os.environ)
    # Not the outer make's (make check -> meson -> pytest).
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "KBUILD_OUTPUT",
              "ARCH", "CROSS_COMPILE", "MAKE_FIT", "FIT_COMPRESSION", "FIT_DECOMPOSE_DTBS",
              "KBUILD_VERBOSE", "V"):
        env.pop(k, None)
    env.update(tree.env, LC_ALL="C")
    # make_fit.py is run as "#!/usr/bin/env python3" and needs Debian's libfdt.
    env["PATH"] = "/usr/bin:" + env.get("PATH", "")
    return env


def make_image_fit(tree, out, comp, decompose, make_fit=None, extra_env=None):
    """Kbuild's `make image.fit` in the tree; its result moved to @out.
    Returns make's stdout. The caller holds the tree's lock."""
    cmd = ["make", "-C", tree.srctree, f"O={tree.objtree}", "ARCH=arm64",
           "CROSS_COMPILE=aarch64-linux-gnu-", f"-j{os.cpu_count() or 1}", "image.fit",
           f"FIT_COMPRESSION={comp}"]
    if decompose:
        cmd.append("FIT_DECOMPOSE_DTBS=1")
    if make_fit:
        cmd.append(f"MAKE_FIT={make_fit}")
    env = make_env(tree)
    env.update(extra_env or {})
    # if_changed would keep an image.fit whose command line is unchanged
    # (left by an earlier session's bootpack).
    tree.fit.unlink(missing_ok=True)
    image_stat = os.stat(tree.boot / "Image")
    proc = run(cmd, env=env, timeout=1800)
    log = proc.stdout.decode(errors="replace")
    after = os.stat(tree.boot / "Image")
    assert (after.st_mtime_ns, after.st_size) == (image_stat.st_mtime_ns, image_stat.st_size), \
        f"make rebuilt Image: the cached {KBUILD_TREE} tree is not up to date\n{log[-3000:]}"
    assert tree.fit.is_file(), f"make image.fit wrote no {tree.fit}\n{log[-3000:]}"
    shutil.move(tree.fit, out)
    return log


def tree_key(tree):
    """What `make image.fit` reads from the tree: Image, the list, every
    listed file and its .cmd (FIT_DECOMPOSE_DTBS reads those)."""
    h = hashlib.sha256(file_digest(tree.boot / "Image").encode())
    h.update(tree.info["kernelrelease"].encode() + b"\0")
    for e in tree.dtbs_list.read_text().split():
        p = tree.objtree / e
        h.update(e.encode() + b"\0" + file_digest(p).encode())
        cmd = p.with_name(f".{p.name}.cmd")
        if cmd.is_file():
            h.update(cmd.read_bytes())
    return h


def reference_fit(tree, comp, decompose):
    """image.fit from Kbuild with its default MAKE_FIT (scripts/make_fit.py)."""
    h = tree_key(tree)
    for part in ("kbuild-ref 1", file_digest(tree.srctree / "scripts" / "make_fit.py"),
                 tool_versions(), comp, str(decompose)):
        h.update(part.encode() + b"\0")
    ref_dir = cache_root() / "ref-fits"
    ref_dir.mkdir(parents=True, exist_ok=True)
    name = f"kbuild-{comp}-{'D' if decompose else 'd'}-{h.hexdigest()[:32]}.fit"

    def make(out):
        make_image_fit(tree, out, comp, decompose)
    path = produce_once(ref_dir / name, make)
    os.utime(path)  # in use: keep it from prune_ref_cache
    return path


def composite_rules(srctree):
    """{"NAME.dtb": ["BASE.dtb", "OVERLAY.dtbo", ...]} from the arm64 dts
    Makefiles' `NAME-dtbs := ...` lines (continuations joined)."""
    rules = {}
    for mk in (srctree / "arch" / "arm64" / "boot" / "dts").glob("*/Makefile"):
        text = mk.read_text().replace("\\\n", " ")
        for m in re.finditer(r"^([\w.+-]+)-dtbs\s*:?\+?=\s*(.*)$", text, re.M):
            rules.setdefault(f"{mk.parent.name}/{m.group(1)}.dtb", []).extend(m.group(2).split())
    return rules


def check_contents(tree, fit, decompose):
    """The FIT holds what the tree says, whatever the tools did."""
    dts = tree.boot / "dts"
    listed = [e for e in tree.dtbs_list.read_text().split() if e.endswith(".dtb")]
    rules = composite_rules(tree.srctree)
    images = {n.name: n for n in fit.images()}
    assert fit.payload(images["kernel"]) == (tree.boot / "Image").read_bytes()
    confs = fit.node("/configurations").children
    assert len(confs) == len(listed)
    composite = 0
    for conf, entry in zip(confs, listed):
        rel = str(Path(entry).relative_to("arch/arm64/boot/dts"))
        want = [rel]
        if rel in rules:
            composite += 1
            if decompose:
                want = [f"{Path(rel).parent}/{f}" for f in rules[rel]]
        fdts = bytes(conf.get("fdt")).rstrip(b"\0").decode().split("\0")
        got = [images[f] for f in fdts]
        assert [n.get_str("description") for n in got] == [Path(w).name for w in want], conf.path
        for node, w in zip(got, want):
            assert fit.payload(node) == (dts / w).read_bytes(), f"{conf.path}: {node.path} is not {w}"
    assert composite == int(tree.info["composite-dtbs"]) >= 4
    fdt_images = [n for n in images if n.startswith("fdt-")]
    if decompose:
        # Bases and overlays shared between configurations are stored once.
        assert len(fdt_images) < sum(len(c.get("fdt").split(b"\0")) - 1 for c in confs)


@pytest.mark.parametrize("comp,decompose", VARIANTS,
                         ids=[f"{c}{'-decompose' if d else ''}" for c, d in VARIANTS])
def test_make_image_fit(kbuild_tree, bootpack, tmp_path, comp, decompose):
    tree = kbuild_tree
    with file_lock(tree.lock):
        # Held by build-zboot-kernels while it builds: check it is still ours.
        if _real_run([str(BUILD_ZBOOT), "--cached", KBUILD_TREE], check=False,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            pytest.fail(f"{KBUILD_TREE} was reconfigured since the session started")
        ref = reference_fit(tree, comp, decompose)
        out = tmp_path / "image.fit"
        log = make_image_fit(tree, out, comp, decompose, make_fit=f"{bootpack} fit build",
                             extra_env={"SOURCE_DATE_EPOCH": str(EPOCH)})
        assert "FIT" in log and "arch/arm64/boot/image.fit" in log, log[-2000:]
        mine = Fit.load(out)
        check_contents(tree, mine, decompose)
    compare_fits(Fit.load(ref), mine, expect_timestamp=EPOCH)
