# SPDX-License-Identifier: MIT
"""A SoftHSM2 token made at test time, holding keys generated at test time.

Nothing touches the user's tokens: the token lives in its own directory,
found through its own SOFTHSM2_CONF, and the pkcs11 engine is pointed at
SoftHSM2's module with PKCS11_MODULE_PATH. Pass ``token.env`` to every
process that must see the token (bootpack, mkimage -N pkcs11, pkcs11-tool).

In pytest::

    from softhsm import softhsm_token   # fixture (session-wide, shared)

    def test_sign(softhsm_token):
        uri = softhsm_token.uri("dev")          # pkcs11:token=bootpack;object=dev
        run([BOOTPACK, "fit", "sign", ..., "--key", uri, "--pin", softhsm_token.pin],
            env=softhsm_token.env)
        softhsm_token.public_pem("dev")         # the key's public half, PEM

Keys: "dev" (RSA-2048, id 01), "dev3072" (RSA-3072, id 02), "ec" (EC P-256,
id 03), "ec384" (EC P-384, id 04). The private keys are also kept as PEM
(``private_pem``) so a test can compare a token signature with a file one.

As a script (for the C unit tests, which share this setup)::

    /usr/bin/python3 tests/cli/softhsm.py DIR

makes the token under DIR and prints the environment lines to use
(SOFTHSM2_CONF=..., PKCS11_MODULE_PATH=...). A missing tool is an error
(softhsm2, openssl), never a skip.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

LABEL = "bootpack"
PIN = "1234"
SO_PIN = "12345678"
MODULE_CANDIDATES = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
]
KEYS = {
    "dev": ("01", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
    "dev3072": ("02", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"]),
    "ec": ("03", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
    "ec384": ("04", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]),
}


def _module():
    for m in MODULE_CANDIDATES:
        if os.path.exists(m):
            return m
    raise RuntimeError("SoftHSM2's PKCS#11 module not found (install softhsm2): "
                       + ", ".join(MODULE_CANDIDATES))


def _tool(name):
    path = shutil.which(name)
    if not path:
        raise RuntimeError(f"{name} not found (scripts/install-deps installs it)")
    return path


class Token:
    """A SoftHSM2 token in @root with the keys of KEYS."""

    def __init__(self, root, keys=None):
        self.root = Path(root)
        self.pin = PIN
        self.label = LABEL
        self.module = _module()
        tokens = self.root / "tokens"
        tokens.mkdir(parents=True, exist_ok=True)
        conf = self.root / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {tokens}\n"
                        "objectstore.backend = file\n"
                        "log.level = ERROR\n"
                        "slots.removable = false\n")
        self.env = dict(os.environ, SOFTHSM2_CONF=str(conf), PKCS11_MODULE_PATH=self.module)
        softhsm = _tool("softhsm2-util")
        openssl = _tool("openssl")
        self._run([softhsm, "--init-token", "--free", "--label", LABEL, "--pin", PIN,
                   "--so-pin", SO_PIN])
        for name in keys or KEYS:
            key_id, genargs = KEYS[name]
            pem = self.private_pem(name)
            self._run([openssl, "genpkey", *genargs, "-out", str(pem)])
            self._run([openssl, "pkey", "-in", str(pem), "-pubout",
                       "-out", str(self.public_pem(name))])
            self._run([softhsm, "--import", str(pem), "--token", LABEL, "--label", name,
                       "--id", key_id, "--pin", PIN])

    def _run(self, cmd):
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")

    def uri(self, name, pin=False):
        """pkcs11:token=bootpack;object=NAME (with pin-value when @pin)."""
        u = f"pkcs11:token={LABEL};object={name}"
        return u + f";pin-value={PIN}" if pin else u

    def private_pem(self, name):
        return self.root / f"{name}.key"

    def public_pem(self, name):
        return self.root / f"{name}-pub.pem"


try:
    import pytest

    @pytest.fixture(scope="session")
    def softhsm_token(tmp_path_factory):
        """One token per pytest worker, shared by its tests (keys are read-only)."""
        return Token(tmp_path_factory.mktemp("softhsm"))
except ImportError:  # used as a script without pytest
    pass


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: softhsm.py DIR")
    t = Token(sys.argv[1])
    print(f"SOFTHSM2_CONF={t.env['SOFTHSM2_CONF']}")
    print(f"PKCS11_MODULE_PATH={t.module}")
