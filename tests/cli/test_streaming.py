# SPDX-License-Identifier: MIT
"""fit build writes as it goes: the kernel streams from its file, DTBs are
compressed in batches. These cases cross the places where that could go wrong
(batch boundaries, a kernel that is a pipe, inputs changing underneath) and
compare the result with the reference make_fit.py."""

import random
from functools import partial

import libfdt
import pytest

import conftest
from fitcompare import Fit, compare_fits

BASE = ["-A", "arm64", "-O", "linux", "-n", "Linux-test"]
EPOCH = "1700000000"
# More DTBs than one batch holds (1,024), so several batches are written.
MANY = 1100
# These tests check exit statuses themselves.
run = partial(conftest.run, check=False, timeout=900)


@pytest.fixture(scope="module")
def many_dtbs(samples, tmp_path_factory):
    """MANY distinct DTBs: the sample with its model and compatible numbered."""
    d = tmp_path_factory.mktemp("many")
    base = (samples / "demo-a.dtb").read_bytes()
    paths = []
    for i in range(MANY):
        fdt = libfdt.Fdt(base)
        fdt.resize(len(base) + 256)
        fdt.setprop_str(0, "model", f"Demo board {i}")
        fdt.setprop(0, "compatible", f"demo,board-{i}\0demo,family\0".encode())
        fdt.pack()
        p = d / f"board-{i:04d}.dtb"
        p.write_bytes(bytes(fdt.as_bytearray()))
        paths.append(p)
    listing = d / "list"
    listing.write_text("".join(f"{p}\n" for p in paths))
    # The same set as a Dataset with names relative to its directory, so
    # that make_fit.py's output is cached across runs (conftest.FitFactory:
    # with lz4 it runs the lz4 tool once per DTB, over a minute).
    (d / "Image").write_bytes((samples / "Image").read_bytes())
    (d / "list-rel").write_text("".join(f"{p.name}\n" for p in paths))
    return listing


@pytest.fixture(scope="module")
def many_set(many_dtbs):
    return conftest.Dataset("many", "Image", "list-rel", many_dtbs.parent)


@pytest.mark.parametrize("comp", ["none", "gzip", "lz4"])
@pytest.mark.parametrize("external", [False, True])
def test_many_dtbs_match_make_fit(fits, many_set, comp, external):
    ref = fits.reference(many_set, comp, external)
    ours = fits.bootpack(many_set, comp, external, env={"SOURCE_DATE_EPOCH": EPOCH})
    compare_fits(Fit.load(ref), Fit.load(ours), expect_timestamp=int(EPOCH))
    assert len(Fit.load(ours).node("/configurations").children) == MANY


def test_kernel_from_a_pipe(bootpack, samples, tmp_path):
    """A kernel that is not a regular file is read first, then written the same way."""
    from_file = tmp_path / "file.fit"
    from_pipe = tmp_path / "pipe.fit"
    env = {"SOURCE_DATE_EPOCH": EPOCH}
    args = [*BASE, "-c", "gzip", "--hash", "sha256", samples / "demo-a.dtb"]
    assert run([bootpack, "fit", "build", "-o", from_file, "-k", samples / "Image", *args],
               env=env).returncode == 0
    with open(samples / "Image", "rb") as f:
        p = run([bootpack, "fit", "build", "-o", from_pipe, "-k", "/dev/stdin", *args],
                stdin=f, env=env)
    assert p.returncode == 0, p.stderr.decode()
    assert from_pipe.read_bytes() == from_file.read_bytes()


