# SPDX-License-Identifier: MIT
"""Faults while writing: a read-only or unwritable output directory, a full
file system, /dev/full, and SIGKILL in the middle of a large image.

After every failure the output path holds the previous file (or nothing),
the directory holds nothing new, and the error is one line naming the
output. Read-only and full file systems are small tmpfs mounts made in a
private user + mount namespace (unshare -Urm), so no host mount is touched
and no root is needed where unprivileged user namespaces are allowed.
"""

import gzip
import json
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import ARCH_ARGS, bootpack_path, pe_gen_path, run  # noqa: E402

PREVIOUS = b"the previous output, which a failed run must leave alone\n"


def fake_image(size, seed):
    """An arm64 Image header (magic "ARM\\x64" at 0x38) over mixed bytes."""
    rnd = random.Random(seed)
    body = bytearray()
    while len(body) < size:
        body += rnd.randbytes(4096) if rnd.random() < 0.5 else b"bootpack fault test " * 200
    body = body[:size]
    body[0x38:0x3c] = b"ARM\x64"
    return bytes(body)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, samples):
    """World-readable inputs (the permission test runs as nobody)."""
    d = Path(tmp_path_factory.mktemp("fault-inputs"))
    for p in [d, *d.parents]:
        if p == Path("/tmp") or p == Path("/"):
            break
        p.chmod(p.stat().st_mode | 0o755)
    big = d / "Image"
    big.write_bytes(fake_image(1 << 20, 1))
    fit = d / "in.fit"
    run([bootpack_path(), "fit", "build", *ARCH_ARGS, "-k", big, "-o", fit,
         samples / "demo-a.dtb"])
    data = d / "section.bin"
    data.write_bytes(random.Random(2).randbytes(1 << 20))
    payload = d / "payload.gz"
    payload.write_bytes(gzip.compress(big.read_bytes(), mtime=0))
    efi = d / "zboot.efi"
    run([pe_gen_path(), "--zboot", "gzip", "--flat", "--linux-pe-magic", "--payload", payload, efi])
    dtb = d / "demo-a.dtb"
    dtb.write_bytes((samples / "demo-a.dtb").read_bytes())
    for p in d.iterdir():
        p.chmod(0o644)
    return {"image": big, "fit": fit, "data": data, "efi": efi, "dtb": dtb}


def writers(i):
    """Each command that writes a file of about 1 MiB, as an argv without -o."""
    return {
        "fit-build": ["fit", "build", *ARCH_ARGS, "-k", i["image"], i["dtb"]],
        "fit-extract": ["fit", "extract", i["fit"], "kernel"],
        "pe-add-section": ["pe", "add-section", i["efi"], "--name", ".bpf",
                           "--file", i["data"]],
        "zboot-extract": ["zboot", "extract", i["efi"], "-q"],
    }


WRITERS = ["fit-build", "fit-extract", "pe-add-section", "zboot-extract"]

# Runs inside the namespace: mount a tmpfs on "dir", leave PREVIOUS in it as
# "out" (or bind /dev/full there), optionally remount read-only, run bootpack
# and report what it left.
NS_SCRIPT = r"""
import json, os, subprocess, sys
spec = json.loads(sys.argv[1])
d, out = spec["dir"], spec["out"]
subprocess.run(["mount", "-t", "tmpfs", "-o", spec["tmpfs"], "bootpack-fault", d], check=True)
with open(out, "wb") as f:
    f.write(spec["previous"].encode())
if spec["dev_full"]:
    subprocess.run(["mount", "--bind", "/dev/full", out], check=True)
if spec["ro"]:
    subprocess.run(["mount", "-o", "remount,ro", d], check=True)
before = os.statvfs(d)
p = subprocess.run(spec["argv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
after, st = os.statvfs(d), os.stat(out)
print(json.dumps({"rc": p.returncode, "stderr": p.stderr.decode(errors="replace"),
                  "listing": sorted(os.listdir(d)), "rdev": st.st_rdev, "mode": st.st_mode,
                  "out": "" if spec["dev_full"] else open(out, "rb").read().decode(),
                  "free_before": before.f_bfree, "free_after": after.f_bfree}))
"""


