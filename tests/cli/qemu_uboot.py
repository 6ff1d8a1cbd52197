# SPDX-License-Identifier: MIT
"""Boot a FIT on QEMU's arm64 virt machine through Debian's U-Boot.

The FIT is put in RAM at FIT_ADDR by QEMU's generic loader, U-Boot
(u-boot-qemu, qemu_arm64) is stopped at its prompt and driven over the
serial console (QEMU's stdio, read with select; stdlib only) to `bootm`.
A kernel that starts prints its `Linux version` banner and, with no root
and no initramfs, panics; panic=-1 plus -no-reboot then ends QEMU.

    result = boot_fit(fit, log_path=tmp_path / "console.log")
    assert result.panic, result.describe()

Everything printed on the console goes to the log file as it arrives, so a
hung boot can be inspected while it runs.
"""

import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import libfdt

QEMU = "qemu-system-aarch64"
UBOOT_BIN = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")

# RAM starts at 0x40000000 (QEMU's DTB sits there). The FIT goes well above
# where the kernel runs: U-Boot's kernel_addr_r on qemu_arm64 is 0x40400000
# (2 MiB aligned, as arm64 requires), and the 31 MiB Image plus its bss ends
# near 0x42c00000. U-Boot itself relocates to the top of the 2 GiB.
FIT_ADDR = 0x50000000
KERNEL_ADDR = 0x40400000

BOOTARGS = "console=ttyAMA0 earlycon=pl011,0x9000000 panic=-1"

# cortex-a57 boots about twice as fast as "max" under TCG (no pointer
# authentication etc. to emulate); -smp 2 gains nothing for one boot.
# -nic none: the default virtio NIC needs efi-virtio.rom from ipxe-qemu, only
# a Recommends of qemu-system-arm (missing when installed without them).
MACHINE = "virt"
MACHINE_ARGS = ["-cpu", "cortex-a57", "-m", "2G", "-smp", "1", "-nic", "none",
                "-bios", str(UBOOT_BIN)]

AUTOBOOT = b"Hit any key to stop autoboot"
PROMPT = b"=> "
START_KERNEL = b"Starting kernel ..."
# Whole lines only, so a line still arriving is not judged by its start.
BANNER = re.compile(rb"Linux version [^\r\n]*\r?\n")
# A kernel that ran fine up to userspace but has no root fs or init ...
ROOT_PANIC = re.compile(rb"Kernel panic - not syncing: "
                        rb"(?:VFS: Unable to mount root fs|No working init found)[^\r\n]*\r?\n")
# ... rather than dying earlier (e.g. given the wrong DTB); such a kernel may
# never reach panic=-1, so stop waiting at its panic line.
ANY_PANIC = re.compile(rb"Kernel panic - not syncing: [^\r\n]*\r?\n")

VIRT_MODEL = "QEMU virt"

# Stage limits; each is also cut by the overall deadline of boot_fit().
TO_PROMPT = 60           # QEMU start to U-Boot prompt (well under a second here)
TO_START_KERNEL = 150    # bootm: hashing + decompression (lzma is the slowest)
TO_BANNER = 60
TO_PANIC = 180           # kernel start to the root panic under TCG
TO_EXIT = 30             # panic=-1 + -no-reboot: QEMU exits on its own


class QemuError(Exception):
    """QEMU or U-Boot did not get as far as the bootm command."""


def missing_prerequisites():
    """What is missing to boot at all, as strings (empty when ready)."""
    missing = []
    if shutil.which(QEMU) is None:
        missing.append(f"{QEMU} (apt-get install qemu-system-arm)")
    if not UBOOT_BIN.is_file():
        missing.append(f"{UBOOT_BIN} (apt-get install u-boot-qemu)")
    for tool in ("fdtget", "fdtput"):
        if shutil.which(tool) is None:
            missing.append(f"{tool} (apt-get install device-tree-compiler)")
    return missing


def _opt(value):
    """A value inside a QEMU key=value,... option (commas are doubled)."""
    return str(value).replace(",", ",,")


def qemu_command(fit, dtb=None):
    """QEMU's command line; `dtb` replaces the DTB QEMU generates (U-Boot's
    control DTB on qemu_arm64, e.g. with a /signature key node)."""
    return [QEMU, "-M", MACHINE, *MACHINE_ARGS, *(["-dtb", str(dtb)] if dtb else []),
            "-device", f"loader,file={_opt(fit)},addr={FIT_ADDR:#x},force-raw=on",
            "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot"]


