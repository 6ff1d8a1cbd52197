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

Secure Boot (boot_efi_secure, further down) uses Debian's AAVMF build with
a variable store: AAVMF_CODE.snakeoil.fd (the same binary as AAVMF_CODE.fd)
as read-only pflash and a private copy of AAVMF_VARS.snakeoil.fd (PK, KEK and
db hold Debian's snakeoil certificate: Secure Boot on) or, as the control,
of AAVMF_VARS.fd (no keys: Secure Boot off). Measured: this firmware checks
the -kernel image too (an unsigned one never starts), but its QEMU kernel
loader says nothing when it refuses one and the boot manager goes on to the
boot options. So the same image is also the removable-media loader
EFI/BOOT/BOOTAA64.EFI of an ESP that QEMU builds from a directory (vvfat,
read-only): after the -kernel attempt the boot manager tries it and names
the refusal on the console,

    BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0): Access Denied

(-kernel keeps the command line; a loader from an ESP gets none, and the
small test kernels print nothing without earlycon.) The verdict is whichever
comes first: the Linux banner (booted); BdsDxe's failure line for the ESP's
loader, or BdsDxe giving up ("No bootable option or device was found")
(refused); a crash in EFI context (crashed); or a stage deadline (hung).
QEMU is stopped as soon as the verdict is known.

