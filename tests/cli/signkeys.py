# SPDX-License-Identifier: MIT
"""Signing keys and small FITs for the signing tests, made at test time.

Keys are generated with the openssl command once per session and shared by
the xdist workers (conftest.produce_once); none is ever committed. They live
in one directory laid out as mkimage -k KEYDIR expects it: NAME.key and
NAME.crt for RSA, NAME.pem for ECDSA.

    dev        RSA-2048 (dev.key, dev.crt, dev.pub)
    dev3072    RSA-3072           dev4096   RSA-4096 (made on first use)
    ec         EC P-256 (ec.pem)  ec384     EC P-384 (ec384.pem)
    other/dev.key   another RSA-2048 key with the same name

Import the fixtures into a test module with
    from signkeys import sign_keys, its_fit  # noqa: F401
"""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import produce_once, run, session_dir

EPOCH = "1700000000"
CONTROL_DTS = """/dts-v1/;
/ {
	compatible = "bootpack,control";
	model = "bootpack test control devicetree";
	#address-cells = <1>;
	#size-cells = <1>;
	signature {
	};
};
"""


def _openssl(*args):
    run(["openssl", *args], timeout=120)


class Keys:
    """Paths of the session's keys; each is made the first time it is asked for."""

    def __init__(self, directory):
        self.dir = Path(directory)
        (self.dir / "other").mkdir(parents=True, exist_ok=True)

    def _rsa(self, path, bits):
        return produce_once(path, lambda tmp: _openssl(
            "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}", "-out", tmp))

    def _crt(self, key):
        return produce_once(key.with_suffix(".crt"), lambda tmp: _openssl(
            "req", "-batch", "-new", "-x509", "-key", key, "-out", tmp, "-days", "3650",
            "-subj", f"/CN={key.stem}", "-outform", "PEM"))

    def rsa(self, name="dev", bits=2048):
        """NAME.key and NAME.crt (as mkimage -k/-K reads them); the .key path."""
        key = self._rsa(self.dir / f"{name}.key", bits)
        self._crt(key)
        return key

    def crt(self, name="dev"):
        return self.rsa(name, {"dev3072": 3072, "dev4096": 4096}.get(name, 2048)).with_suffix(".crt")

    def pub(self, name="dev"):
        key = self.rsa(name)
        return produce_once(key.with_suffix(".pub"), lambda tmp: _openssl(
            "pkey", "-in", key, "-pubout", "-out", tmp))

    def other(self):
        """Another RSA-2048 key also called dev."""
        return self._rsa(self.dir / "other" / "dev.key", 2048)

    def ec(self, name="ec", curve="P-256"):
        return produce_once(self.dir / f"{name}.pem", lambda tmp: _openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}",
            "-pkeyopt", "ec_param_enc:named_curve", "-out", tmp))

    def by_name(self, name):
        """The private key file for a key name used in the tests."""
        return {"dev": lambda: self.rsa("dev"), "dev3072": lambda: self.rsa("dev3072", 3072),
                "dev4096": lambda: self.rsa("dev4096", 4096), "ec": lambda: self.ec("ec"),
                "ec384": lambda: self.ec("ec384", "P-384")}[name]()

    def control(self):
        """A control devicetree with an empty /signature node (mkimage -K needs one
        for ECDSA keys)."""
        def make(tmp):
            src = tmp.with_suffix(".dts")
            src.write_text(CONTROL_DTS)
            run(["dtc", "-I", "dts", "-O", "dtb", "-o", tmp, src])
            src.unlink()
        return produce_once(self.dir / "control.dtb", make)


@pytest.fixture(scope="session")
def sign_keys(tmp_path_factory):
    return Keys(session_dir(tmp_path_factory) / "keys")


# --------------------------------------------------------------------------
# FITs from an .its, built by mkimage (signed or not)

