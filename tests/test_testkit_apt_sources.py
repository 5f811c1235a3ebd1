"""The OBS chroots come from the Debian archive this machine's apt uses, not a host named in
the code (a machine that reaches only its own mirror builds them too)."""

from __future__ import annotations

import pytest

from testkit import obs_installs


def test_the_mirror_is_read_from_deb822_and_one_line_sources(tmp_path):
    listed = tmp_path / "sources.list.d"
    listed.mkdir()
    (listed / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian-security\nSuites: trixie-security\n"
        "Components: main\n\nTypes: deb-src\nURIs: http://src.example/debian\nSuites: trixie\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: trixie trixie-updates\nComponents: main\n")
    (listed / "other.list.disabled").write_text("deb http://wrong.example/debian trixie main\n")
    assert obs_installs.debian_mirror((tmp_path / "sources.list", listed)) == "http://mirror.example/debian"
    one_line = tmp_path / "sources.list"
    one_line.write_text("# deb http://commented.example/debian bookworm main\n"
                        "deb [signed-by=/usr/share/keyrings/k.gpg] http://local.example/debian bookworm main\n")
    assert obs_installs.debian_mirror((one_line,)) == "http://local.example/debian"
    (listed / "debian.sources").write_text("Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\n"
                                           "Enabled: no\n")
    with pytest.raises(RuntimeError, match="no Debian archive"):
        obs_installs.debian_mirror((listed,))


def test_this_machines_mirror_is_found():
    mirror = obs_installs.debian_mirror()
    assert mirror.startswith(("http://", "https://", "file:/")) and mirror.endswith("/debian")