Unified kernel images (boot_uki, at the end) go the ESP way only, on either
architecture (PLATFORMS): AAVMF on virt as above, or Debian's OVMF Secure
Boot build (OVMF_CODE_4M.secboot.fd) on q35 with SMM, with its snakeoil
store OVMF_VARS_4M.snakeoil.fd or the empty OVMF_VARS_4M.fd. The verdict
logic is the one above (watch_firmware); a boot that starts the kernel is
then followed to a line the caller names (the marker of the test's /init),
a kernel panic, or the deadline.
"""

import os
import re
import shutil
import time
from pathlib import Path
from typing import NamedTuple

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


def run_boot(cmd, result, timeout, watch):
    """Start QEMU with @cmd and call watch(con, left, t0), which waits on the
    console (Console.expect with left(stage limit) as timeout, cut by the
    overall @timeout) and fills @result. QEMU is killed and reaped after it;
    the console text, the EFI stub lines before the banner and the total time
    go into @result, which is returned. QemuError if QEMU cannot start."""
    t0 = time.monotonic()
    deadline = t0 + timeout

    def left(limit):
        return max(0.0, min(limit, deadline - time.monotonic()))

    try:
        con = Console(cmd, result.log_path)
    except OSError as exc:
        raise QemuError(f"cannot start {cmd[0]}: {exc}") from exc
    with con:
        try:
            watch(con, left, t0)
        finally:
            result.raw = bytes(con.buf)
            result.times["total"] = time.monotonic() - t0
    banner_at = result.raw.find(b"Linux version ")
    head = result.raw if banner_at < 0 else result.raw[:banner_at]
    result.stub = [_text(m.group(0)).strip() for m in EFI_STUB.finditer(head)]
    return result


def boot_efi(image, bootargs=BOOTARGS, log_path=None, timeout=180):
    """Boot `image` with EDK2 and wait for the banner, then the root panic.

    Raises QemuError only if QEMU cannot be started; everything else is
    reported in the returned EfiBootResult, so a test can assert on it.
    """
    cmd = qemu_command(image, bootargs)
    result = EfiBootResult(cmd, log_path)

    def watch(con, left, t0):
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

    return run_boot(cmd, result, timeout, watch)


# --------------------------------------------------------------------------
# Secure Boot: AAVMF with the snakeoil variable store; -kernel and an ESP.

AAVMF_CODE = Path("/usr/share/AAVMF/AAVMF_CODE.snakeoil.fd")
AAVMF_VARS = {True: Path("/usr/share/AAVMF/AAVMF_VARS.snakeoil.fd"),   # Secure Boot on
              False: Path("/usr/share/AAVMF/AAVMF_VARS.fd")}           # no keys: off
# The db key of AAVMF_VARS.snakeoil.fd; the PEM key is encrypted with the
# passphrase README.Debian of qemu-efi-aarch64 gives.
SNAKEOIL_KEY = Path("/usr/share/qemu-efi-aarch64/PkKek-1-snakeoil.key")
SNAKEOIL_CERT = Path("/usr/share/qemu-efi-aarch64/PkKek-1-snakeoil.pem")
SNAKEOIL_PASSPHRASE = "snakeoil"

# splash-time=0: no boot manager countdown (5 s before the boot options).
SECURE_MACHINE_ARGS = [*MACHINE_ARGS, "-boot", "menu=on,splash-time=0"]

# BdsDxe's own lines (printed by this release build) about the ESP's loader
# (on the virtio disk: PciRoot(...)/Pci(...)), and its last resort.
BDS_FAILED_ESP = re.compile(rb'BdsDxe: failed to (?:load|start) Boot[0-9A-F]{4} "[^"\r\n]*" '
                            rb'from PciRoot\([^\r\n]*: ([^:\r\n]+)\r?\n')
BDS_NOTHING = re.compile(rb"BdsDxe: No bootable option or device was found\.[^\r\n]*\r?\n")
EFI_CRASH = re.compile(rb"Synchronous Exception at[^\r\n]*\r?\n")
# A line showing the firmware got as far as running (or refusing) an image.
FIRST_IMAGE_LINE = re.compile(rb"(?:EFI stub|EFI decompressor|BdsDxe): [^\r\n]*\r?\n")
SECURE_BOOT_ON = "EFI stub: UEFI Secure Boot is enabled."
# What the decompressor of a 6.1 zboot image prints when LoadImage() refuses
# its inner Image (drivers/firmware/efi/libstub/zboot.c, before Linux 6.2).
ZBOOT_LOAD_FAILED = "EFI decompressor: Failed to load image"

# Stage limits (the verdict normally comes within 4 s here; only a hung boot
# waits for them). Each is also cut by the overall deadline.
TO_FIRMWARE = 60  # QEMU start to the first line of an EFI stub or of BdsDxe
TO_VERDICT = 60   # from there to the banner or the refusal


def missing_secure_prerequisites():
    """What is missing for boot_efi_secure() and snakeoil signing (empty when ready)."""
    missing = [m for m in missing_prerequisites() if str(FIRMWARE) not in m]
    for path in (AAVMF_CODE, *AAVMF_VARS.values(), SNAKEOIL_KEY, SNAKEOIL_CERT):
        if not path.is_file():
            missing.append(f"{path} (apt-get install qemu-efi-aarch64)")
    return missing


def copy_sparse(src, dst, block=65536):
    """Copy @src to @dst leaving holes for all-zero blocks (a 64 MiB variable
    store is 1% data)."""
    zero = bytes(block)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while True:
            chunk = fin.read(block)
            if not chunk:
                break
            if chunk == zero[:len(chunk)]:
                fout.seek(len(chunk), os.SEEK_CUR)
            else:
                fout.write(chunk)
        fout.truncate()


def make_esp(image, directory, loader="BOOTAA64.EFI"):
    """@directory/EFI/BOOT/@loader = @image (what vvfat serves)."""
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    boot = directory / "EFI" / "BOOT"
    boot.mkdir(parents=True)
    shutil.copyfile(image, boot / loader)
    return directory


def esp_command(qemu, machine_args, code, esp, vars_copy):
    """QEMU with firmware @code (read-only pflash), its variable store
    @vars_copy (writable pflash) and the ESP directory @esp (vvfat)."""
    def opt(path):
        return str(path).replace(",", ",,")  # QEMU's option escaping
    return [qemu, *machine_args,
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={opt(code)}",
            "-drive", f"if=pflash,format=raw,unit=1,file={opt(vars_copy)}",
            "-drive", f"if=virtio,format=raw,readonly=on,file=fat:{opt(esp)}"]


def secure_command(image, esp, vars_copy, bootargs=BOOTARGS):
    return [*esp_command(QEMU, SECURE_MACHINE_ARGS, AAVMF_CODE, esp, vars_copy),
            "-kernel", str(image), "-append", bootargs]


class SecureBootResult(EfiBootResult):
    """What boot_efi_secure() saw: booted, refused (and how), crashed or hung."""

    def __init__(self, cmd, log_path, secure):
        super().__init__(cmd, log_path)
        self.secure = secure       # the snakeoil store (True) or the empty one (False)
        self.refusal = None        # BdsDxe's failure line for the ESP's loader, or its giving up
        self.status = None         # the EFI status that failure line names ("Access Denied")

    @property
    def booted(self):
        return bool(self.banner)

    @property
    def before_bds(self):
        """Console text before the boot manager's first line: what the -kernel
        attempt printed (nothing at all when the firmware refused the image)."""
        at = self.raw.find(b"BdsDxe: ")
        return self.log if at < 0 else _text(self.raw[:at])

    @property
    def secure_boot_seen(self):
        """An EFI stub found Secure Boot on (it reads the SecureBoot variable)."""
        return SECURE_BOOT_ON in self.stub

    @property
    def verdict(self):
        if self.banner:
            return "booted"
        if self.refusal:
            return "refused"
        return "crashed" if self.firmware_error else "hung"

    def summary(self):
        """The verdict and the time each stage took, on one line."""
        return ", ".join([self.verdict, *(f"{k} {v:.1f} s" for k, v in self.times.items())])

    def describe(self, lines=40):
        return (f"[verdict: {self.verdict}; secure boot store: {self.secure}; "
                f"refusal: {self.refusal or 'none'}]\n" + super().describe(lines))


def boot_efi_secure(image, work, secure=True, bootargs=BOOTARGS, log_path=None, timeout=120):
    """Boot @image under AAVMF with the snakeoil variable store (@secure) or
    the empty one, as -kernel and as the ESP's loader; stop at the verdict.

    @work is a directory of the caller's for the ESP and the copy of the
    variable store. Raises QemuError only if QEMU cannot be started."""
    work = Path(work)
    esp = make_esp(image, work / "esp")
    vars_copy = work / "vars.fd"
    copy_sparse(AAVMF_VARS[secure], vars_copy)
    cmd = secure_command(image, esp, vars_copy, bootargs)
    result = SecureBootResult(cmd, log_path, secure)

    def watch(con, left, t0):
        watch_firmware(con, left, t0, result)

    return run_boot(cmd, result, timeout, watch)


def watch_firmware(con, left, t0, result):
    """Wait for the firmware's verdict on the image: the Linux banner, the
    boot manager's refusal, or a crash in EFI context; fill @result (a
    SecureBootResult). True when the kernel started."""
    i, why = con.expect([FIRST_IMAGE_LINE], left(TO_FIRMWARE))
    result.times["firmware"] = time.monotonic() - t0
    if i is None:
        result.error = f"the firmware ran no image and no boot option: {why}"
        return False
    con.pos -= len(why)  # it may be the verdict itself
    t_image = time.monotonic()
    i, why = con.expect([BANNER, BDS_FAILED_ESP, BDS_NOTHING, EFI_CRASH], left(TO_VERDICT))
    result.times["verdict"] = time.monotonic() - t_image
    if i is None:
        result.error = f"no banner and no refusal: {why}"
    elif i == 0:
        result.banner = _text(why).strip()
    elif i in (1, 2):
        result.refusal = _text(why).strip()
        if i == 1:
            result.status = _text(BDS_FAILED_ESP.search(why).group(1)).strip()
    else:
        result.firmware_error = _text(why).strip()
    return i == 0


# --------------------------------------------------------------------------
# Unified kernel images (systemd-stub + kernel + initrd + command line) on
# both architectures, started from the ESP only: the boot manager passes its
# loader no command line of ours, so what the kernel gets is the UKI's own
# .cmdline (systemd-stub 252 ignores load options under Secure Boot anyway).

class Platform(NamedTuple):
    arch: str            # "aarch64" or "x86_64" (tiny_initrd's names)
    qemu: str
    machine_args: tuple
    code: Path           # the firmware, a Secure Boot capable build
    vars: dict           # {True: the snakeoil store (Secure Boot on), False: no keys (off)}
    loader: str          # the ESP's removable-media loader, EFI/BOOT/<loader>
    console: str         # the serial port's name for console=
    snakeoil: tuple      # (encrypted key, certificate): the db key of vars[True]
    packages: str        # where code, vars and snakeoil come from

OVMF = Path("/usr/share/OVMF")
# q35 with SMM: the Secure Boot build keeps its variable store in SMM, and
# only SMM code may write the flash (cfi.pflash01 secure=on). -nodefaults:
# no CD-ROM, whose boot option would otherwise fail first ("Not Found").
# No S3: OVMF asks for it to be off with SMM.
X86_MACHINE_ARGS = ("-M", "q35,smm=on", "-m", "1G", "-nodefaults", "-nographic",
                    "-serial", "stdio", "-no-reboot",
                    "-global", "driver=cfi.pflash01,property=secure,value=on",
                    "-global", "ICH9-LPC.disable_s3=1", "-boot", "menu=on,splash-time=0")

PLATFORMS = {
    "aarch64": Platform("aarch64", QEMU, tuple(SECURE_MACHINE_ARGS), AAVMF_CODE, AAVMF_VARS,
                        "BOOTAA64.EFI", "ttyAMA0", (SNAKEOIL_KEY, SNAKEOIL_CERT),
                        "qemu-system-arm qemu-efi-aarch64"),
    # OVMF_CODE_4M.snakeoil.fd is a link to this same binary.
    "x86_64": Platform("x86_64", "qemu-system-x86_64", X86_MACHINE_ARGS,
                       OVMF / "OVMF_CODE_4M.secboot.fd",
                       {True: OVMF / "OVMF_VARS_4M.snakeoil.fd", False: OVMF / "OVMF_VARS_4M.fd"},
                       "BOOTX64.EFI", "ttyS0",
                       (Path("/usr/share/ovmf/PkKek-1-snakeoil.key"),
                        Path("/usr/share/ovmf/PkKek-1-snakeoil.pem")),
                       "qemu-system-x86 ovmf"),
}

TO_INIT = 120  # the banner to the end (/init's marker), ~3 s here under TCG


def missing_uki_prerequisites(platform):
    """What is missing for boot_uki() on @platform (empty when ready)."""
    missing = []
    if shutil.which(platform.qemu) is None:
        missing.append(f"{platform.qemu} (apt-get install {platform.packages})")
    for path in (platform.code, *platform.vars.values(), *platform.snakeoil):
        if not path.is_file():
            missing.append(f"{path} (apt-get install {platform.packages})")
    return missing


class UkiBootResult(SecureBootResult):
    """boot_uki()'s: SecureBootResult, and whether the kernel got to the end."""

    def __init__(self, cmd, log_path, secure):
        super().__init__(cmd, log_path, secure)
        self.end = None           # the line that ended the boot as wanted

    @property
    def booted(self):
        return bool(self.banner and self.end)

    @property
    def verdict(self):
        if self.banner and not self.end:
            return "crashed" if self.panic else "hung"
        return super().verdict

    def describe(self, lines=40):
        return (f"[end: {self.end or 'not seen'}; panic: {self.panic or 'none'}]\n" +
                super().describe(lines))


