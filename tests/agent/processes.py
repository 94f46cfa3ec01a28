"""The agent as a real process for end-to-end tests: over its own embedded store, and what its files hold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confagent.testing import AgentProcess, Keys, Processes, free_port, healthy, until


def text_of(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def lines_of(path: Path) -> int:
    return len((text_of(path) or "").splitlines())


@contextmanager
def agent_with_store(processes: Processes, root: Path, extra_config: str = "",
                     ) -> Iterator[tuple[AgentProcess, Keys]]:
    """An agent over the embedded store in ``root/data``, its client listener on a free port."""
    url = f"http://127.0.0.1:{free_port()}"
    config = root / "confagent.toml"
    config.write_text(f'confdir = "."\nlog_format = "json"\n{extra_config}\n'
                      f'[store]\ndata_dir = "data"\nlisten_client_urls = ["{url}"]\n')
    agent = processes.agent(["--config-file", str(config)], root / "agent.log", root)
    keys = Keys(url)
    try:
        until(lambda: healthy(url) or agent.process.poll() is not None, "the agent's store", agent.log)
        assert agent.process.poll() is None, agent.log.read_text()
        yield agent, keys
    finally:
        keys.close()
        agent.stop()