def in_namespace(tmp_path, argv, tmpfs="size=4m", ro=False, dev_full=False):
    d = tmp_path / "mnt"
    d.mkdir()
    out = d / ("full" if dev_full else "out.bin")
    spec = {"dir": str(d), "out": str(out), "tmpfs": tmpfs, "ro": ro, "dev_full": dev_full,
            "previous": PREVIOUS.decode(),
            "argv": [str(bootpack_path()), *map(str, argv), "-o", str(out)]}
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount",
                           "--propagation", "private", sys.executable, "-c", NS_SCRIPT,
                           json.dumps(spec)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if proc.returncode != 0:
        pytest.fail("cannot run in a user + mount namespace (unshare -Urm; needs "
                    "kernel.unprivileged_userns_clone or root): "
                    + proc.stderr.decode(errors="replace")[-2000:])
    return json.loads(proc.stdout), str(out)


@pytest.mark.parametrize("cmd", WRITERS)
def test_read_only_file_system(inputs, tmp_path, cmd):
    res, out = in_namespace(tmp_path, writers(inputs)[cmd], ro=True)
    assert res["rc"] == 1, res
    assert res["stderr"] == f"bootpack: '{out}': cannot create output: Read-only file system\n"
    assert res["listing"] == ["out.bin"]
    assert res["out"] == PREVIOUS.decode()


@pytest.mark.parametrize("cmd", WRITERS)
def test_full_file_system(inputs, tmp_path, cmd):
    """A 256 KiB tmpfs holding the previous output: each ~1 MiB result fails
    with ENOSPC, and the space the partial file took is given back."""
    res, out = in_namespace(tmp_path, writers(inputs)[cmd], tmpfs="size=256k")
    assert res["rc"] == 1, res
    assert res["stderr"] == f"bootpack: '{out}': cannot write: No space left on device\n"
    assert res["listing"] == ["out.bin"]
    assert res["out"] == PREVIOUS.decode()
    assert res["free_after"] == res["free_before"]


@pytest.mark.parametrize("cmd", WRITERS)
def test_unwritable_directory(inputs, tmp_path, cmd):
    """A directory without write permission, for a user who is not root (as
    root, bootpack runs as nobody; root would override the permission)."""
    d = tmp_path / "locked"
    d.mkdir()
    out = d / "out.bin"
    out.write_bytes(PREVIOUS)
    out.chmod(0o644)
    d.chmod(0o555)
    tmp_path.chmod(0o755)
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] \
        if os.geteuid() == 0 else []
    try:
        proc = run([*prefix, bootpack_path(), *writers(inputs)[cmd], "-o", out], check=False)
    finally:
        d.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.decode() == f"bootpack: '{out}': cannot create output: Permission denied\n"
    assert sorted(os.listdir(d)) == ["out.bin"]
    assert out.read_bytes() == PREVIOUS


@pytest.mark.parametrize("cmd", WRITERS)
def test_dev_full(inputs, tmp_path, cmd):
    """A character device is written in place, never renamed over. The
    device is /dev/full bound onto a tmpfs file in the namespace, so a
    regression cannot replace the host's /dev/full."""
    host = os.stat("/dev/full")
    res, out = in_namespace(tmp_path, writers(inputs)[cmd], dev_full=True)
    assert res["rc"] == 1, res
    assert res["stderr"] == f"bootpack: '{out}': cannot write: No space left on device\n"
    assert stat.S_ISCHR(res["mode"]) and res["rdev"] == host.st_rdev
    assert res["listing"] == ["full"]


def test_fit_build_refuses_a_pipe(inputs):
    """The FIT writer patches sizes and hashes after the data: a pipe fails
    before anything is written to it."""
    r, w = os.pipe()
    path = f"/proc/self/fd/{w}"
    try:
        proc = subprocess.run([str(bootpack_path()), *map(str, writers(inputs)["fit-build"]),
                               "-o", path], pass_fds=(w,), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=300)
        os.close(w)
        assert os.read(r, 1) == b""
    finally:
        os.close(r)
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        f"bootpack: '{path}': cannot write a FIT to a pipe or terminal (it is patched after "
        "the data is written); give a regular file\n")


@pytest.mark.parametrize("cmd", ["fit-extract", "zboot-extract", "pe-add-section"])
def test_pipe_output(inputs, tmp_path, cmd):
    """Streams are written to a pipe as they are (e.g. -o /dev/stdout)."""
    good = tmp_path / "good.bin"
    run([bootpack_path(), *writers(inputs)[cmd], "-o", good])
    proc = run([bootpack_path(), *writers(inputs)[cmd], "-o", "/dev/stdout"])
    assert proc.stdout == good.read_bytes()


