# SPDX-License-Identifier: MIT
"""Edges a make_fit.py user meets, and "-o -".

- An empty kernel: make_fit.py stores it, U-Boot cannot boot it and
  `fit verify` fails it, so `fit build` refuses it (exit 1, no output).
- No configuration (no DTB, or only .dtbo overlays): make_fit.py writes such
  a FIT silently; bootpack writes it too (Kbuild may mean it) but warns on
  stderr, since it boots only by image name.
- `-o -` is standard output for fit extract, zboot extract and the pe edit
  commands (same bytes as a file, -v's report on stderr); fit build takes it
  only when standard output is a regular file (it patches the FIT after the
  data), and refuses a pipe as a usage error before reading anything.
"""

import gzip
import os
import subprocess

import pytest

BASE = ["-A", "arm64", "-O", "linux", "-n", "Linux-test"]


# The same timestamp for every build, so two builds can be compared byte for byte.
ENV = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}


def bp(bootpack, *args, stdout=subprocess.PIPE):
    return subprocess.run([str(bootpack), *map(str, args)], stdout=stdout,
                          stderr=subprocess.PIPE, env=ENV, check=False, timeout=300)


def build(bootpack, samples, out, *dtbs, kernel=None, extra=()):
    return bp(bootpack, "fit", "build", "-o", out, *BASE, "-k", kernel or samples / "Image",
              *extra, *dtbs)


def test_empty_kernel_refused(bootpack, samples, tmp_path):
    empty = tmp_path / "Image"
    empty.write_bytes(b"")
    out = tmp_path / "out.fit"
    proc = build(bootpack, samples, out, samples / "demo-a.dtb", kernel=empty)
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        f"bootpack: '{empty}': kernel is empty: U-Boot cannot boot it and "
        "`bootpack fit verify` rejects it\n")
    assert proc.stdout == b""
    assert sorted(os.listdir(tmp_path)) == ["Image"]


@pytest.mark.parametrize("dtbs", [[], ["demo-overlay.dtbo"]], ids=["no-dtb", "only-dtbo"])
def test_no_configurations_warns_and_writes(bootpack, samples, tmp_path, dtbs):
    out = tmp_path / "out.fit"
    proc = build(bootpack, samples, out, *[samples / d for d in dtbs])
    assert proc.returncode == 0
    assert proc.stderr.decode() == (
        f"bootpack: warning: '{out}': no configurations (no .dtb given): U-Boot can boot "
        "this FIT only by image name (bootm ADDR:kernel)\n")
    listing = bp(bootpack, "fit", "list", out).stdout.decode()
    assert "Images: 1\n" in listing and "Configurations: 0\n" in listing


def test_configurations_no_warning(bootpack, samples, tmp_path):
    proc = build(bootpack, samples, tmp_path / "out.fit", samples / "demo-a.dtb")
    assert proc.returncode == 0 and proc.stderr == b""


@pytest.fixture
def fit(bootpack, samples, tmp_path):
    out = tmp_path / "in.fit"
    proc = build(bootpack, samples, out, samples / "demo-a.dtb", extra=["-c", "gzip"])
    assert proc.returncode == 0, proc.stderr
    return out


def test_fit_extract_to_stdout(bootpack, samples, fit, tmp_path):
    proc = bp(bootpack, "fit", "extract", fit, "kernel", "-o", "-", "-v")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (samples / "Image").read_bytes()
    size = (samples / "Image").stat().st_size
    assert proc.stderr.decode() == f"-: image 'kernel', {size} bytes\n"
    assert not (tmp_path / "-").exists()


def test_fit_extract_raw_to_stdout(bootpack, fit, tmp_path):
    proc = bp(bootpack, "fit", "extract", fit, "kernel", "--raw", "-o", "-")
    assert proc.returncode == 0 and proc.stderr == b""
    raw = bp(bootpack, "fit", "extract", fit, "kernel", "--raw", "-o", tmp_path / "raw")
    assert raw.returncode == 0, raw.stderr
    assert proc.stdout == (tmp_path / "raw").read_bytes()


@pytest.fixture
def zboot_efi(pe_gen, samples, tmp_path):
    payload = tmp_path / "Image.gz"
    payload.write_bytes(gzip.compress((samples / "Image").read_bytes(), mtime=0))
    out = tmp_path / "zboot.efi"
    subprocess.run([str(pe_gen), "--zboot", "gzip", "--payload", str(payload), str(out)],
                   check=True, timeout=120)
    return out


def test_zboot_extract_to_stdout(bootpack, samples, zboot_efi):
    proc = bp(bootpack, "zboot", "extract", zboot_efi, "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (samples / "Image").read_bytes()
    # The report that normally goes to stdout moves to stderr.
    assert proc.stderr.decode().startswith("-: arm64 kernel Image, ")


def test_pe_add_section_to_stdout(bootpack, zboot_efi, tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"section data" * 10)
    args = ["pe", "add-section", zboot_efi, "--name", ".bpf", "--file", blob]
    assert bp(bootpack, *args, "-o", tmp_path / "file.efi").returncode == 0
    proc = bp(bootpack, *args, "-o", "-")
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout == (tmp_path / "file.efi").read_bytes()


def test_fit_build_to_stdout_file(bootpack, samples, tmp_path):
    """Standard output redirected to a file can be patched: same bytes as -o FILE."""
    proc = build(bootpack, samples, tmp_path / "file.fit", samples / "demo-a.dtb", extra=["-E"])
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "stdout.fit", "wb") as f:
        proc = bp(bootpack, "fit", "build", "-o", "-", *BASE, "-k", samples / "Image", "-E",
                  samples / "demo-a.dtb", stdout=f)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "stdout.fit").read_bytes() == (tmp_path / "file.fit").read_bytes()


def test_fit_build_to_stdout_pipe_refused(bootpack, samples, tmp_path):
    proc = build(bootpack, samples, "-", samples / "demo-a.dtb")
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        "bootpack fit build: -o -: standard output is a pipe or terminal; a FIT is patched "
        "after its data is written, so redirect it to a regular file or give -o FILE\n"
        "Try 'bootpack fit build --help' for more information.\n")
    assert proc.stdout == b""
    assert not (tmp_path / "-").exists()
