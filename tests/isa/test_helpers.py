"""The helper table: Linux 6.18's uapi ___BPF_FUNC_MAPPER, ids 0..211."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from framework.platform import helpers

SYSTEM_HEADER = Path("/usr/include/linux/bpf.h")


def test_bounds_and_landmarks() -> None:
    assert helpers.MAX_ID == 212
    assert helpers.HELPER_NAMES[0] == "unspec"
    assert helpers.helper_name(1) == "bpf_map_lookup_elem"
    assert helpers.helper_name(12) == "bpf_tail_call"
    assert helpers.helper_name(131) == "bpf_ringbuf_reserve"
    assert helpers.helper_name(133) == "bpf_ringbuf_discard"
    assert helpers.helper_name(194) == "bpf_kptr_xchg"
    assert helpers.helper_name(209) == "bpf_user_ringbuf_drain"
    assert helpers.helper_name(210) == "bpf_cgrp_storage_get"
    assert helpers.helper_name(211) == "bpf_cgrp_storage_delete"
    assert helpers.helper_name(212) is None
    assert helpers.helper_name(-1) is None
    assert helpers.func_id_name(212) == "unknown"


def test_names_unique_and_ids_invert() -> None:
    assert len(set(helpers.HELPER_NAMES)) == helpers.MAX_ID
    for i, name in enumerate(helpers.HELPER_NAMES):
        assert re.fullmatch(r"[a-z0-9_]+", name)
        assert helpers.helper_id(name) == i
        assert helpers.helper_id("bpf_" + name) == i
    assert helpers.helper_id("bpf_throw") is None


@pytest.mark.skipif(not SYSTEM_HEADER.exists(), reason="no /usr/include/linux/bpf.h to compare with")
def test_agrees_with_the_installed_uapi_header() -> None:
    """The (older) installed header lists a prefix of the same ids, in order."""
    text = SYSTEM_HEADER.read_text()
    mapper = text[text.index("FUNC_MAPPER") :]
    mapper = mapper[: mapper.index("/* */")]
    names = re.findall(r"FN\((\w+)(?:, (\d+), ##ctx)?\)", mapper)
    assert len(names) > 150
    for i, (name, number) in enumerate(names):
        assert helpers.HELPER_NAMES[i] == name
        if number:
            assert int(number) == i
