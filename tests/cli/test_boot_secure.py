# SPDX-License-Identifier: MIT
"""Secure Boot proof: images signed by `bootpack pe sign` under UEFI firmware.

qemu-system-aarch64 -M virt runs Debian's AAVMF (qemu-efi-aarch64) with its
snakeoil variable store: Secure Boot is on and db trusts only Debian's
snakeoil certificate (/usr/share/qemu-efi-aarch64/PkKek-1-snakeoil.*).
Each image is handed to the firmware twice in one boot (qemu_efi.py,
boot_efi_secure): as QEMU's -kernel, which this firmware verifies too and
which carries the command line, and as the ESP's EFI/BOOT/BOOTAA64.EFI,
which the boot manager tries next and whose refusal it names.

Refused, booted and hung are told apart by what the firmware and the kernel
print, matched the moment it appears, with QEMU stopped at once:
  - booted:  the kernel's "Linux version" banner;
  - refused: BdsDxe's line for the ESP's loader with the status the security
    check returned, "failed to load Boot0001 "UEFI Misc Device" from
    PciRoot(0x0)/Pci(0x1,0x0): Access Denied" (EFI_ACCESS_DENIED, the
    verdict of the firmware's image verification; a file that is no PE
    image gives "Not Found" here), with nothing of the image printed on the
    -kernel attempt before it;
  - hung: neither within a stage deadline (60 s each; a verdict takes 1 to
    4 s here).
That Secure Boot is really enforced is shown on the same bytes: the
unsigned kernel refused with the snakeoil store boots with AAVMF's empty
store (same firmware binary, Secure Boot off); every boot with the snakeoil
store that gets to the kernel has its EFI stub report "UEFI Secure Boot is
enabled.", the control does not.

The kernels are conftest's zboot_kernels (6.12 gzip: the decompressor runs
the EFI stub itself; 6.1 gzip: it hands the inner Image to LoadImage(), so
an outer signature alone is refused, the boundary established in the kernel
sources: Linux 6.2, commit c51e97e7f129 "efi: libstub: Merge zboot
decompressor with the ordinary stub") and Debian's own arm64 kernel from the
corpus (signed by Debian, whose CA this db does not hold: its signature is
replaced). The "other key" is generated at test time (signkeys.py); the
snakeoil key is Debian's, decrypted into the test's temporary directory.
Eight boots; the file takes about 30 s on a busy 2-core machine (each boot
2 to 3.5 s, mostly the firmware starting under TCG).
"""

import re
import shutil

import pefile
import pytest

import qemu_efi
from conftest import bootpack_path, run
from qemu_uboot import QemuError
from signkeys import sign_keys  # noqa: F401

pytestmark = pytest.mark.corpus

REQUIRED = {"openssl": "openssl", "sbverify": "sbsigntool"}  # tool: Debian package
ZBOOT_NEW = ("6.12", "gzip")  # runs the EFI stub on the decompressed kernel itself
ZBOOT_OLD = ("6.1", "gzip")   # LoadImage()s the inner Image
# What an image that runs prints first (the console's escape codes before it
# on the same line are the firmware's).
RAN = re.compile(r"(?:EFI stub|EFI decompressor|Linux version)[^\n]*")
SECURITY_DIR = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]


@pytest.fixture(scope="module")
def ready():
    missing = qemu_efi.missing_secure_prerequisites()
    missing += [f"{t} (apt-get install {pkg})" for t, pkg in REQUIRED.items()
                if shutil.which(t) is None]
    if missing:
        pytest.fail("cannot run the Secure Boot proof; missing: " + "; ".join(missing))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("boot-secure")


@pytest.fixture(scope="module")
def snakeoil(ready, work):
    """(key, cert): the db key of the snakeoil store, its passphrase removed
    (bootpack reads unencrypted PEM keys) in this test's temporary directory."""
    key = work / "snakeoil.key"
    run(["openssl", "pkey", "-in", qemu_efi.SNAKEOIL_KEY, "-passin",
         f"pass:{qemu_efi.SNAKEOIL_PASSPHRASE}", "-out", key])
    return key, qemu_efi.SNAKEOIL_CERT


def bp(*args, check=True):
    return run([bootpack_path(), *args], check=check)


