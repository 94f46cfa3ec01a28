"""A learner's agent SIGKILLed with its store's log behind the file it rendered (issue 16, ``_node`` rule 8).

A learner applies the committed entries it is sent while it saves them, and its agent renders
them meanwhile, as etcd applies while it saves. So a crash can leave the learner's log without
entries its agent already rendered into a file and into its durable cache: the save had not
reached the disk (SIGKILL before the WAL writer's write, or a power cut before its fsync). The
test makes that state exactly: once the file and the cache hold a put, the agent is SIGKILLed
and the learner's log is cut at the put's entry, as a torn tail (from the entry's bytes on,
zeros, as an unwritten preallocated segment), and the voter is SIGKILLed too, so that its
leader forgets that the learner acknowledged the entry (a learner dying before its save
completes never acknowledges it; a log cut at an entry its leader saw acknowledged is a disk
losing acknowledged data, which etcd's raft and ours refuse: "commit beyond the log").
Claims, without timing:

1. The restarted store says what it cut ("wal: cut a torn tail"), and its replica comes back
   behind the file: the entry is sent again by the leader.
2. With its leader reachable, the agent's first view waits for the replica to catch up (a
   ReadIndex round, ``backends._embedded`` rule 2): it renders nothing older than the file
   (no ``applied`` line below the put's revision; the file holds the put throughout), and the
   replica holds the put again at its revision.
3. With its leader away, the agent renders from its durable cache, which is ahead of its
   replica, and says so ("stale: rendering from the agent's cache", since the put's revision);
   the file is left as it is; once the leader is back the agent is no longer stale, the file
   still holds the put and the replica does too.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from confagent.testing import AgentProcess, Processes, ServerProcess, b64, post, put_when_led, unb64, until
from tests.agent.processes import text_of
from tests.e2e.test_agent_offline_start import _joined, _Learner, _saved_revision, _status


def _rendered_and_killed(voter: ServerProcess, learner: _Learner, agent: AgentProcess) -> tuple[str, int]:
    """A fresh value put on the voter, in the learner's file and cache; the agent SIGKILLed, the
    learner's log cut at the value's entry, the voter SIGKILLed. The value and its revision."""
    value = f"v-{uuid.uuid4().hex}"
    revision = put_when_led(voter.url, "/app/v", value, voter.log_path)
    until(lambda: text_of(learner.dest) == f"v={value}\n", "the learner's render of the put", agent.log)
    until(lambda: _saved_revision(learner.cache) >= revision, "the put in the agent's cache", agent.log)
    agent.kill()
    _cut_log_at(learner.root / "data", value.encode())
    voter.kill()
    return value, revision


def _cut_log_at(data_dir: Path, needle: bytes) -> None:
    """Zero the learner's last WAL segment from ``needle`` (in the entry's record) to its end."""
    segment = sorted((data_dir / "member" / "wal").glob("*.wal"))[-1]
    content = segment.read_bytes()
    at = content.find(needle)
    assert at > 0, f"{needle!r} not in {segment}"
    assert content.find(needle, at + 1) < 0, "the value is in one record only"
    segment.write_bytes(content[:at] + bytes(len(content) - at))


def _replica(learner: _Learner) -> tuple[str, int] | None:
    """``/app/v`` and its mod revision in the learner's own replica (a serializable read)."""
    reply = post(learner.client_url, "/v3/kv/range", {"key": b64("/app/v"), "serializable": True})
    kvs = reply.json().get("kvs", []) if reply.status_code == 200 else []
    return (unb64(kvs[0]["value"]), int(kvs[0]["mod_revision"])) if kvs else None


def _came_back_behind(agent: AgentProcess, revision: int) -> None:
    """Claim 1: the store said what it cut, and started at a revision below the file's."""
    assert agent.events("wal: cut a torn tail")
    [started] = agent.events("store started")
    assert int(str(started["revision"])) < revision, started


def _nothing_older_applied(agent: AgentProcess, revision: int) -> None:
    older = [e for e in agent.events("applied") if int(str(e["revision"])) < revision and e["changed"]]
    assert not older, f"the agent rendered a view older than its file: {older}"


def test_a_learner_agent_restarted_with_its_log_behind_its_file_never_goes_back(
        tmp_path: Path, processes: Processes) -> None:
    voter, learner, _ = _joined(processes, tmp_path, "first")
    agent = learner.start("first.log")
    value, revision = _rendered_and_killed(voter, learner, agent)
    voter.start()

    agent = learner.start("online.log")
    until(lambda: bool(agent.events("store started")), "the learner's store", agent.log)
    _came_back_behind(agent, revision)
    until(lambda: int(str(_status(learner.listen).get("rendered_revision") or 0)) >= revision,
          "a render from the caught-up replica", agent.log)
    assert text_of(learner.dest) == f"v={value}\n"
    _nothing_older_applied(agent, revision)
    until(lambda: _replica(learner) == (value, revision), "the replica holding the put again", agent.log)

    value, revision = _rendered_and_killed(voter, learner, agent)
    agent = learner.start("offline.log")
    until(lambda: _status(learner.listen).get("stale") is True, "a render from the agent's cache", agent.log)
    assert _status(learner.listen)["stale_since_revision"] == revision
    [stale] = agent.events("stale: rendering from the agent's cache")
    assert stale["revision"] == revision
    _came_back_behind(agent, revision)
    assert text_of(learner.dest) == f"v={value}\n"
    voter.start()
    until(lambda: _status(learner.listen).get("stale") is False, "no longer stale", agent.log)
    until(lambda: _replica(learner) == (value, revision), "the replica holding the put again", agent.log)
    assert text_of(learner.dest) == f"v={value}\n"
    _nothing_older_applied(agent, revision)
    assert agent.stop() == 0
