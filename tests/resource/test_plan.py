"""plan(): NoChange exactly when bytes, owner, group and mode all match; otherwise a Replace saying why."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from confagent.resource import (
    DEFAULT_MODE,
    Difference,
    FileAttributes,
    FileState,
    NoChange,
    Replace,
    ResourceSpec,
    plan,
    target_attributes,
)

SPEC = ResourceSpec(file="conf.d/a.toml", src="a.tmpl", dest="/etc/a.conf", keys=("/",))

ids = st.sampled_from([0, 1, 65534])
modes = st.sampled_from([0o600, 0o640, 0o644, 0o4755])
contents = st.sampled_from([b"", b"a\n", b"b\n", b"a"]) | st.binary(max_size=8)
attributes = st.builds(FileAttributes, ids, ids, modes)
states = st.none() | st.builds(FileState, contents, attributes)


@given(rendered=contents, current=states, target=attributes)
def test_no_change_iff_everything_matches(rendered: bytes, current: FileState | None,
                                          target: FileAttributes) -> None:
    """The model: in sync <=> the file exists with the same bytes and attributes."""
    result = plan(SPEC, rendered, current, target)
    in_sync = current is not None and current.content == rendered and current.attributes == target
    assert isinstance(result, NoChange) == in_sync
    if isinstance(result, Replace):
        assert (result.content, result.target, result.previous) == (rendered, target, current)
        assert result.differences
        named = {difference.attribute for difference in result.differences}
        if current is None:
            assert named == {"file"}
        else:
            now = current.attributes
            assert named == {name for name, differs in (
                ("content", current.content != rendered), ("uid", now.uid != target.uid),
                ("gid", now.gid != target.gid), ("mode", now.mode != target.mode),
            ) if differs}


def test_differences_read_like_confd_log_lines() -> None:
    current = FileState(b"old\n", FileAttributes(65534, 0, 0o600))
    result = plan(SPEC, b"new\n", current, FileAttributes(0, 0, 0o644))
    assert isinstance(result, Replace)
    assert [str(difference) for difference in result.differences] == [
        "content 4 bytes sha256:01d09d19c213 -> 4 bytes sha256:7aa7a5359173",
        "uid 65534 -> 0",
        "mode 0600 -> 0644",
    ]
    assert result.dest == "/etc/a.conf"


def test_missing_file_is_one_difference() -> None:
    result = plan(SPEC, b"x", None, FileAttributes(0, 0, 0o644))
    assert isinstance(result, Replace)
    assert result.differences == (Difference("file", "absent", "1 bytes"),)


EXISTING = FileState(b"x", FileAttributes(65534, 100, 0o600))


def test_targets_keep_what_the_resource_does_not_set() -> None:
    assert target_attributes((None, None), None, EXISTING, (0, 0)) == EXISTING.attributes
    assert target_attributes((1, None), None, EXISTING, (0, 0)) == FileAttributes(1, 100, 0o600)
    assert target_attributes((None, 2), 0o640, EXISTING, (0, 0)) == FileAttributes(65534, 2, 0o640)


def test_new_files_get_the_agent_ids_and_default_mode() -> None:
    new = FileAttributes(1000, 1001, DEFAULT_MODE)
    assert target_attributes((None, None), None, None, (1000, 1001)) == new
    assert target_attributes((5, 6), 0o600, None, (1000, 1001)) == FileAttributes(5, 6, 0o600)