def sign(image, out, key, cert, *extra):
    """bootpack pe sign; the output must carry exactly one signature that
    sbverify (sbsigntool, independent of bootpack) accepts with @cert."""
    proc = bp("pe", "sign", image, "--key", key, "--cert", cert, *extra, "-o", out)
    assert_signed_by(out, cert)
    return proc


def assert_signed_by(image, cert):
    check = run(["sbverify", "--cert", cert, image], check=False)
    assert check.returncode == 0, (f"sbverify --cert {cert} {image}: "
                                   f"{(check.stdout + check.stderr).decode(errors='replace')}")
    listing = run(["sbverify", "--list", image]).stdout.decode()
    assert re.findall(r"^signature \d+$", listing, re.M) == ["signature 1"], listing


def boot(image, work, name, secure=True):
    d = work / name
    d.mkdir(exist_ok=True)
    try:
        result = qemu_efi.boot_efi_secure(image, d, secure=secure,
                                          log_path=work / f"{name}.console.log")
    except QemuError as exc:
        pytest.fail(str(exc))
    # Shown with -s / -rP: the verdict and the time each stage took.
    print(f"{name}: {result.verdict}, " +
          ", ".join(f"{k} {v:.1f} s" for k, v in result.times.items()))
    return result


def assert_booted(result, version, secure=True):
    """The kernel ran to its banner, from -kernel (our command line), and
    its EFI stub saw Secure Boot as the store says."""
    assert result.verdict == "booted", f"expected a boot\n{result.describe()}"
    assert result.banner.startswith(f"Linux version {version}."), result.describe()
    assert "BdsDxe: " not in result.log, \
        f"the -kernel image was not started first\n{result.describe()}"
    assert result.secure_boot_seen == secure, \
        f"EFI stub's Secure Boot report, expected {secure}\n{result.describe()}"


def assert_refused(result, ran_before=()):
    """The firmware refused the ESP's copy with EFI_ACCESS_DENIED and had run
    nothing of the -kernel copy but the lines @ran_before; no kernel ran."""
    assert result.verdict == "refused" and result.status == "Access Denied", \
        f"expected the firmware's Access Denied\n{result.describe()}"
    assert "Linux version" not in result.log and not result.stub, result.describe()
    printed = RAN.findall(result.before_bds)
    assert printed == list(ran_before), \
        f"the -kernel attempt printed {printed}\n{result.describe()}"


@pytest.fixture(scope="module")
def zboot(zboot_kernels, ready):
    return {k: zboot_kernels[k] for k in (ZBOOT_NEW, ZBOOT_OLD)}


@pytest.fixture(scope="module")
def signed_new(zboot, snakeoil, work):
    """The 6.12 zboot kernel signed with the snakeoil key."""
    out = work / "6.12-snakeoil.efi"
    proc = sign(zboot[ZBOOT_NEW].efi, out, *snakeoil)
    # Its decompressor starts the inner kernel itself: nothing to warn about.
    assert proc.stderr == b"", proc.stderr.decode()
    assert "its decompressor starts it itself" in bp("pe", "info", out).stdout.decode()
    return out


def test_signed_zboot_boots(zboot, signed_new, work):
    """(a) bootpack's signature with the db key: the firmware starts the
    6.12 zboot kernel, which runs to its banner."""
    result = boot(signed_new, work, "a-signed")
    assert_booted(result, "6.12")
    assert "EFI stub: Exiting boot services..." in result.stub, result.describe()


def test_added_section_resigned_boots(zboot, signed_new, snakeoil, work):
    """(b) kexec's flow in one command: a .bpf section added to the signed
    image and the result signed again; it boots."""
    blob = work / "bpf.o"
    blob.write_bytes(bytes(range(256)) * 16 + b"bootpack .bpf section\n")
    out = work / "6.12-bpf-snakeoil.efi"
    bp("pe", "add-section", signed_new, "--name", ".bpf", "--file", blob,
       "--key", snakeoil[0], "--cert", snakeoil[1], "-o", out)
    assert_signed_by(out, snakeoil[1])
    pe = pefile.PE(str(out), fast_load=True)
    bpf = [s for s in pe.sections if s.Name.rstrip(b"\0") == b".bpf"]
    assert len(bpf) == 1, [s.Name for s in pe.sections]
    assert bpf[0].get_data()[:blob.stat().st_size] == blob.read_bytes()

    result = boot(out, work, "b-bpf-resigned")
    assert_booted(result, "6.12")


