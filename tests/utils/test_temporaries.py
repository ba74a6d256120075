"""utils.temporaries: a temporary is removed on any error, and swept once its writer is gone; nothing else is."""

from __future__ import annotations

import os
import time

import pytest

from minidl.utils import temporaries


def aged(path, seconds=2 * temporaries.STALE_SECONDS):
    old = time.time() - seconds
    os.utime(path, (old, old))
    return path


def test_an_error_in_the_block_removes_the_temporary(tmp_path):
    with pytest.raises(ZeroDivisionError), temporaries.temporary_beside(tmp_path / "x.json") as (_, temporary):
        assert os.path.basename(temporary).startswith(".x.json.minidl-")
        1 / 0  # noqa: B018
    assert os.listdir(tmp_path) == []


def test_only_old_unlocked_temporaries_of_minidl_are_swept(tmp_path):
    dead = tmp_path / ".model.keras.minidl-abc123.tmp"
    dead.write_bytes(b"half a model")  # nobody holds its lock: its writer is gone
    aged(dead)
    young = tmp_path / ".model.keras.minidl-def456.tmp"
    young.write_bytes(b"being written")
    others = [tmp_path / ".model.keras.abc123.tmp", tmp_path / "notes.minidl-1.tmp", tmp_path / "model.keras"]
    for path in others:
        path.write_bytes(b"not ours")
        aged(path)
    with temporaries.temporary_beside(tmp_path / "model.keras") as (_, live):
        aged(live)
        assert temporaries.sweep(tmp_path) == []  # the dead one went already, when the block began
        assert os.path.exists(live)  # locked by this (living) writer
    assert sorted(os.listdir(tmp_path)) == sorted([young.name, *(path.name for path in others)])


def test_a_folder_whose_writer_is_gone_loses_its_young_unlocked_temporaries_too(tmp_path):
    """`older_than=0`: what a run folder's removal passes once its writer is done or killed."""
    young = tmp_path / ".backup.keras.minidl-abc123.tmp"
    young.write_bytes(b"half a backup")  # its writer was killed while writing, a moment ago
    with temporaries.temporary_beside(tmp_path / "other.keras") as (_, live):
        assert temporaries.sweep(tmp_path, older_than=0) == [str(young)]
        assert os.path.exists(live)  # a locked temporary stays at any age
