# SPDX-License-Identifier: MIT
"""The conftest guard that hashes bootpack's inputs around every run must
itself catch a modified input (here a stand-in "bootpack" that appends to
the file it is given), including one named inside an @FILE."""

import os
import subprocess

import pytest


@pytest.fixture
def fake_bootpack(tmp_path, monkeypatch):
    exe = tmp_path / "bin" / "bootpack"
    exe.parent.mkdir()
    exe.write_text('#!/bin/sh\nfor a in "$@"; do case "$a" in -o) ;; *) '
                   '[ -f "$a" ] && echo x >> "$a";; esac; done\nexit 0\n')
    exe.chmod(0o755)
    monkeypatch.setenv("BOOTPACK", str(exe))
    return exe


def test_guard_catches_a_modified_input(fake_bootpack, tmp_path):
    victim = tmp_path / "in.dtb"
    victim.write_bytes(b"input")
    with pytest.raises(AssertionError, match="modified its input"):
        subprocess.run([fake_bootpack, "fit", "list", victim], check=False)


def test_guard_follows_argument_files(tmp_path, monkeypatch):
    exe = tmp_path / "bootpack"
    listed = tmp_path / "listed.dtb"
    exe.write_text(f'#!/bin/sh\necho x >> "{listed}"\n')
    exe.chmod(0o755)
    monkeypatch.setenv("BOOTPACK", str(exe))
    listed.write_bytes(b"dtb")
    (tmp_path / "list").write_text(f"'{listed}'\n")
    with pytest.raises(AssertionError, match="listed.dtb"):
        subprocess.run([exe, f"@{tmp_path / 'list'}"], check=False)


def test_guard_ignores_the_output(fake_bootpack, tmp_path):
    out = tmp_path / "out.fit"
    out.write_bytes(b"old")
    proc = subprocess.run([fake_bootpack, "-o", out], check=False)
    assert proc.returncode == 0
    assert os.path.exists(out)
