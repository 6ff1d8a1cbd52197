# SPDX-License-Identifier: MIT
"""UKI boot proof: UKIs built by `bootpack uki build` boot under UEFI Secure
Boot on two architectures, and tampered or unsigned ones are refused.

Each UKI is Debian's systemd-stub 252 (systemd-boot-efi: linuxx64.efi.stub,
linuxaa64.efi.stub), a Debian kernel as .linux (the amd64 6.1 vmlinuz,
scripts/fetch-corpus --amd64-kernel; the arm64 6.1 Image of the corpus, both
signed by Debian, whose CA the test's db does not hold), a tiny initramfs as
.initrd (conftest's tiny_initrd: a static /init built in the test that
prints /proc/cmdline and a marker, then powers off) and a command line as
.cmdline; `--key/--cert` sign it with Debian's snakeoil db key.

The firmware is Debian's with its snakeoil variable store (Secure Boot on,
db = the snakeoil certificate): OVMF on QEMU q35 for x86_64, AAVMF on QEMU
virt for aarch64 (qemu_efi.boot_uki). The UKI is the ESP's removable-media
loader and nothing else is given to QEMU: no -kernel, no -append, so the
command line the kernel gets can only be the UKI's .cmdline.

  - signed: boots; passes only when /init prints exactly the UKI's command
    line and its marker on the serial console, and the kernel's EFI stub
    reports Secure Boot on (the same boot proves the plain UKI layout);
  - unsigned, and signed with one byte of .cmdline changed afterwards:
    the firmware refuses it (BdsDxe: ... Access Denied) before any of it runs;
  - aarch64 only: a signed UKI whose .linux is the 6.12 zboot kernel
    (conftest's zboot_kernels, unsigned inside) boots under Secure Boot:
    systemd-stub 252 starts the embedded kernel through LoadImage() with a
    security override that trusts the buffer it took from its own, verified
    image. That test kernel is built without initramfs support, so the
    proof there is the kernel's "Kernel command line:" line and its panic
    for want of a root file system.
QEMU is stopped at the verdict. Seven boots, about 45 s in all on a busy
2-core machine under TCG: a signed boot 8 s (aarch64) and 10.5 s (x86_64;
OVMF alone takes 4 to 5 s to reach the boot manager), a refusal 2.5 to 4.5 s,
the zboot boot 4 s.

Found on the way (not a test: the budget): a 6.1 zboot kernel as .linux is
refused under Secure Boot even in a signed UKI. The stub's override trusts
the zboot image it loads, but the 6.1 decompressor LoadImage()s its inner
Image from a buffer of its own ("EFI decompressor: Failed to load image",
then Access Denied); the same UKI boots with Secure Boot off.
"""

import re

import pefile
import pytest

import qemu_efi
import tiny_initrd
from conftest import bootpack_path, run
from qemu_uboot import ROOT_PANIC, QemuError
from test_boot_secure import assert_refused, assert_signed_by

pytestmark = pytest.mark.corpus

ARCHES = ["x86_64", "aarch64"]
STUBS = {"x86_64": "linuxx64.efi.stub", "aarch64": "linuxaa64.efi.stub"}
ZBOOT = ("6.12", "gzip")  # its decompressor runs the EFI stub itself


def cmdline_for(arch):
    """The UKI's command line: the serial console, panic=-1 (a failed /init
    ends QEMU at once), and a word that is in no default command line."""
    console = qemu_efi.PLATFORMS[arch].console
    return f"console={console} panic=-1 bootpack.proof=uki-{arch}"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("boot-uki")


@pytest.fixture(scope="module", params=ARCHES)
def arch(request):
    platform = qemu_efi.PLATFORMS[request.param]
    missing = qemu_efi.missing_uki_prerequisites(platform)
    missing += tiny_initrd.missing_compilers(request.param)
    if missing:
        pytest.fail(f"cannot run the {request.param} UKI boot proof; missing: " +
                    "; ".join(missing))
    return request.param


def snakeoil_key(arch, work):
    """(key, cert) of @arch's snakeoil store, the key's passphrase removed
    (bootpack reads unencrypted PEM keys)."""
    key_enc, cert = qemu_efi.PLATFORMS[arch].snakeoil
    key = work / f"snakeoil-{arch}.key"
    if not key.is_file():
        run(["openssl", "pkey", "-in", key_enc, "-passin",
             f"pass:{qemu_efi.SNAKEOIL_PASSPHRASE}", "-out", key])
    return key, cert


@pytest.fixture(scope="module")
def snakeoil(arch, work):
    return snakeoil_key(arch, work)


@pytest.fixture(scope="module")
def kernel(arch, request):
    """Debian's kernel for @arch (fixtures fetched only for the arch in use)."""
    if arch == "x86_64":
        return request.getfixturevalue("amd64_kernel")
    return request.getfixturevalue("corpus") / "Image"


def build_uki(out, stub, linux, initrd, cmdline, key=None):
    """bootpack uki build; @key = (key, cert) signs it."""
    args = [bootpack_path(), "uki", "build", "-o", out, "--stub", stub, "--linux", linux,
            "--initrd", initrd, "--cmdline", cmdline]
    if key:
        args += ["--key", key[0], "--cert", key[1]]
    run(args)
    if key:
        assert_signed_by(out, key[1])
    return out


def section(image, name):
    pe = pefile.PE(str(image), fast_load=True)
    found = [s for s in pe.sections if s.Name.rstrip(b"\0") == name.encode()]
    assert len(found) == 1, f"{image}: {name} sections: {len(found)}"
    return found[0]


