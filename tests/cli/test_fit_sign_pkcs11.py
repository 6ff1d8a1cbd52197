# SPDX-License-Identifier: MIT
"""Signing with keys that stay in a PKCS#11 token: SoftHSM2 through OpenSSL's
pkcs11 engine, named by pkcs11: URIs (the token comes from softhsm.py, made
at test time). RSA PKCS#1 v1.5 is deterministic, so the token's signature
must equal the one made with the same key as a PEM file."""

import json
import shutil
import subprocess

import pytest

from conftest import ARCH_ARGS
from fitcompare import Fit
from signkeys import EPOCH, its_fits, sign_keys  # noqa: F401
from softhsm import softhsm_token  # noqa: F401

ENV_SDE = {"SOURCE_DATE_EPOCH": EPOCH}


def bp(bootpack, token, *args):
    env = dict(token.env, **ENV_SDE)
    return subprocess.run([str(bootpack), *map(str, args)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, check=False, timeout=120)


def ok(proc):
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def value(path, conf="conf-1"):
    return Fit.load(path).node(f"/configurations/{conf}/signature-1").get("value")


def control(sign_keys, dest):
    shutil.copyfile(sign_keys.control(), dest)
    return dest


def verified(bootpack, token, fit, ctl):
    proc = bp(bootpack, token, "fit", "verify", "--json", "--key", ctl, fit)
    rep = json.loads(proc.stdout)
    assert proc.returncode == 0, (proc.stderr, rep)
    return [(c["node"], c["key"]) for c in rep[0]["checks"] if c["signature"]]


def test_token_rsa_equals_file_key(bootpack, softhsm_token, its_fits, tmp_path):  # noqa: F811
    """The same RSA key in the token and as a PEM file: the same FIT, byte for byte."""
    t = softhsm_token
    from_token, from_file = tmp_path / "token.fit", tmp_path / "file.fit"
    ok(bp(bootpack, t, "fit", "sign", its_fits.unsigned(), "-o", from_token,
          "--key", t.uri("dev"), "--pin", t.pin))
    ok(bp(bootpack, t, "fit", "sign", its_fits.unsigned(), "-o", from_file,
          "--key", t.private_pem("dev")))
    assert Fit.load(from_token).node("/configurations/conf-2/signature-1") \
        .get_str("key-name-hint") == "dev"
    assert from_token.read_bytes() == from_file.read_bytes()


def test_token_key_add_equals_file(bootpack, softhsm_token, sign_keys, tmp_path):  # noqa: F811
    """fit key add reads the public half from the token: the node equals the
    one written from the public key file."""
    t = softhsm_token
    a = control(sign_keys, tmp_path / "a.dtb")
    b = control(sign_keys, tmp_path / "b.dtb")
    ok(bp(bootpack, t, "fit", "key", "add", a, "--key", t.uri("dev"), "--pin", t.pin,
          "--required", "conf"))
    ok(bp(bootpack, t, "fit", "key", "add", b, "--key", t.public_pem("dev"), "--key-name", "dev",
          "--required", "conf"))
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("name,algo,padding", [("ec", "sha256,ecdsa256", None),
                                               ("ec384", "sha384,ecdsa384", None),
                                               ("dev3072", "sha384,rsa3072", "pss")])
def test_token_randomised_signatures_verify(bootpack, softhsm_token, its_fits, sign_keys,  # noqa: F811
                                            tmp_path, name, algo, padding):
    """ECDSA and PSS in the token are randomised; they verify against the
    key node written from the token (--key-out in the same run)."""
    t = softhsm_token
    fit = tmp_path / "s.fit"
    ctl = control(sign_keys, tmp_path / "ctl.dtb")
    pad = ["--padding", padding] if padding else []
    ok(bp(bootpack, t, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key", t.uri(name),
          "--pin", t.pin, "--algo", algo, *pad, "--key-out", ctl, "--required", "conf", "-j", "2"))
    sig = Fit.load(fit).node("/configurations/conf-1/signature-1")
    assert sig.get_str("algo") == algo
    assert verified(bootpack, t, fit, ctl) == [("conf-1", name), ("conf-2", name)]


def test_token_pin_in_uri(bootpack, softhsm_token, its_fits, tmp_path):  # noqa: F811
    t = softhsm_token
    fit = tmp_path / "p.fit"
    ok(bp(bootpack, t, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key",
          t.uri("dev", pin=True)))
    assert value(fit) is not None


def test_token_build_sign(bootpack, softhsm_token, samples, sign_keys, tmp_path):  # noqa: F811
    t = softhsm_token
    fit = tmp_path / "b.fit"
    ctl = control(sign_keys, tmp_path / "ctl.dtb")
    ok(bp(bootpack, t, "fit", "build", "-o", fit, *ARCH_ARGS, "-k", samples / "demo-c.dtb",
          "--sign", t.uri("dev"), "--pin", t.pin, samples / "demo-a.dtb", samples / "demo-b.dtb"))
    ok(bp(bootpack, t, "fit", "key", "add", ctl, "--key", t.public_pem("dev"), "--key-name", "dev",
          "--required", "conf"))
    assert verified(bootpack, t, fit, ctl) == [("conf-1", "dev"), ("conf-2", "dev")]


@pytest.mark.parametrize("what", ["wrong-pin", "no-pin", "no-such-object", "no-such-token"])
def test_token_failures(bootpack, softhsm_token, its_fits, tmp_path, what):  # noqa: F811
    """One line naming the URI (PIN redacted), exit 1, nothing written."""
    t = softhsm_token
    uri, pin = {"wrong-pin": (t.uri("dev"), ["--pin", "9999"]),
                "no-pin": (t.uri("dev"), []),
                "no-such-object": ("pkcs11:token=bootpack;object=nokey", ["--pin", t.pin]),
                "no-such-token": ("pkcs11:token=nosuch;object=dev;pin-value=1234", [])}[what]
    d = tmp_path / "out"
    d.mkdir()
    proc = bp(bootpack, t, "fit", "sign", its_fits.unsigned(), "-o", d / "x.fit", "--key", uri,
              *pin)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1, err
    shown = uri.replace("pin-value=1234", "pin-value=...")
    assert err.startswith(f"bootpack: '{shown}': "), err
    assert "1234" not in err
    assert list(d.iterdir()) == []
