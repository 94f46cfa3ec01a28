"""etcd's enums as the message values hold them: a number the proto does not define is refused.

The values' enums (``SortOrder``, ``CompareTarget``, ...) are IntEnums, which
hold only the numbers etcd's .proto files name; etcd itself takes any int32.
Both codecs refuse another number with the same words (the gateway's jsonpb
text for an unknown name, with the number), so the two fronts answer alike.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TypeVar

from confagent.errors import InvalidArgument

__all__ = ["enum_member"]

E = TypeVar("E", bound=IntEnum)


def enum_member(number: int, enum: type[E], go_type: str) -> E:
    """``enum(number)``.

    Raises:
        InvalidArgument: ``unknown value <number> for enum <go_type>`` (``go_type`` as Go names it:
            ``etcdserverpb.RangeRequest_SortOrder``).
    """
    try:
        return enum(number)
    except ValueError:
        raise InvalidArgument(f"unknown value {number} for enum {go_type}") from None
