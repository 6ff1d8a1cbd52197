# SPDX-License-Identifier: MIT
"""Boot an EFI kernel (vmlinuz.efi) on QEMU's arm64 virt machine through EDK2.

QEMU hands the image to Debian's EDK2 build (qemu-efi-aarch64,
QEMU_EFI.fd) with -kernel; the firmware's boot manager loads it with
LoadImage()/StartImage() as a PE/COFF EFI application, exactly like any
other EFI binary, so a PE that EDK2's loader refuses never starts. A zboot
image's stub decompresses the kernel, whose EFI stub then exits boot
services. A kernel that starts prints its `Linux version` banner and, with
no root and no initramfs, panics; panic=-1 plus -no-reboot then ends QEMU.

    result = boot_efi(image, log_path=tmp_path / "console.log")
    assert result.booted, result.describe()

Nothing is typed on the console; it is only read (select on QEMU's stdio,
through qemu_uboot.Console), and everything goes to the log as it arrives.
QEMU is always killed and reaped. Under TCG a small kernel boots to its
panic in about a second here.
"""

import re
import shutil
import time
from pathlib import Path

from qemu_uboot import ANY_PANIC, BANNER, ROOT_PANIC, Console, QemuError, tail, _text

QEMU = "qemu-system-aarch64"
FIRMWARE = Path("/usr/share/qemu-efi-aarch64/QEMU_EFI.fd")
BOOTARGS = "console=ttyAMA0 earlycon=pl011,0x9000000 panic=-1"

# cortex-a57 is about twice as fast as "max" under TCG. -nic none: the
# default virtio NIC wants efi-virtio.rom (ipxe-qemu, only a Recommends).
MACHINE_ARGS = ["-M", "virt", "-cpu", "cortex-a57", "-m", "1G", "-nographic",
                "-nic", "none", "-no-reboot"]

# What the EFI stubs print (zboot's decompressor and the kernel's own).
EFI_STUB = re.compile(rb"EFI stub: [^\r\n]*\r?\n")
# The firmware did not run the image: its loader refused it (BdsDxe then
# tries the next boot option and ends in the UEFI shell), or something
# crashed in EFI context. Stop waiting at once rather than at a timeout.
FIRMWARE_GAVE_UP = re.compile(rb"BdsDxe: failed to load[^\r\n]*\r?\n|UEFI Interactive Shell"
                              rb"|Synchronous Exception at[^\r\n]*\r?\n")

# Stage limits; each is also cut by the overall deadline of boot_efi().
TO_BANNER = 60   # QEMU start, firmware, EFI stub(s) to the Linux banner (~0.5 s here)
TO_PANIC = 120   # banner to the root panic (~0.5 s here)
TO_EXIT = 30     # panic=-1 + -no-reboot: QEMU exits on its own


def missing_prerequisites():
    """What is missing to boot at all, as strings (empty when ready)."""
    missing = []
    if shutil.which(QEMU) is None:
        missing.append(f"{QEMU} (apt-get install qemu-system-arm)")
    if not FIRMWARE.is_file():
        missing.append(f"{FIRMWARE} (apt-get install qemu-efi-aarch64)")
    return missing


def qemu_command(image, bootargs=BOOTARGS):
    return [QEMU, *MACHINE_ARGS, "-bios", str(FIRMWARE), "-kernel", str(image),
            "-append", bootargs]


class EfiBootResult:
    """What one boot printed, and how far it got."""

    def __init__(self, cmd, log_path):
        self.cmd = cmd
        self.log_path = log_path
        self.raw = b""
        self.stub = []            # "EFI stub: ..." lines before the banner
        self.firmware_error = None  # why the firmware did not start the image
        self.banner = None        # the "Linux version ..." line
        self.panic = None         # the root/init panic line
        self.exit_status = None   # QEMU's, when it ended on its own
        self.error = None         # why waiting stopped early, if it did
        self.times = {}           # seconds: banner, panic, total

    @property
    def log(self):
        return _text(self.raw)

    @property
    def kernel(self):
        """Console text from the banner on."""
        at = self.raw.find(b"Linux version ")
        return "" if at < 0 else _text(self.raw[at:])

    @property
    def booted(self):
        return bool(self.banner and self.panic)

    def describe(self, lines=40):
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in self.times.items())
        return (f"[banner: {'yes' if self.banner else 'no'}; "
                f"panic: {'yes' if self.panic else 'no'}; "
                f"firmware: {self.firmware_error or 'ran the image'}; "
                f"error: {self.error or 'none'}; exit: {self.exit_status}; {timing}]\n"
                f"qemu: {' '.join(self.cmd)}\nlog: {self.log_path}\n"
                f"--- console tail ---\n{tail(self.raw, lines)}")


def boot_efi(image, bootargs=BOOTARGS, log_path=None, timeout=180):
    """Boot `image` with EDK2 and wait for the banner, then the root panic.

    Raises QemuError only if QEMU cannot be started; everything else is
    reported in the returned EfiBootResult, so a test can assert on it.
    """
    cmd = qemu_command(image, bootargs)
    result = EfiBootResult(cmd, log_path)
    t0 = time.monotonic()
    deadline = t0 + timeout

    def left(limit):
        return max(0.0, min(limit, deadline - time.monotonic()))

    try:
        con = Console(cmd, log_path)
    except OSError as exc:
        raise QemuError(f"cannot start {QEMU}: {exc}") from exc
    with con:
        try:
            i, why = con.expect([BANNER, FIRMWARE_GAVE_UP], left(TO_BANNER))
            result.times["banner"] = time.monotonic() - t0
            if i is None:
                result.error = f"no Linux banner: {why}"
            elif i == 1:
                result.firmware_error = _text(why).strip()
                result.error = "the firmware did not start the image"
            else:
                result.banner = _text(why).strip()
                t_banner = time.monotonic()
                i, why = con.expect([ROOT_PANIC, ANY_PANIC], left(TO_PANIC))
                result.times["panic"] = time.monotonic() - t_banner
                if i is None:
                    result.error = f"no root/init panic: {why}"
                elif i == 1:
                    result.error = f"wrong panic: {_text(why).strip()}"
                else:
                    result.panic = _text(why).strip()
                    result.exit_status = con.wait_exit(left(TO_EXIT))
        finally:
            result.raw = bytes(con.buf)
            result.times["total"] = time.monotonic() - t0
    banner_at = result.raw.find(b"Linux version ")
    head = result.raw if banner_at < 0 else result.raw[:banner_at]
    result.stub = [_text(m.group(0)).strip() for m in EFI_STUB.finditer(head)]
    return result

