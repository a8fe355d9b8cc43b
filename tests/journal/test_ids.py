"""Journal primary keys (``bot.journal.convert.new_id``): UUID4 text from the OS's randomness,
fetched many ids at a time, never handed out twice, also across a fork."""

from __future__ import annotations

import os
import sys
import uuid

import pytest

from bot.journal.convert import new_id


def test_ids_are_distinct_uuid4_text() -> None:
    ids = [new_id() for _ in range(2_000)]  # several refills of the pool (256 ids each)
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        # RFC 4122: version 4, variant 10xx; the canonical 36-character lower-case form
        assert (parsed.version, parsed.variant, str(parsed), len(text)) == (4, uuid.RFC_4122, text, 36)


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")
def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    new_id()  # the parent's pool now holds unused ids
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first id and leave without running pytest's teardown
        try:
            os.write(write_end, new_id().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    parent_next = {new_id() for _ in range(300)}  # more than the rest of the parent's pool
    assert uuid.UUID(child_id).version == 4
    assert child_id not in parent_next
