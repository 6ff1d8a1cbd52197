# SPDX-License-Identifier: MIT
"""Boot proof of FIT signatures: Debian's U-Boot (u-boot-qemu 2023.01,
qemu_arm64, FIT_SIGNATURE with RSA) accepts a signed FIT and refuses what
it must, on QEMU's arm64 virt machine with Debian's real arm64 kernel.

U-Boot's control DTB is QEMU's own virt DTB (dumpdtb) with the public key
added at /signature/key-dev, required for configurations, and is handed
to QEMU with -dtb. One FIT boots to the kernel's banner; each refused
case stops in U-Boot (the kernel never starts) and must also fail
`bootpack fit verify --key` on the same file.

FITs are signed and keys added by bootpack (`fit sign`, `fit build --sign`,
`fit key add --required conf`); one test crosses over with Debian's mkimage
2023.01 (`-f ITS -k KEYDIR -K CONTROL.dtb -r`) both ways. Keys are generated
at test time.
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

import libfdt
import pytest

import qemu_uboot as qu
from conftest import ARCH_ARGS, bootpack_path, run

pytestmark = pytest.mark.corpus

EPOCH = "1700000000"
KEY_NAME = "dev"
ALGO = "sha256,rsa2048"
ENV = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}

# U-Boot's lines (boot/image-fit-sig.c, boot/image-fit.c of v2023.01).
SIG_OK = f"Verifying Hash Integrity ... {ALGO}:{KEY_NAME}+ OK"
REQUIRED_FAILED = f"Failed to verify required signature 'key-{KEY_NAME}'"
BAD_DATA_HASH = "Bad Data Hash"
NO_KERNEL = "ERROR: can't get kernel image!"

ITS = """/dts-v1/;

/ {{
	description = "bootpack signed boot test";
	#address-cells = <1>;

	images {{
		kernel {{
			description = "Linux (Debian arm64)";
			data = /incbin/("{kernel}");
			type = "kernel_noload";
			arch = "arm64";
			os = "linux";
			compression = "none";
			load = <0>;
			entry = <0>;
			hash-1 {{
				algo = "sha256";
			}};
		}};
		fdt-1 {{
			description = "{model}";
			data = /incbin/("{dtb}");
			type = "flat_dt";
			arch = "arm64";
			compression = "none";
			hash-1 {{
				algo = "sha256";
			}};
		}};
	}};

	configurations {{
		default = "conf-1";
		conf-1 {{
			description = "{model}";
			kernel = "kernel";
			fdt = "fdt-1";
{signature}		}};
	}};
}};
"""

SIGNATURE_NODE = """			signature-1 {{
				algo = "{algo}";
				key-name-hint = "{key}";
				sign-images = "fdt", "kernel";
			}};