def test_unsigned_refused(zboot, work):
    """(c) The kernel as built (no signature) is refused."""
    efi = zboot[ZBOOT_NEW].efi
    assert pefile.PE(str(efi), fast_load=True).OPTIONAL_HEADER.DATA_DIRECTORY[
        SECURITY_DIR].Size == 0
    assert_refused(boot(efi, work, "c-unsigned"))


def test_unsigned_boots_without_keys(zboot, work):
    """(c') The control: the same unsigned bytes boot with AAVMF's empty
    store (Secure Boot off), so (c) is the signature check's doing."""
    result = boot(zboot[ZBOOT_NEW].efi, work, "c-unsigned-no-keys", secure=False)
    assert_booted(result, "6.12", secure=False)


def test_other_key_refused(zboot, sign_keys, work):  # noqa: F811
    """(d) A valid signature by a key db does not hold is refused."""
    key, cert = sign_keys.rsa("secboot-other"), sign_keys.crt("secboot-other")
    out = work / "6.12-other-key.efi"
    sign(zboot[ZBOOT_NEW].efi, out, key, cert)
    assert_refused(boot(out, work, "d-other-key"))


def test_flipped_byte_refused(zboot, signed_new, snakeoil, work):
    """(e) One byte inverted in the middle of .text (the compressed kernel,
    inside the hashed ranges) after signing: refused."""
    data = bytearray(signed_new.read_bytes())
    pe = pefile.PE(data=bytes(data), fast_load=True)
    text = next(s for s in pe.sections if s.Name.rstrip(b"\0") == b".text")
    at = text.PointerToRawData + text.SizeOfRawData // 2
    data[at] ^= 0xFF
    out = work / "6.12-snakeoil-flipped.efi"
    out.write_bytes(data)
    # The signature itself is intact; only the image digest no longer matches.
    check = run(["sbverify", "--cert", snakeoil[1], out], check=False)
    said = (check.stdout + check.stderr).decode(errors="replace")
    assert check.returncode != 0 and "Hash doesn't match image" in said, said

    assert_refused(boot(out, work, "e-flipped"))


def test_debian_kernel_resigned_boots(corpus, snakeoil, work, ready):
    """(f) Debian's own signed arm64 kernel: its signature replaced by one
    with the snakeoil key (pe sign --replace), it boots with Secure Boot."""
    image = corpus / "Image"
    listing = run(["sbverify", "--list", image]).stdout.decode()
    assert "Debian Secure Boot Signer" in listing, listing
    out = work / "debian-snakeoil.efi"
    sign(image, out, *snakeoil, "--replace")
    assert "Debian Secure Boot Signer" not in run(["sbverify", "--list", out]).stdout.decode()

    result = boot(out, work, "f-debian-resigned")
    assert_booted(result, "6.1")
    assert "-arm64 (debian-kernel@lists.debian.org)" in result.banner, result.describe()


def test_old_zboot_signed_outside_refused(zboot, snakeoil, work):
    """(g) A 6.1 zboot kernel signed (outside only) with the db key: the
    firmware starts the decompressor, which hands the unsigned inner Image
    to LoadImage(), and that is refused. (The 6.12 one signed the same way
    boots: test_signed_zboot_boots.)"""
    out = work / "6.1-snakeoil.efi"
    proc = sign(zboot[ZBOOT_OLD].efi, out, *snakeoil)
    # bootpack foresees it: a warning when signing, and pe info says so.
    warning = proc.stderr.decode()
    assert f"bootpack: '{zboot[ZBOOT_OLD].efi}': warning: the inner Image (Linux 6.1." in warning
    assert "Linux before 6.2" in warning and "LoadImage()" in warning, warning
    info = bp("pe", "info", out).stdout.decode()
    assert "unsigned; its decompressor passes it to LoadImage()" in info, info

    result = boot(out, work, "g-6.1-outside")
    # On both routes the outer image ran: its decompressor says why it stopped.
    assert_refused(result, ran_before=[qemu_efi.ZBOOT_LOAD_FAILED])
    assert "BdsDxe: starting Boot" in result.log, result.describe()
    assert result.refusal.startswith("BdsDxe: failed to start Boot"), result.describe()
    tail = result.log[result.log.index("BdsDxe: starting Boot"):]
    assert tail.index(qemu_efi.ZBOOT_LOAD_FAILED) < tail.index("BdsDxe: failed to start"), \
        result.describe()