def dump_virt_dtb(path, model=VIRT_MODEL, timeout=60):
    """The DTB QEMU gives this very machine, with a root `model`.

    Dumped with the same options as the boot, -bios included: with firmware
    loaded QEMU swaps the PL061 GPIO for an ACPI GED, and a kernel given the
    firmware-less DTB dies probing the missing PL061. bootpack needs a root
    `model` (it becomes the configuration description); QEMU 7.2 writes
    "linux,dummy-virt", others none, so always set our own.
    """
    path = Path(path)
    cmd = [QEMU, "-M", f"{MACHINE},dumpdtb={_opt(path)}", *MACHINE_ARGS, "-display", "none"]
    for c in (cmd, ["fdtput", "-t", "s", str(path), "/", "model", model]):
        proc = subprocess.run(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
        if proc.returncode != 0 or not path.is_file():
            raise QemuError(f"{' '.join(c)} failed (exit {proc.returncode}):\n"
                            f"{proc.stdout.decode(errors='replace')[-2000:]}")
    return path


def kernel_data_extent(data):
    """(file offset, size) of /images/kernel's stored bytes in a FIT.

    Embedded `data` is located through libfdt's property offset; external
    data through data-position, or data-offset from the 4-byte-aligned end
    of the FDT (as mkimage -E and bootpack -E write it).
    """
    fdt = libfdt.FdtRo(bytes(data))
    node = fdt.path_offset("/images/kernel")
    props = {}
    poff = fdt.first_property_offset(node, (libfdt.NOTFOUND,))
    while poff >= 0:
        prop = fdt.get_property_by_offset(poff)
        if prop.name == "data":
            # struct block + property offset + fdt_property header (tag, len, nameoff)
            return fdt.off_dt_struct() + poff + 12, len(prop)
        props[prop.name] = int.from_bytes(bytes(prop), "big")
        poff = fdt.next_property_offset(poff, (libfdt.NOTFOUND,))
    if "data-position" in props:
        start = props["data-position"]
    else:
        start = (fdt.totalsize() + 3) // 4 * 4 + props["data-offset"]
    return start, props["data-size"]


def flip_kernel_byte(src, dst):
    """Copy FIT `src` to `dst` with one byte in the middle of the kernel's
    stored data inverted. Returns (file offset of that byte, data start)."""
    data = bytearray(Path(src).read_bytes())
    start, size = kernel_data_extent(data)
    if size < 2 or start + size > len(data):
        raise ValueError(f"{src}: kernel data [{start:#x}, +{size:#x}) not inside the file")
    where = start + size // 2
    data[where] ^= 0xFF
    Path(dst).write_bytes(data)
    return where, start


def _text(raw):
    return raw.decode("utf-8", errors="replace").replace("\r", "")


def tail(raw, lines=40):
    return "\n".join(_text(raw).splitlines()[-lines:])


class Console:
    """QEMU with its serial port on a pipe; expect/send on the raw bytes."""

    def __init__(self, cmd, log_path=None):
        self.cmd = [str(c) for c in cmd]
        self.buf = bytearray()
        self.pos = 0            # expect() searches from here
        self.eof = False
        self.log = open(log_path, "wb") if log_path else None
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Kill QEMU if still running; always reap it."""
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=30)
        finally:
            for f in (self.proc.stdin, self.proc.stdout, self.log):
                try:
                    if f:
                        f.close()
                except OSError:
                    pass

    def _read(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], max(0.0, min(timeout, 1.0)))
        if not ready:
            return
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self.eof = True
            return
        self.buf += chunk
        if self.log:
            self.log.write(chunk)
            self.log.flush()

    def expect(self, patterns, timeout):
        """Wait for the earliest match of any pattern (bytes or compiled
        bytes regex) after self.pos. Returns (index, match text) and moves
        self.pos past it; returns (None, reason) on timeout or QEMU exit."""
        deadline = time.monotonic() + timeout
        while True:
            best = None
            for i, pat in enumerate(patterns):
                if isinstance(pat, bytes):
                    at = self.buf.find(pat, self.pos)
                    m = (at, at + len(pat)) if at >= 0 else None
                else:
                    found = pat.search(self.buf, self.pos)
                    m = found.span() if found else None
                if m and (best is None or m[0] < best[1][0]):
                    best = (i, m)
            if best:
                i, (s, e) = best
                self.pos = e
                return i, bytes(self.buf[s:e])
            if self.eof:
                return None, f"QEMU exited (status {self.proc.wait()})"
            left = deadline - time.monotonic()
            if left <= 0:
                return None, f"timed out after {timeout:.0f} s"
            self._read(left)

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.eof = True

    def wait_exit(self, timeout):
        """Drain the console until QEMU exits; its status, or None."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        try:
            return self.proc.wait(timeout=max(0.0, deadline - time.monotonic()) + 1)
        except subprocess.TimeoutExpired:
            return None


class BootResult:
    """What one boot attempt printed, split at the bootm command."""

    def __init__(self, cmd, log_path):
        self.cmd = cmd
        self.log_path = log_path
        self.raw = b""
        self.bootm_at = 0
        self.kernel_at = None
        self.started = False      # U-Boot printed "Starting kernel ..."
        self.refused = False      # U-Boot came back to its prompt instead
        self.banner = None        # the "Linux version ..." line
        self.panic = None         # the root/init panic line
        self.exit_status = None   # QEMU's, when it ended on its own
        self.error = None         # why waiting stopped early, if it did
        self.times = {}           # seconds: prompt, uboot (bootm), kernel, total

    @property
    def uboot(self):
        """Console text from the bootm command to the kernel start or prompt."""
        end = self.kernel_at if self.kernel_at is not None else len(self.raw)
        return _text(self.raw[self.bootm_at:end])

    @property
    def kernel(self):
        return "" if self.kernel_at is None else _text(self.raw[self.kernel_at:])

    @property
    def log(self):
        return _text(self.raw)

    def describe(self, lines=40):
        """For assertion messages: what happened and the console's tail."""
        state = ("refused at the U-Boot prompt" if self.refused else
                 "kernel started" if self.started else "kernel not started")
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in self.times.items())
        return (f"[{state}; banner: {'yes' if self.banner else 'no'}; "
                f"panic: {'yes' if self.panic else 'no'}; "
                f"error: {self.error or 'none'}; {timing}]\n"
                f"qemu: {' '.join(self.cmd)}\nlog: {self.log_path}\n"
                f"--- console tail ---\n{tail(self.raw, lines)}")