@pytest.mark.corpus
@pytest.mark.parametrize("comp", ["lz4", "lzo"])
def test_corpus_parallel_blocks_are_the_tools_bytes(bootpack, corpus_set, tmp_path, comp):
    """lz4 and lzop blocks are independent: the kernel, compressed over all
    threads, is byte for byte what the single-threaded tool writes."""
    fit_path = tmp_path / "k.fit"
    raw = tmp_path / "k.raw"
    p = run([bootpack, "fit", "build", "-o", fit_path, *BASE, "-k", corpus_set.kernel,
             "-c", comp, "-j", "3"])
    assert p.returncode == 0, p.stderr.decode()
    assert run([bootpack, "fit", "extract", "--raw", fit_path, "kernel", "-o", raw]).returncode == 0
    with open(corpus_set.kernel, "rb") as f:
        tool = run(["lz4", "-c"] if comp == "lz4" else ["lzop", "-c"], stdin=f).stdout
    ours = raw.read_bytes()
    if comp == "lzo":
        # lzop's header flags that it read stdin; everything after the header matches.
        ours, tool = ours[38:], tool[38:]
    assert len(ours) == len(tool) and ours == tool


@pytest.mark.parametrize("jobs", ["1", "2", "7"])
def test_first_bad_dtb_in_argument_order(bootpack, samples, many_dtbs, tmp_path, jobs):
    """DTBs are examined side by side, yet the error names the first bad one
    on the command line, whatever the thread count."""
    good = many_dtbs.read_text().split()[:300]
    not_dtb = tmp_path / "notes.txt"
    not_dtb.write_text("hello\n")
    truncated = tmp_path / "cut.dtb"
    truncated.write_bytes((samples / "demo-a.dtb").read_bytes()[:64])
    out = tmp_path / "o.fit"
    p = run([bootpack, "fit", "build", "-o", out, *BASE, "-k", samples / "Image", "-j", jobs,
             *good[:150], truncated, *good[150:], not_dtb])
    assert p.returncode == 1
    err = p.stderr.decode()
    assert err.startswith(f"bootpack: '{truncated}': "), err
    assert len(err.splitlines()) == 1
    assert not out.exists()


@pytest.fixture(scope="module")
def big_kernel(tmp_path_factory):
    """40 MiB, three quarters of it incompressible (more output than one
    write batch), split over all threads by gzip, lz4 and zstd."""
    rnd = random.Random(5)
    path = tmp_path_factory.mktemp("big-kernel") / "Image"
    with open(path, "wb") as f:
        for i in range(640):
            f.write(rnd.randbytes(65536) if i % 4 else b"bootpack kernel text!" * 3120 + b"x" * 16)
    return path


@pytest.mark.parametrize("comp", ["gzip", "lz4", "zstd"])
def test_big_kernel_many_dtbs_any_jobs(bootpack, many_dtbs, big_kernel, tmp_path, comp):
    """A large kernel split over the threads, then more DTBs than one batch:
    the bytes are those of -j 1 and the hashes hold."""
    outs = []
    for jobs in ("1", "2", "7"):
        out = tmp_path / f"j{jobs}.fit"
        p = run([bootpack, "fit", "build", "-o", out, *BASE, "-k", big_kernel, "-c", comp,
                 "-j", jobs, "--hash", "sha256", f"@{many_dtbs}"],
                env={"SOURCE_DATE_EPOCH": EPOCH})
        assert p.returncode == 0, p.stderr.decode()
        outs.append(out.read_bytes())
    assert outs[1] == outs[0] and outs[2] == outs[0]
    p = run([bootpack, "fit", "verify", tmp_path / "j2.fit"])
    assert p.returncode == 0, p.stderr.decode()


def test_bad_last_dtb_with_big_kernel(bootpack, samples, many_dtbs, big_kernel, tmp_path):
    """A bad DTB at the end of a long list stops the build with its error
    before the large kernel is compressed, and nothing is written."""
    truncated = tmp_path / "cut.dtb"
    truncated.write_bytes((samples / "demo-a.dtb").read_bytes()[:64])
    out = tmp_path / "o.fit"
    p = run([bootpack, "fit", "build", "-o", out, *BASE, "-k", big_kernel, "-c", "lz4",
             "-j", "2", f"@{many_dtbs}", truncated], timeout=300)
    assert p.returncode == 1
    assert p.stderr.decode() == (f"bootpack: '{truncated}': devicetree is truncated: header "
                                 "totalsize is 1639 bytes but the file has only 64\n")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["cut.dtb"]