def boot(image, work, name, arch, done=None):
    """Boot @image on @arch's platform until @done (default: /init's marker)."""
    (work / name).mkdir(exist_ok=True)
    try:
        result = qemu_efi.boot_uki(image, work / name, qemu_efi.PLATFORMS[arch],
                                   done or tiny_initrd.done_pattern(arch),
                                   log_path=work / f"{name}.console.log")
    except QemuError as exc:
        pytest.fail(str(exc))
    print(f"{name}: {result.summary()}")  # shown with -s / -rP
    return result


@pytest.fixture(scope="module")
def signed_uki(arch, efi_stubs, kernel, tiny_initrd, snakeoil, work):
    out = work / f"uki-{arch}-signed.efi"
    return build_uki(out, efi_stubs[STUBS[arch]], kernel, tiny_initrd(arch), cmdline_for(arch),
                     key=snakeoil)


def test_signed_uki_boots(arch, signed_uki, work):
    """The signed UKI boots under Secure Boot, and /init prints exactly the
    UKI's command line and its marker."""
    cmdline = cmdline_for(arch)
    assert section(signed_uki, ".cmdline").get_data()[:len(cmdline)] == cmdline.encode()
    result = boot(signed_uki, work, f"{arch}-signed", arch)
    assert result.verdict == "booted", f"expected a boot\n{result.describe()}"
    assert result.banner.startswith("Linux version 6.1.") and \
        "(debian-kernel@lists.debian.org)" in result.banner, result.describe()
    assert tiny_initrd.printed_cmdlines(result.kernel) == [cmdline], \
        f"/init should print the UKI's command line {cmdline!r}\n{result.describe()}"
    assert result.end == tiny_initrd.MARKER[arch], result.describe()
    assert result.secure_boot_seen, f"the EFI stub saw no Secure Boot\n{result.describe()}"


def test_unsigned_uki_refused(arch, efi_stubs, kernel, tiny_initrd, work):
    """The same UKI unsigned: refused before anything of it runs."""
    out = build_uki(work / f"uki-{arch}-unsigned.efi", efi_stubs[STUBS[arch]], kernel,
                    tiny_initrd(arch), cmdline_for(arch))
    pe = pefile.PE(str(out), fast_load=True)
    assert pe.OPTIONAL_HEADER.DATA_DIRECTORY[
        pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]].Size == 0
    assert_refused(boot(out, work, f"{arch}-unsigned", arch))


def test_patched_cmdline_refused(arch, signed_uki, snakeoil, work):
    """The signed UKI with one byte of .cmdline changed after signing (the
    last letter of the arch name, so still a plausible command line): the
    image digest no longer matches; refused."""
    data = bytearray(signed_uki.read_bytes())
    cmd = section(signed_uki, ".cmdline")
    text = bytes(data[cmd.PointerToRawData:cmd.PointerToRawData + cmd.Misc_VirtualSize])
    assert text.startswith(cmdline_for(arch).encode()), text
    at = cmd.PointerToRawData + cmdline_for(arch).index(f"uki-{arch}") + len(f"uki-{arch}") - 1
    data[at] ^= 0x01
    out = work / f"uki-{arch}-signed-patched.efi"
    out.write_bytes(data)
    check = run(["sbverify", "--cert", snakeoil[1], out], check=False)
    said = (check.stdout + check.stderr).decode(errors="replace")
    assert check.returncode != 0 and "Hash doesn't match image" in said, said

    assert_refused(boot(out, work, f"{arch}-patched-cmdline", arch))


def test_zboot_uki_boots(zboot_kernels, efi_stubs, tiny_initrd, work):
    """aarch64: a signed UKI whose .linux is the (unsigned) 6.12 zboot
    kernel boots under Secure Boot with the UKI's command line."""
    arch = "aarch64"
    missing = qemu_efi.missing_uki_prerequisites(qemu_efi.PLATFORMS[arch])
    assert not missing, "; ".join(missing)
    zboot = zboot_kernels[ZBOOT]
    # Built without ACPI, the test kernel finds its console by earlycon only.
    cmdline = (cmdline_for(arch).replace("uki-", "uki-zboot-")
               .replace(" panic=", " earlycon=pl011,0x9000000 panic="))
    out = build_uki(work / "uki-zboot-signed.efi", efi_stubs[STUBS[arch]], zboot.efi,
                    tiny_initrd(arch), cmdline, key=snakeoil_key(arch, work))
    # .linux is the zboot image as built: "zimg" at 4, no signature of its own.
    linux = section(out, ".linux").get_data()
    assert linux[:2] == b"MZ" and linux[4:8] == b"zimg", linux[:16]
    image = zboot.efi.read_bytes()
    assert linux[:len(image)] == image

    # The test kernel has no initramfs support: it ends at its root panic.
    result = boot(out, work, "aarch64-zboot-signed", arch, done=ROOT_PANIC)
    assert result.verdict == "booted", f"expected a boot\n{result.describe()}"
    assert result.banner.startswith("Linux version 6.12."), result.describe()
    assert re.search(rf"Kernel command line: {re.escape(cmdline)}\n", result.kernel), \
        f"the kernel should report the UKI's command line {cmdline!r}\n{result.describe()}"
    assert result.secure_boot_seen, f"the EFI stub saw no Secure Boot\n{result.describe()}"
