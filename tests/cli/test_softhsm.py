# SPDX-License-Identifier: MIT
"""The SoftHSM2 token fixture (softhsm.py) itself: the keys are in the
token, and OpenSSL's pkcs11 engine signs with them through the URIs the
fixture hands out, verifiable with the public halves it keeps."""

import subprocess

from softhsm import KEYS, softhsm_token  # noqa: F401  (fixture)


def test_token_holds_the_keys(softhsm_token):  # noqa: F811
    r = subprocess.run(["pkcs11-tool", "--module", softhsm_token.module, "--list-objects",
                        "--type", "privkey", "--login", "--pin", softhsm_token.pin],
                       env=softhsm_token.env, capture_output=True, text=True, check=True)
    labels = sorted(line.split(":", 1)[1].strip() for line in r.stdout.splitlines()
                    if line.strip().startswith("label:"))
    assert labels == sorted(KEYS)


def test_engine_signs_through_the_uri(softhsm_token, tmp_path):  # noqa: F811
    data = tmp_path / "data"
    data.write_bytes(b"signed through the token\n")
    for name in ("dev", "ec"):
        sig = tmp_path / f"{name}.sig"
        subprocess.run(["openssl", "dgst", "-sha256", "-engine", "pkcs11", "-keyform", "engine",
                        "-sign", softhsm_token.uri(name, pin=True), "-out", str(sig), str(data)],
                       env=softhsm_token.env, capture_output=True, check=True)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify",
                            str(softhsm_token.public_pem(name)), "-signature", str(sig),
                            str(data)], capture_output=True, text=True)
        assert r.returncode == 0 and "Verified OK" in r.stdout, r.stdout + r.stderr
        # Another key's public half does not verify it.
        other = "ec384" if name == "ec" else "dev3072"
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify",
                            str(softhsm_token.public_pem(other)), "-signature", str(sig),
                            str(data)], capture_output=True, text=True)
        assert r.returncode != 0
