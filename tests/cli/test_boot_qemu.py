# SPDX-License-Identifier: MIT
"""Boot proof: bootpack's FITs booted by Debian's U-Boot on QEMU.

qemu-system-aarch64 -M virt runs Debian's u-boot-qemu (2023.01); the FIT is
loaded raw at 0x50000000 and U-Boot is driven over the serial console to
`bootm`, with Debian's real arm64 kernel from the corpus. A boot counts only
when the kernel prints its `Linux version` banner and then panics for want
of a root fs (bootargs: console=ttyAMA0 earlycon=pl011,0x9000000 panic=-1),
and every case also asserts on what U-Boot printed on the way.

One QEMU run per case, about 1 to 3 s each under TCG here; U-Boot's
decompression (lzma is the slowest) and the kernel's own boot dominate.
A failure shows the tail of the console and the path of the full log.
"""

import re
from pathlib import Path

import libfdt
import pytest

import qemu_uboot as qu
from conftest import ARCH_ARGS, bootpack_path, run
from qemu_uboot import FIT_ADDR, KERNEL_ADDR, boot_fit

pytestmark = pytest.mark.corpus

LOAD = f"{KERNEL_ADDR:#x}"
VIRT_COMPATIBLE = "linux,dummy-virt"

# Positive cases: bootpack options, then lines U-Boot must print in the
# kernel's subimage block and after the last subimage block (all as
# multi-line regexes), and the hash algorithms it must verify per image.
# Compressed kernels need --load-address (see the kernel_noload test below).
# bzip2, lzo and zstd are not built into this U-Boot ("Unimplemented
# compression type N"), so gzip, lzma and lz4 are what can be booted.
CASES = {
    # Exactly what make_fit.py writes for -c none: U-Boot copies the Image
    # out of the FIT to a 2 MiB aligned address itself.
    "none-kernel_noload": dict(
        opts=["-c", "none"],
        kernel=[r"Type:\s+Kernel Image \(no loading done\)$", r"Compression:\s+uncompressed$"],
        after=[r"^\s+Loading Kernel Image$"],
        hashes=None),
    "gzip-load-sha256": dict(
        opts=["-c", "gzip", "--load-address", LOAD, "--hash", "sha256"],
        kernel=[r"Type:\s+Kernel Image$", r"Compression:\s+gzip compressed$",
                rf"Load Address:\s+{LOAD}$", rf"Entry Point:\s+{LOAD}$"],
        after=[r"^\s+Uncompressing Flat Device Tree$", r"^\s+Uncompressing Kernel Image$"],
        hashes="sha256+"),
    "lzma-load-sha256-E": dict(
        opts=["-c", "lzma", "--load-address", LOAD, "--hash", "sha256", "-E"],
        kernel=[r"Type:\s+Kernel Image$", r"Compression:\s+lzma compressed$",
                rf"Load Address:\s+{LOAD}$"],
        after=[r"^\s+Uncompressing Flat Device Tree$", r"^\s+Uncompressing Kernel Image$"],
        hashes="sha256+"),
    # Two hash nodes per image: U-Boot checks each, in node order.
    "lz4-load-sha256,crc32-E": dict(
        opts=["-c", "lz4", "--load-address", LOAD, "--hash", "sha256,crc32", "-E"],
        kernel=[r"Type:\s+Kernel Image$", r"Compression:\s+lz4 compressed$",
                rf"Load Address:\s+{LOAD}$"],
        after=[r"^\s+Uncompressing Flat Device Tree$", r"^\s+Uncompressing Kernel Image$"],
        hashes="sha256+ crc32+"),
}


@pytest.fixture(scope="module")
def qemu():
    missing = qu.missing_prerequisites()
    if missing:
        pytest.fail("cannot boot FITs; missing: " + "; ".join(missing))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("boot-qemu")


@pytest.fixture(scope="module")
def virt_dtb(qemu, work):
    try:
        return qu.dump_virt_dtb(work / "qemu-virt.dtb")
    except qu.QemuError as exc:
        pytest.fail(str(exc))


class Builder:
    """bootpack fit build with the corpus kernel; each FIT built once."""

    def __init__(self, kernel, work):
        self.kernel = kernel
        self.work = work
        self.built = {}

    def __call__(self, name, opts, dtbs):
        if name not in self.built:
            out = self.work / f"{name}.fit"
            run([bootpack_path(), "fit", "build", "-o", out, *ARCH_ARGS,
                 "-k", self.kernel, *opts, *dtbs])
            self.built[name] = out
        return self.built[name]


@pytest.fixture(scope="module")
def build(corpus, work, qemu):
    return Builder(corpus / "Image", work)


def build_case(build, virt_dtb, name):
    return build(name, CASES[name]["opts"], [virt_dtb])


