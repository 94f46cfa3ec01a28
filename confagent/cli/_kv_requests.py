"""The flags of ``get``, ``put`` and ``del`` and the requests they make, as etcdctl reads them.

Shared by ``confagent kv get|put|del`` and by the op lines of ``confagent kv txn``
(``put k v --prev-kv``), which etcdctl parses with the same commands. Only
the messages and etcd's key ranges (``confagent.kv``) are imported: no client, no httpx.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from confagent.cli._common import lease_id_hex
from confagent.errors import ConfigError
from confagent.kv import FROM_KEY, prefix_range
from confagent.kv._messages import DeleteRangeRequest, PutRequest, RangeRequest, SortOrder, SortTarget

__all__ = [
    "add_del_flags",
    "add_get_flags",
    "add_put_flags",
    "delete_request",
    "put_request",
    "range_request",
]

_SORT_TARGETS = {"CREATE": SortTarget.CREATE, "KEY": SortTarget.KEY, "MODIFY": SortTarget.MOD,
                 "VALUE": SortTarget.VALUE, "VERSION": SortTarget.VERSION}
_SORT_ORDERS = {"ASCEND": SortOrder.ASCEND, "DESCEND": SortOrder.DESCEND}


def add_get_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("key", help="the key, or the first key of the range")
    add("range_end", nargs="?", default="", help="the end of the range (exclusive)")
    add("--prefix", action="store_true", help="get the keys with this prefix")
    add("--from-key", action="store_true", help="get the keys >= key (byte order)")
    add("--rev", type=int, default=0, help="read at this revision (default: 0, the newest)")
    add("--limit", type=int, default=0, help="at most this many keys (default: 0, no limit)")
    add("--keys-only", action="store_true", help="get only the keys")
    add("--count-only", action="store_true", help="get only the count")
    add("--sort-by", default="", help="sort target: CREATE, KEY, MODIFY, VALUE or VERSION")
    add("--order", default="", help="ASCEND or DESCEND (ASCEND when --sort-by alone)")
    add("--print-value-only", action="store_true", help="print only values (simple output)")
    add("--consistency", default="l", choices=("l", "s"),
        help="linearizable (l) or serializable (s) (default: l)")


def add_put_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("key")
    add("value", nargs="?", help="the value (read from stdin when omitted)")
    add("--lease", type=lease_id_hex, default=0,
        help="attach the lease with this ID, in hex (default: 0, none)")
    add("--prev-kv", action="store_true", help="print the previous key-value")
    add("--ignore-value", action="store_true", help="keep the current value")
    add("--ignore-lease", action="store_true", help="keep the current lease")


def add_del_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("key")
    add("range_end", nargs="?", default="", help="the end of the range (exclusive)")
    add("--prefix", action="store_true", help="delete the keys with this prefix")
    add("--from-key", action="store_true", help="delete the keys >= key (byte order)")
    add("--prev-kv", action="store_true", help="print the deleted key-values")


def _key_range(args: argparse.Namespace) -> tuple[bytes, bytes]:
    """Key and range end as clientv3 computes them for --prefix and --from-key."""
    key, range_end = args.key.encode(), args.range_end.encode()
    if args.prefix and args.from_key:
        raise ConfigError("`--prefix` and `--from-key` cannot be set at the same time, choose one")
    if args.prefix:
        return prefix_range(key)
    if args.from_key:
        return key or FROM_KEY, FROM_KEY
    return key, range_end


def range_request(args: argparse.Namespace) -> RangeRequest:
    order_name, target_name = args.order.upper(), args.sort_by.upper()
    if order_name and order_name not in _SORT_ORDERS:
        raise ConfigError(f"bad sort order {args.order}")
    if target_name and target_name not in _SORT_TARGETS:
        raise ConfigError(f"bad sort target {args.sort_by}")
    target = _SORT_TARGETS.get(target_name, SortTarget.KEY)
    order = _SORT_ORDERS.get(order_name, SortOrder.NONE)
    key, range_end = _key_range(args)
    return RangeRequest(
        key=key, range_end=range_end, limit=args.limit, revision=args.rev, sort_order=order,
        sort_target=target, serializable=args.consistency == "s", keys_only=args.keys_only,
        count_only=args.count_only,
    )


def put_request(args: argparse.Namespace, read_stdin: Callable[[], bytes]) -> PutRequest:
    """A put; without a value argument the value is all of stdin (as etcdctl reads it)."""
    if args.ignore_value and args.value is not None:
        raise ConfigError("put command needs only 1 argument when 'ignore-value' flag is set")
    if args.ignore_value:
        value = b""
    elif args.value is not None:
        value = args.value.encode()
    else:
        value = read_stdin()
    return PutRequest(key=args.key.encode(), value=value, lease=args.lease, prev_kv=args.prev_kv,
                      ignore_value=args.ignore_value, ignore_lease=args.ignore_lease)


def delete_request(args: argparse.Namespace) -> DeleteRangeRequest:
    key, range_end = _key_range(args)
    return DeleteRangeRequest(key=key, range_end=range_end, prev_kv=args.prev_kv)