def boot_uki(image, work, platform, done, secure=True, log_path=None, timeout=240):
    """Boot @image as the ESP's loader on @platform with the snakeoil
    variable store (@secure) or the empty one; the boot has gone as wanted
    when the console shows @done (a bytes regex, e.g. the marker /init
    prints) after the Linux banner. Stops at the verdict: booted, refused,
    crashed (also a kernel panic) or hung.

    @work is a directory of the caller's for the ESP and the copy of the
    variable store. Raises QemuError only if QEMU cannot be started."""
    work = Path(work)
    esp = make_esp(image, work / "esp", platform.loader)
    vars_copy = work / "vars.fd"
    copy_sparse(platform.vars[secure], vars_copy)
    cmd = esp_command(platform.qemu, platform.machine_args, platform.code, esp, vars_copy)
    result = UkiBootResult(cmd, log_path, secure)

    def watch(con, left, t0):
        if not watch_firmware(con, left, t0, result):
            return
        t_kernel = time.monotonic()
        i, why = con.expect([done, ANY_PANIC], left(TO_INIT))
        result.times["end"] = time.monotonic() - t_kernel
        if i is None:
            result.error = f"the kernel started, its end was not seen: {why}"
        elif i == 0:
            result.end = _text(why).strip()
        else:
            result.panic = _text(why).strip()
            result.error = "the kernel panicked"

    return run_boot(cmd, result, timeout, watch)
