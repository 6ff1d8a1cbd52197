# SPDX-License-Identifier: MIT
"""bootpack's FITs read by other tools: U-Boot's dumpimage/mkimage, dtc's
fdtdump, and the command-line decompressors; plus the external-data
layout, -B alignment, reproducibility and -j invariance."""

import os
import re
import shutil
import subprocess
import zlib

import pytest

from conftest import COMPRESSIONS, MODES, bootpack_path, run
from fitcompare import Fit, FitMismatch, align, compare_fits

# What U-Boot prints for each FIT compression name.
UBOOT_COMPRESSION = {
    "none": "uncompressed",
    "gzip": "gzip compressed",
    "bzip2": "bzip2 compressed",
    "lz4": "lz4 compressed",
    "lzma": "lzma compressed",
    "lzo": "lzo compressed",
    "zstd": "zstd compressed",
}

CLI_DECOMPRESSORS = {
    "gzip": ["gzip", "-dc"],
    "bzip2": ["bzip2", "-dc"],
    "lz4": ["lz4", "-dc"],
    "lzma": ["xz", "--format=lzma", "-dc"],
    "lzo": ["lzop", "-dc"],
    "zstd": ["zstd", "-dc"],
}

EPOCH = "1700000000"


def expected_inputs(ds, fit, ramdisk=None):
    """Map image node name -> path of the input file it must hold."""
    want = {"kernel": ds.cwd / ds.kernel}
    for i, dtb in enumerate(ds.dtbs, 1):
        want[f"fdt-{i}"] = dtb
    if ramdisk is not None:
        want["ramdisk"] = ramdisk
    names = [n.name for n in fit.images()]
    assert sorted(names) == sorted(want), f"/images: {names}, expected {list(want)}"
    return want