def its_text(kernel, dtbs, sig=None, images_sig=None):
    """A FIT source: one kernel, the DTBs, one configuration per DTB, sha256
    hash nodes; @sig = (algo, key name, padding or None) adds a configuration
    signature node to each configuration (as mkimage -f -k expects them),
    @images_sig the same under each image."""
    def sig_node(indent, extra=""):
        if not sig:
            return ""
        algo, name, padding = sig
        pad = f' padding = "{padding}";' if padding else ""
        return (f'{indent}signature-1 {{ algo = "{algo}"; key-name-hint = "{name}";{pad}'
                f'{extra} }};\n')
    img_sig = (lambda i: sig_node(i)) if images_sig else (lambda i: "")
    out = ["/dts-v1/;\n/ {\n\tdescription = \"bootpack signing test\";\n\t#address-cells = <1>;\n"
           "\timages {\n"]
    out.append(f'\t\tkernel {{\n\t\t\tdescription = "kernel";\n\t\t\tdata = /incbin/("{kernel}");\n'
               '\t\t\ttype = "kernel"; arch = "arm64"; os = "linux"; compression = "none";\n'
               '\t\t\tload = <0x40200000>; entry = <0x40200000>;\n'
               f'\t\t\thash-1 {{ algo = "sha256"; }};\n{img_sig(chr(9) * 3)}\t\t}};\n')
    for i, d in enumerate(dtbs, 1):
        out.append(f'\t\tfdt-{i} {{\n\t\t\tdescription = "{Path(d).name}";\n'
                   f'\t\t\tdata = /incbin/("{d}");\n'
                   '\t\t\ttype = "flat_dt"; arch = "arm64"; compression = "none";\n'
                   f'\t\t\thash-1 {{ algo = "sha256"; }};\n{img_sig(chr(9) * 3)}\t\t}};\n')
    out.append('\t};\n\tconfigurations {\n\t\tdefault = "conf-1";\n')
    for i in range(1, len(dtbs) + 1):
        # the configuration's order, as bootpack writes sign-images
        cs = sig_node("\t\t\t", ' sign-images = "kernel", "fdt";') if not images_sig else ""
        out.append(f'\t\tconf-{i} {{\n\t\t\tdescription = "config {i}";\n'
                   f'\t\t\tkernel = "kernel";\n\t\t\tfdt = "fdt-{i}";\n{cs}\t\t}};\n')
    out.append("\t};\n};\n")
    return "".join(out)


def mkimage(args, cwd=None, check=True):
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    return run(["mkimage", *args], cwd=cwd, env=env, check=check, timeout=120)


class ItsFits:
    """FITs from its_text() through mkimage, made once per session and shared."""

    def __init__(self, directory, kernel, dtbs, keys):
        self.dir = Path(directory)
        self.kernel, self.dtbs, self.keys = kernel, dtbs, keys

    def unsigned(self):
        def make(tmp):
            its = tmp.with_suffix(".its")
            its.write_text(its_text(self.kernel, self.dtbs))
            mkimage(["-f", its, tmp])
            its.unlink()
        return produce_once(self.dir / "unsigned.fit", make)

    def unfilled(self, algo, name, padding=None):
        """A FIT whose configurations have signature nodes mkimage has not
        signed yet (algo, key-name-hint, sign-images): what mkimage -F -k
        signs for the first time."""
        tag = f"{algo.replace(',', '-')}-{name}-{padding or 'default'}"

        def make(tmp):
            its = tmp.with_suffix(".its")
            its.write_text(its_text(self.kernel, self.dtbs, (algo, name, padding)))
            mkimage(["-f", its, tmp])
            its.unlink()
        return produce_once(self.dir / f"unfilled-{tag}.fit", make)

    def signed(self, algo, name, padding=None, images=False):
        """(FIT, control DTB) signed by mkimage -f -k KEYDIR -K CONTROL -r."""
        tag = f"{algo.replace(',', '-')}-{name}-{padding or 'default'}{'-img' if images else ''}"
        self.keys.by_name(name)
        ctl = self.dir / f"mk-{tag}.dtb"

        def make(tmp):
            its = tmp.with_suffix(".its")
            c = tmp.with_suffix(".ctl")
            c.write_bytes(self.keys.control().read_bytes())
            if "ecdsa" in algo:
                # mkimage 2023.01 adds an ECDSA key with fdt_add_subnode and
                # fails on the second signature (FDT_ERR_EXISTS): its key
                # comes from a run over one configuration.
                its.write_text(its_text(self.kernel, self.dtbs[:1], (algo, name, padding),
                                        images))
                mkimage(["-f", its, "-k", self.keys.dir, "-K", c, "-r", tmp])
                its.write_text(its_text(self.kernel, self.dtbs, (algo, name, padding), images))
                mkimage(["-f", its, "-k", self.keys.dir, tmp])
            else:
                its.write_text(its_text(self.kernel, self.dtbs, (algo, name, padding), images))
                mkimage(["-f", its, "-k", self.keys.dir, "-K", c, "-r", tmp])
            its.unlink()
            os.replace(c, ctl)
        fit = produce_once(self.dir / f"mk-{tag}.fit", make)
        return fit, ctl