def boot_fit(fit, bootm_arg=None, bootargs=BOOTARGS, log_path=None, timeout=240,
             dtb=None, stop_at_kernel=False):
    """Boot `fit` with `bootm FIT_ADDR[bootm_arg]` (e.g. "#conf-2").

    `dtb`: U-Boot's control DTB, given to QEMU with -dtb. `stop_at_kernel`:
    end QEMU as soon as U-Boot jumps to the kernel (all U-Boot checks are
    done by then; result.started says it got that far).

    Raises QemuError if U-Boot's prompt is never reached; anything after
    that is reported in the returned BootResult (never raised), so a test
    can assert on exactly what U-Boot and the kernel printed.
    """
    cmd = qemu_command(fit, dtb)
    result = BootResult(cmd, log_path)
    t0 = time.monotonic()
    deadline = t0 + timeout

    def left(limit):
        return max(0.0, min(limit, deadline - time.monotonic()))

    with Console(cmd, log_path) as con:
        try:
            def expect(pattern, what):
                i, why = con.expect([pattern], left(TO_PROMPT))
                if i is None:
                    raise QemuError(f"U-Boot: no {what}: {why}\n"
                                    f"qemu: {' '.join(cmd)}\n--- console tail ---\n"
                                    f"{tail(con.buf)}")

            def command(line):
                # Wait for the echo too, so the next prompt found is this command's.
                con.send(line + "\n")
                expect(line.encode(), f"echo of {line!r}")

            # One key (consumed by U-Boot) stops autoboot, which would
            # otherwise probe disks and the network.
            expect(AUTOBOOT, "autoboot countdown")
            con.send(" ")
            expect(PROMPT, "prompt after stopping autoboot")
            command(f"setenv bootargs {bootargs}")
            expect(PROMPT, "prompt after setenv")
            result.times["prompt"] = time.monotonic() - t0

            result.bootm_at = con.pos
            t_bootm = time.monotonic()
            command(f"bootm {FIT_ADDR:#x}{bootm_arg or ''}")
            i, why = con.expect([START_KERNEL, PROMPT], left(TO_START_KERNEL))
            result.times["uboot"] = time.monotonic() - t_bootm
            if i is None:
                result.error = f"bootm: neither kernel start nor prompt: {why}"
            elif i == 1:
                result.refused = True
            else:
                result.started = True
                result.kernel_at = con.pos
                if stop_at_kernel:
                    return result
                t_kernel = time.monotonic()
                i, why = con.expect([BANNER], left(TO_BANNER))
                if i is None:
                    result.error = f"no Linux banner: {why}"
                else:
                    result.banner = _text(why).strip()
                    i, why = con.expect([ROOT_PANIC, ANY_PANIC], left(TO_PANIC))
                    if i is None:
                        result.error = f"no root/init panic: {why}"
                    elif i == 1:
                        result.error = f"wrong panic: {_text(why).strip()}"
                    else:
                        result.panic = _text(why).strip()
                        result.exit_status = con.wait_exit(left(TO_EXIT))
                result.times["kernel"] = time.monotonic() - t_kernel
        finally:
            result.raw = bytes(con.buf)
            result.times["total"] = time.monotonic() - t0
    return result
