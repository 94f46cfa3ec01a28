"""confagent: configuration files kept in sync with an embedded, etcd-compatible store."""

__version__ = "0.1.0"