@pytest.fixture(scope="session")
def its_fits(samples, sign_keys, tmp_path_factory, tools):
    d = session_dir(tmp_path_factory) / "its-fits"
    d.mkdir(exist_ok=True)
    kernel = d / "Image-64k"
    if not kernel.is_file():
        tmp = d / f"Image-64k.tmp{os.getpid()}"
        tmp.write_bytes((samples / "Image").read_bytes()[:64 * 1024])
        os.replace(tmp, kernel)
    return ItsFits(d, kernel, [samples / "demo-a.dtb", samples / "demo-b.dtb"], sign_keys)


def pkcs11_env(env):
    """@env for a bootpack run that loads the pkcs11 engine: under ASan,
    libp11's own leaks suppressed (libp11-lsan.supp), nothing else."""
    supp = Path(__file__).resolve().parent / "libp11-lsan.supp"
    lsan = env.get("LSAN_OPTIONS", "")
    return dict(env, LSAN_OPTIONS=f"{lsan}:" * bool(lsan) +
                f"suppressions={supp}:fast_unwind_on_malloc=0:print_suppressions=0")


def real_run(*args, **kwargs):
    """subprocess.run without conftest's input guard (for in-place edits)."""
    import conftest
    return conftest._real_run(*args, **kwargs)


def ensure_tool(name):
    if subprocess.run(["sh", "-c", f"command -v {name}"], stdout=subprocess.DEVNULL,
                      check=False).returncode:
        pytest.fail(f"{name} is not installed (scripts/install-deps)")


# --------------------------------------------------------------------------
# X.509 certificates for Authenticode (pe sign, pe verify), made at test time

class Pki:
    """RSA-2048 keys and certificates under KEYS/pki, each made once:
    self_signed("db") is a lone db certificate (as a UEFI db holds one),
    issued("leaf", "inter") a certificate signed by another one's key, with
    basicConstraints CA:TRUE when @ca. Serial numbers are fixed (@serial)."""

    def __init__(self, keys):
        self.keys = keys
        self.dir = keys.dir / "pki"
        self.dir.mkdir(parents=True, exist_ok=True)

    def key(self, name):
        return self.keys._rsa(self.dir / f"{name}.key", 2048)

    def crt(self, name):
        return self.dir / f"{name}.crt"

    def self_signed(self, name, subject=None, ca=False):
        """(key, certificate) of @name, self-signed, subject /CN=@name or @subject."""
        key = self.key(name)
        ext = ["-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,keyCertSign,digitalSignature"] if ca else []
        crt = produce_once(self.crt(name), lambda tmp: _openssl(
            "req", "-batch", "-new", "-x509", "-key", key, "-out", tmp, "-days", "3650",
            "-subj", subject or f"/CN={name}", "-set_serial", "1", *ext))
        return key, crt

    def issued(self, name, issuer, ca=False, serial=2):
        """(key, certificate) of @name, /CN=@name, signed by @issuer's key."""
        key = self.key(name)

        def make(tmp):
            csr, ext = tmp.with_suffix(".csr"), tmp.with_suffix(".ext")
            ext.write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n"
                           if ca else "basicConstraints=CA:FALSE\n"
                           "keyUsage=critical,digitalSignature\n")
            _openssl("req", "-batch", "-new", "-key", key, "-subj", f"/CN={name}", "-out", csr)
            _openssl("x509", "-req", "-in", csr, "-CA", self.crt(issuer),
                     "-CAkey", self.key(issuer), "-set_serial", str(serial), "-days", "3650",
                     "-extfile", ext, "-out", tmp)
            csr.unlink()
            ext.unlink()
        return key, produce_once(self.crt(name), make)

    def der(self, name):
        """@name's certificate in DER."""
        return produce_once(self.dir / f"{name}.der", lambda tmp: _openssl(
            "x509", "-in", self.crt(name), "-outform", "DER", "-out", tmp))


@pytest.fixture(scope="session")
def pki(sign_keys):
    return Pki(sign_keys)
