"""confd's functions that ask the outside world (confd.md §4.2), over an injected ``StaticHost``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from confagent.errors import RenderError
from confagent.render import SRV, GoTime, StaticHost

from .support import out, render_text

HOST = StaticHost(
    environ={"HOSTNAME": "web-1", "EMPTY": ""},
    time=datetime(2024, 3, 5, 14, 7, 9, 123400, tzinfo=timezone(timedelta(hours=-7), "MST")),
    addresses={"db.local": ("10.0.0.9", "fd00::9", "10.0.0.10")},
    services={("etcd", "tcp", "example.com"): (
        SRV("b.example.com.", 2379, 10, 5),
        SRV("a.example.com.", 2380, 10, 5),
        SRV("a.example.com.", 2379, 0, 0),
    )},
    files=frozenset({"/etc/ssl/cert.pem"}),
)

# confd.md §4.2: getenv (empty counts as unset), datetime, lookupIP/V4/V6, lookupSRV, fileExists
TABLE = [
    ('{{ getenv("HOSTNAME") }}', "web-1"),
    ('[{{ getenv("MISSING") }}] {{ getenv("MISSING", "dflt") }}', "[] dflt"),
    ('{{ getenv("EMPTY", "dflt") }}', "dflt"),  # an empty variable is treated as unset
    ('{{ datetime().Format("2006-01-02T15:04:05Z07:00") }}', "2024-03-05T14:07:09-07:00"),
    ('{{ datetime.Format("Jan 2, 2006 at 3:04pm (MST)") }}', "Mar 5, 2024 at 2:07pm (MST)"),  # confd's docs
    ("{{ datetime().Unix() }} {{ datetime().Year() }}", "1709672829 2024"),
    ('{{ datetime().strftime("%Y/%m") }}', "2024/03"),
    ('{{ lookupIP("db.local") | join(",") }}', "10.0.0.10,10.0.0.9,fd00::9"),  # sorted as text, like confd
    ('{{ lookupIPV4("db.local") | join(",") }} {{ lookupIPV6("db.local") | join(",") }}',
     "10.0.0.10,10.0.0.9 fd00::9"),
    ('{{ lookupIP("nowhere", default=[]) | length }}', "0"),
    ('{% for s in lookupSRV("etcd", "tcp", "example.com") %}{{ s.Target }}:{{ s.Port }} {% endfor %}',
     "a.example.com.:2379 a.example.com.:2380 b.example.com.:2379 "),
    ('{{ lookupSRV("x", "tcp", "nowhere", default=[]) | length }}', "0"),
    ('{{ fileExists("/etc/ssl/cert.pem") }} {{ fileExists("/nope") }}', "true false"),
]


@pytest.mark.parametrize(("template", "expected"), TABLE)
def test_host_functions_follow_confd(template: str, expected: str) -> None:
    assert out(template, host=HOST) == expected


def test_failed_lookups_are_errors_not_silence() -> None:
    with pytest.raises(RenderError, match=r"test.tmpl:2: lookupIP: lookup nowhere: no such host") as caught:
        render_text('\n{{ lookupIP("nowhere") }}', host=HOST)
    assert caught.value.key == "nowhere"
    with pytest.raises(RenderError, match=r"lookupSRV: lookup _x._tcp.nowhere: no such host"):
        render_text('{{ lookupSRV("x", "tcp", "nowhere") }}', host=HOST)


def test_datetime_attribute_probes_do_not_read_the_clock() -> None:
    rendered = render_text("{{ datetime is callable }} {{ datetime.nothing is defined }}", host=HOST)
    assert rendered.text == "true false"
    assert not rendered.reads.clock


GO_LAYOUTS = [
    ("Mon Jan _2 15:04:05 2006", "Tue Mar  5 14:07:09 2024"),  # time.ANSIC
    ("Mon Jan _2 15:04:05 MST 2006", "Tue Mar  5 14:07:09 MST 2024"),  # time.UnixDate
    ("02 Jan 06 15:04 -0700", "05 Mar 24 14:07 -0700"),  # time.RFC822Z
    ("Monday, 02-Jan-06 15:04:05 MST", "Tuesday, 05-Mar-24 14:07:09 MST"),  # time.RFC850
    ("2006-01-02T15:04:05.999999999Z07:00", "2024-03-05T14:07:09.1234-07:00"),  # time.RFC3339Nano
    ("3:04PM", "2:07PM"),  # time.Kitchen
    ("Jan _2 15:04:05.000000", "Mar  5 14:07:09.123400"),  # time.StampMicro
    ("January 1 __2 002 03pm -07 -07:00:00 ,99", "March 3  65 065 02pm -07 -07:00:00 ,12"),
    ("2006_2006 .9", "2024_2024 .1"),
]


@pytest.mark.parametrize(("layout", "expected"), GO_LAYOUTS)
def test_gotime_formats_go_layouts(layout: str, expected: str) -> None:
    assert GoTime(HOST.time).Format(layout) == expected


def test_gotime_prints_like_go_and_knows_utc() -> None:
    moment = GoTime(datetime(2024, 1, 1, 0, 0, tzinfo=UTC))
    assert str(moment) == "2024-01-01 00:00:00 +0000 UTC"
    assert moment.Format("15:04:05Z07:00 .000") == "00:00:00Z .000"
    assert str(GoTime(HOST.time).UTC()) == "2024-03-05 21:07:09.1234 +0000 UTC"
    assert (moment.Month(), moment.Weekday(), moment.Day(), moment.Hour()) == ("January", "Monday", 1, 0)
