# SPDX-License-Identifier: MIT
"""--level: each codec at its levels writes what the reference tool writes at -N.

The stored bytes are taken out with `fit extract --raw` and compared with the
command-line tool run on the same input: byte for byte where the tool uses the
same library (bzip2, lz4, lzma, lzop, zstd), by size and content for gzip,
whose CLI has its own deflate implementation (bootpack's is libdeflate's).
"""

import gzip
from functools import partial

import pytest

import conftest

BASE = ["-A", "arm64", "-O", "linux", "-n", "Linux-test"]

TOOLS = {
    "bzip2": ["bzip2", "-c"], "lz4": ["lz4", "-c"], "lzma": ["lzma", "-c"],
    "lzo": ["lzop", "-c"], "zstd": ["zstd", "-q", "-c"], "gzip": ["gzip", "-n", "-c"],
}
LEVELS = {
    "gzip": [1, 6, 9], "bzip2": [1, 5, 9], "lz4": [1, 3, 12], "lzma": [1, 6, 9],
    "lzo": [1, 3, 7, 9], "zstd": [1, 3, 19],
}
# lzop's header flags say it read stdin; the blocks after the header must match.
LZOP_HEADER = 38
# These tests check exit statuses themselves.
run = partial(conftest.run, check=False, timeout=600)


@pytest.fixture(scope="module")
def kernel(samples, tmp_path_factory):
    """1.5 MiB of the sample kernel repeated with variation: compressible, not trivial."""
    base = (samples / "Image").read_bytes()
    data = bytearray()
    i = 0
    while len(data) < 1536 * 1024:
        data += base[: 4096 + (i * 977) % 8192] + i.to_bytes(4, "little")
        i += 1
    path = tmp_path_factory.mktemp("levels") / "kernel.bin"
    path.write_bytes(bytes(data[: 1536 * 1024]))
    return path


def stored_kernel(bootpack, tmp_path, kernel, comp, level):
    fit = tmp_path / f"{comp}-{level}.fit"
    raw = tmp_path / f"{comp}-{level}.raw"
    p = run([bootpack, "fit", "build", "-o", fit, *BASE, "-k", kernel, "-c", comp,
             "--level", str(level)])
    assert p.returncode == 0, p.stderr.decode()
    p = run([bootpack, "fit", "extract", "--raw", fit, "kernel", "-o", raw])
    assert p.returncode == 0, p.stderr.decode()
    return raw.read_bytes()


@pytest.mark.parametrize("comp,level", [(c, lv) for c, lvs in LEVELS.items() for lv in lvs])
def test_level_matches_tool(bootpack, tmp_path, kernel, comp, level):
    ours = stored_kernel(bootpack, tmp_path, kernel, comp, level)
    if comp == "lzo":
        with open(kernel, "rb") as f:
            ref = run([*TOOLS[comp], f"-{level}"], stdin=f).stdout
        assert len(ref) > LZOP_HEADER
        assert ours[LZOP_HEADER:] == ref[LZOP_HEADER:]
        assert ours[15:17] == ref[15:17]  # method and level bytes
        return
    ref = run([*TOOLS[comp], f"-{level}", kernel]).stdout
    assert ref
    if comp == "gzip":
        # Sizes are compared on real data (test_corpus_gzip_levels_size): on
        # this synthetic input the two deflaters differ by up to 15% either way.
        assert gzip.decompress(ours) == kernel.read_bytes()
        assert ours[8] == ref[8], "XFL (compression level hint) differs from gzip's"
        return
    assert ours == ref, f"{comp} -{level}: {len(ours)} bytes, tool wrote {len(ref)}"


def test_levels_change_the_output(bootpack, tmp_path, kernel):
    fast = stored_kernel(bootpack, tmp_path, kernel, "gzip", 1)
    best = stored_kernel(bootpack, tmp_path, kernel, "gzip", 9)
    assert len(best) < len(fast)
    assert gzip.decompress(fast) == gzip.decompress(best)


def test_default_level_is_the_tools(bootpack, tmp_path, kernel):
    fit = tmp_path / "default.fit"
    raw = tmp_path / "default.raw"
    assert run([bootpack, "fit", "build", "-o", fit, *BASE, "-k", kernel, "-c", "zstd"]).returncode == 0
    assert run([bootpack, "fit", "extract", "--raw", fit, "kernel", "-o", raw]).returncode == 0
    assert raw.read_bytes() == stored_kernel(bootpack, tmp_path, kernel, "zstd", 3)


@pytest.mark.parametrize("args,msg", [
    (["-c", "gzip", "--level", "10"], "--level '10': gzip levels are 1 to 9 (default 6)"),
    (["-c", "zstd", "--level", "0"], "--level '0': zstd levels are 1 to 19 (default 3)"),
    (["-c", "lz4", "--level", "x"], "--level 'x': lz4 levels are 1 to 12 (default 1)"),
    (["--level", "3"], "--level needs a compression (-c): 'none' has no levels"),
])
def test_bad_level(bootpack, samples, tmp_path, args, msg):
    out = tmp_path / "o.fit"
    p = run([bootpack, "fit", "build", "-o", out, *BASE, "-k", samples / "Image", *args,
             samples / "demo-a.dtb"])
    assert p.returncode == 2
    assert p.stderr.decode().splitlines()[0] == f"bootpack fit build: {msg}"
    assert not out.exists()


@pytest.mark.corpus
@pytest.mark.parametrize("level", [1, 6, 9])
def test_corpus_gzip_levels_size(bootpack, corpus_set, tmp_path, level):
    """On the real arm64 kernel, libdeflate's chunked output is no more than
    1% larger than gzip -N (it is smaller), and decodes to the kernel."""
    ours = stored_kernel(bootpack, tmp_path, corpus_set.kernel, "gzip", level)
    ref = run(["gzip", "-n", "-c", f"-{level}", corpus_set.kernel]).stdout
    assert gzip.decompress(ours) == corpus_set.kernel.read_bytes()
    assert len(ours) <= len(ref) * 1.01, (len(ours), len(ref))