def cli_decompress(data, comp):
    if comp == "none":
        return data
    cmd = CLI_DECOMPRESSORS[comp]
    proc = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed (exit {proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def parse_image_list(text):
    """dumpimage/mkimage -l output -> list of (index, name, {field: value})."""
    images = []
    current = None
    for line in text.splitlines():
        m = re.match(r"^ Image (\d+) \((.+)\)$", line)
        if m:
            current = (int(m.group(1)), m.group(2), {})
            images.append(current)
            continue
        if re.match(r"^ \S", line):       # Configuration N, Default Configuration...
            current = None
            continue
        m = re.match(r"^  ([A-Za-z ]+):\s+(.*)$", line)
        if m and current is not None:
            current[2][m.group(1).strip()] = m.group(2).strip()
    return images


def check_listing(tool_args, path, fit):
    proc = run([*tool_args, path])
    text = proc.stdout.decode(errors="replace")
    assert text.startswith("FIT description:"), text[:200]
    listed = parse_image_list(text)
    nodes = fit.images()
    assert [(i, n) for i, n, _ in listed] == [(i, n.name) for i, n in enumerate(nodes)], text
    for (_, name, fields), node in zip(listed, nodes):
        comp = fit.compression(node)
        assert fields.get("Compression") == UBOOT_COMPRESSION[comp], (name, fields)
        size = int(fields["Data Size"].split()[0])
        assert size == len(fit.stored_data(node)), (name, fields["Data Size"])
    return listed


def check_external_layout(fit, block=None):
    """The layout mkimage -E produces, plus bootpack's 8-byte DTB alignment.

    mkimage -E [-B block]: FDT header totalsize padded to 4 (or block); each
    image at an aligned position; zero padding; file ends at the last
    image's end rounded up to 4 (or block).
    """
    data = fit.data
    a = block or 4
    assert fit.totalsize % 4 == 0, f"totalsize {fit.totalsize:#x} not a multiple of 4"
    extents = []
    for node in fit.images():
        assert not node.has("data"), f"{node.path}: embedded data in an external FIT"
        extent = fit.image_extent(node)
        assert extent is not None, f"{node.path}: no data-offset/data-position"
        start, size = extent
        assert start % a == 0, f"{node.path}: data at {start:#x}, not {a}-aligned"
        if node.get_str("type") == "flat_dt":
            assert start % 8 == 0, f"{node.path}: flat_dt data at {start:#x}, not 8-aligned"
        extents.append((start, size, node.path))

    assert [e[2] for e in sorted(extents)] == [e[2] for e in extents], \
        "image data not stored in node order (mkimage -E keeps node order)"
    pos = fit.totalsize
    for start, size, path in sorted(extents):
        assert start >= pos, f"{path}: data at {start:#x} overlaps previous data/FDT (ends {pos:#x})"
        gap = data[pos:start]
        assert gap == bytes(len(gap)), f"non-zero padding before {path} at [{pos:#x}, {start:#x})"
        pos = start + size
    assert len(data) == align(pos, a), (
        f"file size {len(data):#x}, expected last image end {pos:#x} rounded up to {a} "
        f"= {align(pos, a):#x} (as mkimage -E)")
    assert data[pos:] == bytes(len(data) - pos), "non-zero tail padding"


def check_cli_decompress(fit, want):
    for node in fit.images():
        comp = fit.compression(node)
        got = cli_decompress(fit.stored_data(node), comp)
        expected = want[node.name].read_bytes()
        assert got == expected, (f"{node.path}: {comp} data decompressed with the CLI tool "
                                 f"({len(got)} bytes) != {want[node.name]} ({len(expected)} bytes)")


def check_dumpimage_extract(path, fit, tmp_path, every=1):
    """dumpimage -p N extracts the same stored bytes that libfdt sees."""
    for i, node in enumerate(fit.images()):
        if i % every:
            continue
        dest = tmp_path / f"extract-{i}"
        run(["dumpimage", "-T", "flat_dt", "-p", str(i), "-o", dest, path])
        assert dest.read_bytes() == fit.stored_data(node), f"dumpimage -p {i} ({node.name})"


# --------------------------------------------------------------------------
# Samples: every compression, embedded and external

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_sample_tools(fits, sample_set, comp, mode, tmp_path):
    external = mode == "external"
    path = fits.bootpack(sample_set, comp, external)
    fit = Fit.load(path)
    want = expected_inputs(sample_set, fit)

    check_listing(["dumpimage", "-l"], path, fit)
    check_listing(["mkimage", "-l"], path, fit)

    proc = run(["fdtdump", path])
    dump = proc.stdout.decode(errors="replace")
    assert "images {" in dump and "configurations {" in dump
    for node in fit.images():
        assert f"{node.name} {{" in dump, f"fdtdump output lacks {node.name}"

    check_cli_decompress(fit, want)
    check_dumpimage_extract(path, fit, tmp_path)
    if external:
        check_external_layout(fit)


@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_align_block(fits, sample_set, comp, tmp_path):
    """-E -B 0x1000 puts every image at a 4096-aligned position, and matches
    mkimage -E -B 0x1000 -F applied to make_fit.py's embedded output.
    (-B takes hex, as mkimage's does.)"""
    path = fits.bootpack(sample_set, comp, True, extra=["-B", "0x1000"])
    fit = Fit.load(path)
    check_external_layout(fit, block=4096)

    ref = tmp_path / "mkimage-B.fit"
    shutil.copy(fits.reference(sample_set, comp, False), ref)
    run(["mkimage", "-E", "-B", "0x1000", "-F", ref])
    ref_fit = Fit.load(ref)
    check_external_layout(ref_fit, block=4096)   # the ground truth obeys it too
    try:
        compare_fits(ref_fit, fit)
    except FitMismatch as exc:
        pytest.fail(f"-B 4096 output differs from mkimage -E -B 0x1000:\n{exc}", pytrace=False)
    check_cli_decompress(fit, expected_inputs(sample_set, fit))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_reproducible(fits, sample_set, comp, mode, tmp_path):
    external = mode == "external"
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    a = fits.bootpack(sample_set, comp, external, env={"SOURCE_DATE_EPOCH": EPOCH})
    b = tmp_path / "again.fit"
    args = ["-o", b, "-A", "arm64", "-O", "linux", "-n", "Linux-6.1.0-bootpack-test",
            "-k", sample_set.kernel, "-c", comp] + (["-E"] if external else []) + \
        [f"@{sample_set.list_file}"]
    run([bootpack_path(), "fit", "build", *args], cwd=sample_set.cwd, env=env)
    assert a.read_bytes() == b.read_bytes(), "two runs with SOURCE_DATE_EPOCH differ"
    assert Fit.load(a).timestamp == int(EPOCH)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_jobs_invariant(fits, sample_set, comp, mode):
    external = mode == "external"
    env = {"SOURCE_DATE_EPOCH": EPOCH}
    default = fits.bootpack(sample_set, comp, external, env=env)
    for jobs in ("1", "2", "7"):
        other = fits.bootpack(sample_set, comp, external, extra=["-j", jobs], env=env)
        assert default.read_bytes() == other.read_bytes(), f"-j {jobs} output differs"


@pytest.mark.parametrize("mode", MODES)
def test_ramdisk_tools(fits, sample_set, sample_ramdisk, mode, tmp_path):
    external = mode == "external"
    path = fits.bootpack(sample_set, "gzip", external, extra=["-r", sample_ramdisk])
    fit = Fit.load(path)
    listed = check_listing(["dumpimage", "-l"], path, fit)
    rd = [fields for _, name, fields in listed if name == "ramdisk"]
    assert rd and rd[0].get("Type") == "RAMDisk Image", listed
    want = expected_inputs(sample_set, fit, ramdisk=sample_ramdisk)
    check_cli_decompress(fit, want)
    check_dumpimage_extract(path, fit, tmp_path)
    if external:
        check_external_layout(fit)


# --------------------------------------------------------------------------
# Corpus (real Debian arm64 kernel + all its DTBs)

@pytest.mark.corpus
def test_corpus_gzip_external(fits, corpus_set, tmp_path):
    path = fits.bootpack(corpus_set, "gzip", True)
    fit = Fit.load(path)
    want = expected_inputs(corpus_set, fit)
    check_listing(["dumpimage", "-l"], path, fit)
    check_listing(["mkimage", "-l"], path, fit)
    proc = run(["fdtdump", path])
    assert proc.stdout.count(b"fdt-") >= len(corpus_set.dtbs)
    check_external_layout(fit)
    check_cli_decompress(fit, want)
    check_dumpimage_extract(path, fit, tmp_path, every=7)


@pytest.mark.corpus
@pytest.mark.parametrize("comp", ["lz4", "zstd"])
def test_corpus_embedded_cli(fits, corpus_set, comp):
    path = fits.bootpack(corpus_set, comp, False)
    fit = Fit.load(path)
    check_listing(["dumpimage", "-l"], path, fit)
    check_cli_decompress(fit, expected_inputs(corpus_set, fit))


@pytest.mark.corpus
@pytest.mark.parametrize("comp", ["gzip", "zstd", "lz4", "lzo"])
def test_corpus_jobs_invariant(fits, corpus_set, comp):
    """The 31 MiB kernel is split across threads (gzip in fixed chunks, zstd
    with libzstd's workers, lz4 and lzop by block): the bytes must not depend
    on the thread count."""
    env = {"SOURCE_DATE_EPOCH": EPOCH}
    default = fits.bootpack(corpus_set, comp, True, env=env)
    for jobs in ("1", "2", "7"):
        other = fits.bootpack(corpus_set, comp, True, extra=["-j", jobs], env=env)
        assert default.read_bytes() == other.read_bytes(), f"-j {jobs} output differs"
    assert Fit.load(default).timestamp == int(EPOCH)


@pytest.mark.corpus
def test_corpus_gzip_kernel_is_one_member(fits, corpus_set):
    """Chunked compression must still be a single gzip member (U-Boot's
    gunzip reads only the first), decoding to the kernel exactly."""
    fit = Fit.load(fits.bootpack(corpus_set, "gzip", False))
    stored = fit.stored_data(fit.node("/images/kernel"))
    d = zlib.decompressobj(31)
    out = d.decompress(stored) + d.flush()
    assert d.eof and d.unused_data == b"", "data after the first gzip member"
    assert out == corpus_set.kernel.read_bytes()