def test_symlinked_output_keeps_the_link(inputs, tmp_path):
    """The link's target is replaced; the link stays a link."""
    target = tmp_path / "target.bin"
    target.write_bytes(PREVIOUS)
    link = tmp_path / "link.bin"
    link.symlink_to("target.bin")
    run([bootpack_path(), *writers(inputs)["fit-extract"], "-o", link])
    assert link.is_symlink() and os.readlink(link) == "target.bin"
    assert target.read_bytes() == inputs["image"].read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["link.bin", "target.bin"]


def test_directory_as_output(inputs, tmp_path):
    proc = run([bootpack_path(), *writers(inputs)["fit-extract"], "-o", tmp_path], check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"bootpack: '{tmp_path}': cannot create output: Is a directory\n"
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------
# SIGKILL while writing

@pytest.fixture(scope="module")
def big_kernel(tmp_path_factory):
    """64 MiB that gzip -j1 takes a while over, so a kill lands mid-write."""
    path = tmp_path_factory.mktemp("big") / "Image"
    path.write_bytes(fake_image(64 << 20, 3))
    return path


def output_fd_size(pid, directory):
    """Size of the file bootpack is writing in @directory, or None."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith(str(directory) + "/"):
                return os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            continue
    return None


@pytest.mark.parametrize("previous", [True, False], ids=["previous", "none"])
@pytest.mark.parametrize("mode", ["embedded", "external"])
@pytest.mark.parametrize("at", [1 << 20, 8 << 20], ids=["1MiB", "8MiB"])
def test_sigkill_mid_write(big_kernel, samples, tmp_path, previous, mode, at):
    """Kill -9 once the output holds @at bytes: the path then holds the
    previous file or nothing, and no temporary is left behind."""
    out = tmp_path / "out.fit"
    if previous:
        out.write_bytes(PREVIOUS)
    cmd = [bootpack_path(), "fit", "build", *ARCH_ARGS, "-k", big_kernel, "-c", "gzip",
           "-j", "1", "-o", out, samples / "demo-a.dtb", samples / "demo-b.dtb"]
    if mode == "external":
        cmd.append("-E")
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen, deadline = None, time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        seen = output_fd_size(proc.pid, tmp_path)
        if seen is not None and seen >= at:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, \
        f"bootpack ended before the kill (exit {proc.returncode}); seen {seen} bytes"
    assert seen is not None and seen >= at, f"only {seen} bytes written before the kill"
    assert sorted(os.listdir(tmp_path)) == (["out.fit"] if previous else [])
    if previous:
        assert out.read_bytes() == PREVIOUS


# --------------------------------------------------------------------------
# An input that changes while bootpack reads it

def test_dtb_changed_between_check_and_store(samples, tmp_path):
    """DTBs are checked when gathered and read again when stored; a DTB whose
    bytes differ the second time (same size, so only the checksum can tell)
    is refused. A FIFO serves the two reads different bytes."""
    a = (samples / "demo-a.dtb").read_bytes()
    at = a.index(b"demo")
    b = a[:at] + b"DEMO" + a[at + 4:]
    fifo = tmp_path / "changing.dtb"
    os.mkfifo(fifo)

    def serve():
        for data, pause in ((a, 0.5), (b, 0)):
            with open(fifo, "wb") as f:
                f.write(data)
            time.sleep(pause)

    writer = threading.Thread(target=serve, daemon=True)
    writer.start()
    out = tmp_path / "out.fit"
    proc = run([bootpack_path(), "fit", "build", *ARCH_ARGS, "-k", samples / "Image",
                "-o", out, fifo], check=False, timeout=60)
    writer.join(5)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.decode() == \
        f"bootpack: '{fifo}': file changed while bootpack was reading it\n"
    assert sorted(os.listdir(tmp_path)) == ["changing.dtb"]


def test_sigbus_is_one_line_and_exit_1(tmp_path):
    """Inputs are mapped; an input truncated by another process meanwhile
    raises SIGBUS when bootpack touches the lost pages. The CLI turns that
    into one line and exit 1, not a core dump. The signal is sent here while
    bootpack waits on a FIFO it reads (which it does not map), so the test
    does not depend on winning a race against the truncation."""
    fifo = tmp_path / "in.efi"
    os.mkfifo(fifo)
    proc = subprocess.Popen([str(bootpack_path()), "pe", "info", str(fifo)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with open(fifo, "wb"):     # returns once bootpack has opened it for reading
            proc.send_signal(signal.SIGBUS)
            out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 1, (proc.returncode, err)
    assert out == b""
    assert err == (b"bootpack: an input file was truncated while it was being read "
                   b"(SIGBUS); nothing was written\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.efi"]