"""


def gen_key(directory, name=KEY_NAME, kind="rsa"):
    """A key for both signers: RSA-2048 as DIR/NAME.key with a self-signed
    DIR/NAME.crt (mkimage reads the public half from the certificate), or
    EC P-256 as DIR/NAME.pem (mkimage's name for ECDSA keys)."""
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "ec":
        key = directory / f"{name}.pem"
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", key])
        return key
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", key])
    run(["openssl", "req", "-batch", "-new", "-x509", "-key", key, "-out", crt,
         "-subj", f"/CN={name}", "-days", "1"])
    return key


class MkimageSigner:
    """FITs from an .its and Debian's mkimage; signatures with -k, the
    control DTB's key node with -K ... -r."""

    name = "mkimage"

    def __init__(self, work, kernel, virt_dtb):
        self.work, self.kernel, self.virt_dtb = work, kernel, virt_dtb

    def _its(self, out, signed, algo=ALGO, padding=None):
        its = out.with_suffix(".its")
        sig = ""
        if signed:
            sig = SIGNATURE_NODE.format(algo=algo, key=KEY_NAME)
            if padding:
                sig = sig.replace("\t\t\t}", f'\t\t\t\tpadding = "{padding}";\n\t\t\t}}')
        its.write_text(ITS.format(kernel=self.kernel, dtb=self.virt_dtb, model=qu.VIRT_MODEL,
                                  signature=sig))
        return its

    def unsigned(self, out):
        run(["mkimage", "-f", self._its(out, False), out], env=ENV)
        return out

    def signed(self, out, key, control=None, algo=ALGO, padding=None):
        """Sign with `key` (DIR/NAME.key or .pem); with `control`, also write
        the public key there, required for configurations."""
        cmd = ["mkimage", "-f", self._its(out, True, algo, padding), "-k", key.parent]
        if control and "ecdsa" in algo:
            # mkimage 2023.01's ECDSA key writer (lib/ecdsa/ecdsa-libcrypto.c)
            # neither creates /signature nor writes `required`, and names the
            # node NAME, not key-NAME: give it the node, mark it by hand.
            run(["fdtput", "-c", control, "/signature"])
            run(cmd + ["-K", control, out], env=ENV)
            run(["fdtput", "-t", "s", control, f"/signature/{KEY_NAME}", "required", "conf"])
            return out
        if control:
            cmd += ["-K", control, "-r"]
        run(cmd + [out], env=ENV)
        return out


class BootpackSigner:
    """FITs from `bootpack fit build`, signed by `bootpack fit sign` (or
    `fit build --sign`), the control DTB's key node by `bootpack fit key add
    --required conf`."""

    name = "bootpack"

    def __init__(self, work, kernel, virt_dtb):
        self.work, self.kernel, self.virt_dtb = work, kernel, virt_dtb
        self.base = None

    def _build(self, out, *extra):
        # -c none: kernel_noload with load/entry 0, as the .its above.
        run([bootpack_path(), "fit", "build", "-o", out, *ARCH_ARGS, "-k", self.kernel,
             "-c", "none", *extra, self.virt_dtb], env=ENV)
        return out

    def unsigned(self, out):
        return self._build(out, "--hash", "sha256")

    def signed(self, out, key, control=None, algo=ALGO, padding=None, build=False):
        """Sign with `key` (its file name gives the key name); with
        `control`, also write the QEMU DTB with the public key added there,
        required for configurations. build=True: in one run with
        `fit build --sign`."""
        opts = ["--algo", algo] + (["--padding", padding] if padding else [])
        if build:
            self._build(out, "--sign", key, *opts)
        else:
            if self.base is None:
                self.base = self.unsigned(self.work / "bootpack-unsigned.fit")
            run([bootpack_path(), "fit", "sign", self.base, "-o", out, "--key", key, *opts],
                env=ENV)
        if control:
            # Into a new file: in place would count as modifying an input here.
            run([bootpack_path(), "fit", "key", "add", self.virt_dtb, "-o", control,
                 "--key", key, "--algo", algo, "--required", "conf"])
        return out


# --------------------------------------------------------------------------
# Tampering: each takes the signed FIT's tree and changes it in place.

def node_props(fdt, node):
    props = {}
    off = fdt.first_property_offset(node, (libfdt.NOTFOUND,))
    while off >= 0:
        prop = fdt.get_property_by_offset(off)
        props[prop.name] = bytes(prop)
        off = fdt.next_property_offset(off, (libfdt.NOTFOUND,))
    return props


def edit_fit(src, dst, edit, grow=0):
    """dst = src with edit(fdt) applied (embedded data only: the tree moves)."""
    fdt = libfdt.Fdt(bytearray(Path(src).read_bytes()))
    fdt.resize(fdt.totalsize() + grow + 4096)
    edit(fdt)
    fdt.pack()
    Path(dst).write_bytes(bytes(fdt.as_bytearray()))
    return dst


def change_config_description(fdt):
    conf = fdt.path_offset("/configurations/conf-1")
    fdt.setprop_str(conf, "description", f"{qu.VIRT_MODEL} (changed after signing)")


def swap_in_extra_image(fdt):
    """Add an image with a modified kernel and its own, correct sha256 hash,
    and swap names so that conf-1's unchanged `kernel = "kernel"` now
    names it: every image hash still checks; only the signature (which
    covers the hash values of the images it signed) can tell."""
    props = node_props(fdt, fdt.path_offset("/images/kernel"))
    evil = bytearray(props["data"])
    evil[len(evil) // 2] ^= 0xFF
    props["data"] = bytes(evil)
    node = fdt.add_subnode(fdt.path_offset("/images"), "kernel-extra")
    for name, value in props.items():
        fdt.setprop(node, name, value)
    node = fdt.path_offset("/images/kernel-extra")
    h = fdt.add_subnode(node, "hash-1")
    fdt.setprop(h, "value", hashlib.sha256(evil).digest())
    fdt.setprop_str(h, "algo", "sha256")
    fdt.set_name(fdt.path_offset("/images/kernel"), "kernel-signed")
    fdt.set_name(fdt.path_offset("/images/kernel-extra"), "kernel")


# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qemu():
    missing = qu.missing_prerequisites()
    for tool in ("mkimage", "openssl"):
        if not shutil.which(tool):
            missing.append(f"{tool} (apt-get install u-boot-tools openssl)")
    if missing:
        pytest.fail("cannot boot FITs; missing: " + "; ".join(missing))


class Setup:
    """Keys, control DTB and the signed FIT, made once per module (worker)."""

    def __init__(self, work, corpus):
        self.work = work
        self.virt_dtb = qu.dump_virt_dtb(work / "qemu-virt.dtb")
        self.key = gen_key(work / "keys")
        self.other_key = gen_key(work / "other-keys")      # same name, other key
        self.signer = BootpackSigner(work, corpus / "Image", self.virt_dtb)
        self.control = work / "control.dtb"
        self.fit = self.signer.signed(work / "signed.fit", self.key, self.control)

    def case(self, name):
        """The refused case `name`'s FIT."""
        out = self.work / f"{name}.fit"
        if name == "flipped-kernel-byte":
            qu.flip_kernel_byte(self.fit, out)
        elif name == "unsigned":
            self.signer.unsigned(out)
        elif name == "other-key-same-name":
            self.signer.signed(out, self.other_key, build=True)
        elif name == "config-changed":
            edit_fit(self.fit, out, change_config_description)
        elif name == "extra-image-swapped-in":
            edit_fit(self.fit, out, swap_in_extra_image,
                     grow=self.fit.stat().st_size)
        else:
            raise KeyError(name)
        return out


@pytest.fixture(scope="module")
def setup(qemu, corpus, tmp_path_factory):
    try:
        return Setup(tmp_path_factory.mktemp("boot-signed"), corpus)
    except qu.QemuError as exc:
        pytest.fail(str(exc))


def boot(setup, fit, name, dtb=None, **kw):
    try:
        result = qu.boot_fit(fit, dtb=dtb or setup.control,
                             log_path=setup.work / f"{name}.console.log", **kw)
    except qu.QemuError as exc:
        pytest.fail(str(exc))
    print(f"{name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.times.items()))
    return result


def assert_in_order(text, lines, result):
    """Each of `lines` appears in U-Boot's text, in this order."""
    at = 0
    for line in lines:
        found = text.find(line, at)
        assert found >= 0, f"U-Boot did not print {line!r} (in order)\n{result.describe()}"
        at = found + len(line)


def bootpack_verify(setup, fit, control=None):
    """`bootpack fit verify --json --key CONTROL FIT`: (exit status, the
    file's report)."""
    proc = run([bootpack_path(), "fit", "verify", "--json", "--key", control or setup.control,
                fit], check=False)
    reports = json.loads(proc.stdout)
    assert len(reports) == 1, proc.stdout.decode()
    print(f"bootpack fit verify --key {fit.name}: exit {proc.returncode}, " + "; ".join(
        f"{c['level']} {c['node']}: {c['message']}" for c in reports[0]["checks"]
        if c["level"] != "ok" or c["signature"]))
    return proc.returncode, reports[0]


def signature_checks(rep):
    return [(c["level"], c["node"], c["signature"], c["algo"], c["key"])
            for c in rep["checks"] if c["signature"]]


def key_node(control):
    fdt = libfdt.FdtRo(Path(control).read_bytes())
    return node_props(fdt, fdt.path_offset(f"/signature/key-{KEY_NAME}"))


def test_signed_fit_boots(setup):
    """U-Boot checks the configuration signature with the key from its
    control DTB for the kernel and for the fdt, then the image hashes, and
    the kernel boots to its root panic."""
    key = key_node(setup.control)
    assert key["required"] == b"conf\0" and key["algo"] == ALGO.encode() + b"\0", key
    result = boot(setup, setup.fit, "signed")
    assert result.started and result.banner and result.panic, \
        f"the signed FIT did not boot\n{result.describe()}"
    assert f"Machine model: {qu.VIRT_MODEL}\n" in result.kernel, result.describe()
    assert result.uboot.count(SIG_OK) == 2, \
        f"expected {SIG_OK!r} for the kernel and the fdt\n{result.describe()}"
    assert_in_order(result.uboot, [
        "## Loading kernel from FIT Image", SIG_OK, "Trying 'kernel' kernel subimage",
        "Verifying Hash Integrity ... sha256+ OK",
        "## Loading fdt from FIT Image", SIG_OK, "Trying 'fdt-1' fdt subimage",
        "Verifying Hash Integrity ... sha256+ OK"], result)

    status, rep = bootpack_verify(setup, setup.fit)
    assert status == 0 and rep["ok"] and rep["signatures_ok"] == 1, rep
    assert signature_checks(rep) == [("ok", "conf-1", "signature-1", ALGO, KEY_NAME)], rep


def test_mkimage_crosscheck(setup):
    """Debian's mkimage and bootpack, crossed: mkimage's signed FIT under
    bootpack's key node, and bootpack's signed FIT under mkimage's
    (-K -r). U-Boot accepts both (it is stopped as it jumps to the kernel,
    whose boot test_signed_fit_boots shows); bootpack verifies both."""
    mk = MkimageSigner(setup.work, setup.signer.kernel, setup.virt_dtb)
    mk_control = setup.work / "mkimage-control.dtb"
    mk_control.write_bytes(setup.virt_dtb.read_bytes())
    mk_fit = mk.signed(setup.work / "mkimage-signed.fit", setup.key, mk_control)
    assert key_node(mk_control) == key_node(setup.control), \
        "mkimage -K -r and bootpack fit key add wrote different key nodes"
    for name, fit, control in (("mkimage-fit", mk_fit, setup.control),
                               ("mkimage-control", setup.fit, mk_control)):
        result = boot(setup, fit, name, dtb=control, stop_at_kernel=True)
        assert result.started, f"{name}: U-Boot refused\n{result.describe()}"
        assert result.uboot.count(SIG_OK) == 2, result.describe()
        status, rep = bootpack_verify(setup, fit, control)
        assert status == 0 and rep["signatures_ok"] == 1, rep


# name: what U-Boot prints, in order, before it gives up on the kernel.
REFUSED = {
    # The configuration signature holds (it covers the hash value, not the
    # data); the kernel's sha256 then fails.
    "flipped-kernel-byte": [SIG_OK, "Trying 'kernel' kernel subimage",
                            "Verifying Hash Integrity ... sha256 error!",
                            "Bad hash value for 'hash-1' hash node in 'kernel' image node"],
    "unsigned": ["Verifying Hash Integrity ...  error!",
                 "No 'signature' subnode found for '<NULL>' hash node in 'conf-1' config node",
                 REQUIRED_FAILED, BAD_DATA_HASH],
    "other-key-same-name": [f"Verifying Hash Integrity ... {ALGO}:{KEY_NAME}-  error!",
                            "Verification failed for '<NULL>' hash node in 'conf-1' config node",
                            REQUIRED_FAILED, BAD_DATA_HASH],
    "config-changed": [f"Verifying Hash Integrity ... {ALGO}:{KEY_NAME}-  error!",
                       "Verification failed for '<NULL>' hash node in 'conf-1' config node",
                       REQUIRED_FAILED, BAD_DATA_HASH],
    "extra-image-swapped-in": [f"Verifying Hash Integrity ... {ALGO}:{KEY_NAME}-  error!",
                               "Verification failed for '<NULL>' hash node in "
                               "'conf-1' config node", REQUIRED_FAILED, BAD_DATA_HASH],
}


# What `bootpack fit verify --key` must fail on, per case: (node, start of
# the message), in order.
BAD_SIGNATURE = [
    ("conf-1", f"signature-1: {ALGO} signature does not verify with key '{KEY_NAME}'"),
    ("conf-1", f"not signed by required key '{KEY_NAME}'")]
BOOTPACK_REFUSED = {
    # As in U-Boot, the signature itself holds.
    "flipped-kernel-byte": [("kernel", "hash-1: sha256 hash does not match the data")],
    "unsigned": [("conf-1", f"not signed, and key '{KEY_NAME}' is required")],
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused(setup, name):
    fit = setup.case(name)
    result = boot(setup, fit, name, stop_at_kernel=True)
    assert result.refused and not result.started, \
        f"U-Boot was expected to refuse {name}\n{result.describe()}"
    assert_in_order(result.uboot, REFUSED[name] + [NO_KERNEL], result)

    # bootpack's check finds what U-Boot found, and nothing else.
    status, rep = bootpack_verify(setup, fit)
    assert status == 1 and not rep["ok"], rep
    failures = [(c["node"], c["message"]) for c in rep["checks"] if c["level"] == "failure"]
    want = BOOTPACK_REFUSED.get(name, BAD_SIGNATURE)
    assert len(failures) == len(want) and all(
        node == w_node and msg.startswith(w_msg)
        for (node, msg), (w_node, w_msg) in zip(failures, want)), (failures, want)
    if name == "flipped-kernel-byte":
        assert signature_checks(rep) == [("ok", "conf-1", "signature-1", ALGO, KEY_NAME)], rep
    if name == "unsigned":
        # Without the key in its control DTB U-Boot boots the same file:
        # the refusal above is the required key's doing.
        plain = boot(setup, fit, f"{name}-no-key", dtb=setup.virt_dtb, stop_at_kernel=True)
        assert plain.started, f"unsigned FIT not started without a key\n{plain.describe()}"
        assert "Verifying Hash Integrity ... OK" in plain.uboot, plain.describe()
    if name == "extra-image-swapped-in":
        # The swapped-in image's own hash is right: only the signature can tell.
        fdt = libfdt.FdtRo(fit.read_bytes())
        props = node_props(fdt, fdt.path_offset("/images/kernel"))
        value = node_props(fdt, fdt.path_offset("/images/kernel/hash-1"))["value"]
        assert hashlib.sha256(props["data"]).digest() == value


# What Debian's U-Boot cannot check (its qemu_arm64 build has RSA with
# PKCS#1 v1.5 only: no CONFIG_ECDSA_VERIFY, no CONFIG_FIT_RSASSA_PSS): a
# required key of that kind refuses every FIT. These algorithms are proven
# by the mkimage interop tests instead; should a newer u-boot-qemu verify
# them, this test fails and they belong in the boot proof.
@pytest.mark.parametrize("algo,padding,kind", [("sha256,ecdsa256", None, "ec"),
                                               (ALGO, "pss", "rsa")],
                         ids=["ecdsa256", "rsa2048-pss"])
def test_uboot_cannot_verify(setup, algo, padding, kind):
    name = algo.split(",")[1] + (f"-{padding}" if padding else "")
    key = gen_key(setup.work / f"keys-{name}", kind=kind)
    control = setup.work / f"control-{name}.dtb"
    fit = setup.signer.signed(setup.work / f"{name}.fit", key, control, algo=algo,
                              padding=padding)
    result = boot(setup, fit, name, dtb=control, stop_at_kernel=True)
    assert result.refused and not result.started, result.describe()
    assert_in_order(result.uboot, [
        f"Verifying Hash Integrity ... {algo}:{KEY_NAME}-  error!",
        "Unknown signature algorithm for '<NULL>' hash node in 'conf-1' config node",
        BAD_DATA_HASH, NO_KERNEL], result)
    # The FIT and key node are sound: bootpack verifies them.
    status, rep = bootpack_verify(setup, fit, control)
    assert status == 0 and signature_checks(rep) == \
        [("ok", "conf-1", "signature-1", algo, KEY_NAME)], rep