def boot(fit, work, name, **kw):
    try:
        result = boot_fit(fit, log_path=work / f"{name}.console.log", **kw)
    except qu.QemuError as exc:
        pytest.fail(str(exc))
    # Shown with -s / -rP: the time each stage took.
    print(f"{name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.times.items()))
    return result


def image_block(result, image):
    """U-Boot's text for one subimage, from its "Trying 'IMAGE'" line up to
    the next "## Loading" (or the end of U-Boot's output)."""
    m = re.search(rf"^\s+Trying '{re.escape(image)}' \w+ subimage$(.*?)(?=^## |\Z)",
                  result.uboot, re.M | re.S)
    assert m, f"U-Boot never tried image {image!r}\n{result.describe()}"
    return m.group(1)


def after_blocks(result):
    """U-Boot's text from its last "## Loading" line on: the last subimage,
    then the decompression and loading lines."""
    return result.uboot[result.uboot.rfind("## Loading"):]


def assert_lines(text, patterns, result, where):
    for pat in patterns:
        assert re.search(pat, text, re.M), \
            f"U-Boot did not print /{pat}/ ({where})\n{result.describe()}"


def assert_booted(result):
    """The kernel ran on the FIT's QEMU DTB (our model) with our bootargs:
    banner, then the panic for a missing root or init."""
    assert result.started and result.banner and result.panic, \
        f"kernel did not boot to its root panic\n{result.describe()}"
    assert f"Machine model: {qu.VIRT_MODEL}\n" in result.kernel, \
        f"the kernel did not get the QEMU virt DTB from the FIT\n{result.describe()}"
    assert re.search(rf"Kernel command line: .*{re.escape(qu.BOOTARGS)}", result.kernel), \
        f"the kernel did not get our bootargs\n{result.describe()}"


def assert_refused(result, *messages):
    """U-Boot printed each message, came back to its prompt, and never
    jumped to the kernel."""
    assert result.refused and not result.started, \
        f"U-Boot was expected to refuse and return to its prompt\n{result.describe()}"
    assert "Linux version" not in result.log, f"a kernel ran\n{result.describe()}"
    for msg in messages:
        assert msg in result.uboot, f"U-Boot did not print {msg!r}\n{result.describe()}"


def fit_images(fit):
    fdt = libfdt.FdtRo(Path(fit).read_bytes())
    images = fdt.path_offset("/images")
    names, sub = [], fdt.first_subnode(images, (libfdt.NOTFOUND,))
    while sub >= 0:
        names.append(fdt.get_name(sub))
        sub = fdt.next_subnode(sub, (libfdt.NOTFOUND,))
    return names


def assert_data_at(block, fit, result):
    """U-Boot read the kernel exactly where the FIT says its bytes are
    (embedded data, or -E's data-offset past the FDT)."""
    start, size = qu.kernel_data_extent(Path(fit).read_bytes())
    m = re.search(r"Data Start:\s+0x([0-9a-f]+)$.*?Data Size:\s+(\d+) Bytes", block, re.M | re.S)
    assert m, f"no Data Start/Size for the kernel\n{result.describe()}"
    assert (int(m.group(1), 16), int(m.group(2))) == (FIT_ADDR + start, size), \
        (f"U-Boot's kernel data at {m.group(1)} (+{m.group(2)}), the FIT's at "
         f"{FIT_ADDR + start:#x} (+{size})\n{result.describe()}")


@pytest.mark.parametrize("name", list(CASES))
def test_boot(build, virt_dtb, work, name):
    case = CASES[name]
    fit = build_case(build, virt_dtb, name)
    result = boot(fit, work, name)
    assert_booted(result)

    kernel = image_block(result, "kernel")
    assert_lines(kernel, case["kernel"], result, "kernel subimage")
    assert_data_at(kernel, fit, result)
    assert_lines(after_blocks(result), case["after"], result, "after loading")
    if case["hashes"] is None:
        assert "Hash algo" not in result.uboot, result.describe()
    else:
        # Every image in the FIT is loaded here, so each one's hashes are checked.
        images = fit_images(fit)
        assert images == ["kernel", "fdt-1"], images
        for image in images:
            assert_lines(image_block(result, image),
                         [rf"Verifying Hash Integrity \.\.\. {re.escape(case['hashes'])} OK$"],
                         result, f"{image} subimage")
    if "Uncompressing" not in " ".join(case["after"]):
        assert "Uncompressing" not in result.uboot, result.describe()


def test_best_match_among_debian_dtbs(build, corpus, virt_dtb, work):
    """All of Debian's DTBs plus QEMU's, booted with a plain `bootm ADDR`:
    U-Boot (CONFIG_FIT_BEST_MATCH) must pick the configuration whose
    compatible matches its own control DTB (the one QEMU generated)."""
    entries = [line for line in (corpus / "dtbs-list").read_text().splitlines() if line]
    assert len(entries) > 500, f"corpus has only {len(entries)} DTBs"
    # In the middle: neither the default (first) nor the last configuration.
    entries.insert(len(entries) // 2, str(virt_dtb))
    lst = work / "best-match.list"
    lst.write_text("".join(e + "\n" for e in entries))
    fit = build("best-match-sha256-E", ["-c", "none", "-E", "--hash", "sha256", "-T", lst], [])

    fdt = libfdt.FdtRo(fit.read_bytes())
    confs = fdt.path_offset("/configurations")
    # make_fit.py (and bootpack without --default-config) write no default,
    # so a U-Boot without best match would not boot this at all.
    default = fdt.getprop(confs, "default", (libfdt.NOTFOUND,))
    default = None if isinstance(default, int) else default.as_str()
    matches, sub = [], fdt.first_subnode(confs, (libfdt.NOTFOUND,))
    while sub >= 0:
        compat = bytes(fdt.getprop(sub, "compatible")).decode().split("\0")
        if VIRT_COMPATIBLE in compat:
            matches.append((fdt.get_name(sub), fdt.getprop(sub, "fdt").as_str()))
        sub = fdt.next_subnode(sub, (libfdt.NOTFOUND,))
    assert len(matches) == 1, f"configurations for {VIRT_COMPATIBLE}: {matches}"
    conf, fdt_image = matches[0]
    assert conf not in (default, "conf-1"), (default, conf)

    result = boot(fit, work, "best-match")
    assert_booted(result)
    used = re.findall(r"Using '([^']+)' configuration", result.uboot)
    assert used == [conf, conf], \
        f"U-Boot used {used}, expected {conf} for kernel and fdt\n{result.describe()}"
    block = image_block(result, fdt_image)
    assert_lines(block, [r"Verifying Hash Integrity \.\.\. sha256\+ OK$"], result, fdt_image)
    kernel = image_block(result, "kernel")
    assert_lines(kernel, [r"Type:\s+Kernel Image \(no loading done\)$",
                          r"Verifying Hash Integrity \.\.\. sha256\+ OK$"], result, "kernel")
    assert_data_at(kernel, fit, result)


@pytest.mark.parametrize("name", ["gzip-load-sha256", "lzma-load-sha256-E"])
def test_flipped_kernel_byte_is_refused(build, virt_dtb, work, name):
    """One inverted byte in the hashed kernel data: U-Boot's sha256 check
    fails and it never jumps to the kernel."""
    good = build_case(build, virt_dtb, name)
    bad = work / f"{name}-flipped.fit"
    where, start = qu.flip_kernel_byte(good, bad)
    diff = [i for i, (a, b) in enumerate(zip(good.read_bytes(), bad.read_bytes())) if a != b]
    assert diff == [where]

    result = boot(bad, work, f"{name}-flipped")
    assert_refused(result, "Verifying Hash Integrity ... sha256 error!",
                   "Bad hash value for 'hash-1' hash node in 'kernel' image node",
                   "ERROR: can't get kernel image!")
    assert_data_at(image_block(result, "kernel"), bad, result)

    # bootpack's own check refuses the same file, naming the image and hash node.
    good_check = run([bootpack_path(), "fit", "verify", "-q", good], check=False)
    assert good_check.returncode == 0, good_check.stderr.decode()
    check = run([bootpack_path(), "fit", "verify", "-q", bad], check=False)
    assert check.returncode == 1, check.stderr.decode()
    assert f"bootpack: '{bad}': kernel: hash-1: sha256 hash does not match the data" in \
        check.stderr.decode()


def test_gzip_kernel_noload_does_not_boot(build, virt_dtb, work):
    """What make_fit.py (and plain `bootpack fit build -c gzip`) writes does
    not boot on this U-Boot: for kernel_noload it hands the still-compressed
    data to the arm64 Image check. That is why --load-address exists."""
    fit = build("gzip-kernel_noload", ["-c", "gzip"], [virt_dtb])
    result = boot(fit, work, "gzip-kernel_noload")
    assert_lines(image_block(result, "kernel"),
                 [r"Type:\s+Kernel Image \(no loading done\)$",
                  r"Compression:\s+gzip compressed$"], result, "kernel subimage")
    assert_refused(result, "Bad Linux ARM64 Image magic!")

    # fit verify foresees exactly this: a warning (not a failure) naming the
    # U-Boot release that fixed it and the option that works around it.
    check = run([bootpack_path(), "fit", "verify", "-q", fit], check=False)
    assert check.returncode == 0, check.stderr.decode()
    warning = check.stderr.decode()
    assert f"bootpack: '{fit}': warning: kernel: compressed (gzip) kernel_noload image" in warning
    assert "U-Boot before v2024.04" in warning and "--load-address" in warning
    # The form that does boot (test_boot's gzip case) draws no such warning.
    ok = run([bootpack_path(), "fit", "verify", "-q", build_case(build, virt_dtb,
                                                                  "gzip-load-sha256")])
    assert b"kernel_noload" not in ok.stderr, ok.stderr.decode()
    # This boot is the proof of the u-boot-2023.01 target's rule (test_fit_targets.py):
    # --strict fails the FIT that did not boot and passes the one that did.
    strict = ["fit", "verify", "-q", "--target", "u-boot-2023.01", "--strict"]
    check = run([bootpack_path(), *strict, fit], check=False)
    assert check.returncode == 1 and b"[u-boot-noload-compressed;" in check.stderr
    run([bootpack_path(), *strict, build_case(build, virt_dtb, "gzip-load-sha256")])
