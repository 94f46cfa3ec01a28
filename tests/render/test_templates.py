"""Whole templates, as operators write them, rendered and compared to the expected files.

The nginx and haproxy examples follow confd's documentation (its quick-start
nginx upstream, and the classic haproxy backend list); the ini file shows
``ls``/``lsdir`` over sections. Also checks the package's export list.
"""

from __future__ import annotations

from types import ModuleType

import confagent.render
from confagent.render import KeyView, Scope, StaticHost, make_environment, render

NGINX_TMPL = """\
upstream {{ getv("/subdomain") }} {
{% for server in getvs("/upstream/*") %}
    server {{ server }};
{% endfor %}
}

server {
    server_name  {{ getv("/subdomain") }}.example.com;
    location / {
        proxy_pass        http://{{ getv("/subdomain") }};
        proxy_set_header  X-Real-IP  $remote_addr;
    }
}
"""
NGINX_OUT = """\
upstream myapp {
    server 10.0.1.100:80;
    server 10.0.1.101:80;
}

server {
    server_name  myapp.example.com;
    location / {
        proxy_pass        http://myapp;
        proxy_set_header  X-Real-IP  $remote_addr;
    }
}
"""

HAPROXY_TMPL = """\
backend {{ getv("/name") }}
    balance {{ getv("/balance", "roundrobin") }}
{% for kv in gets("/servers/*") %}
{% set name = kv.Key | base %}
    server {{ name }} {{ kv.Value }} check{{ " disabled" if exists("/maint/" ~ name) else "" }}
{% endfor %}
"""
HAPROXY_OUT = """\
backend web
    balance roundrobin
    server web1 10.0.0.1:8080 check
    server web2 10.0.0.2:8080 check disabled
    server web3 10.0.0.3:8080 check
"""

INI_TMPL = """\
; generated from revision {{ getv("/meta/owner") }}
{% for section in lsdir("/") if section != "meta" %}
[{{ section }}]
{% for name in ls("/" ~ section) %}
{{ name }} = {{ getv("/" ~ section ~ "/" ~ name) }}
{% endfor %}
{% endfor %}
"""
INI_OUT = """\
; generated from revision ops
[database]
host = db.local
port = 5432
[server]
listen = 0.0.0.0:8080
workers = 4
"""


def _render(template: str, entries: dict[str, str], prefix: str, keys: tuple[str, ...]) -> str:
    env = make_environment({"templates/t.tmpl": template}, StaticHost())
    return render(env, "templates/t.tmpl", KeyView(entries, 9), Scope(prefix, keys)).text


def test_nginx_upstreams_from_confd_quickstart() -> None:
    entries = {
        "/myapp/subdomain": "myapp", "/myapp/upstream/app2": "10.0.1.101:80",
        "/myapp/upstream/app1": "10.0.1.100:80", "/myapp/unrelated": "x", "/other/upstream/z": "no",
    }
    assert _render(NGINX_TMPL, entries, "/myapp", ("/subdomain", "/upstream")) == NGINX_OUT


def test_haproxy_backend_list() -> None:
    entries = {
        "/lb/web/name": "web", "/lb/web/servers/web2": "10.0.0.2:8080",
        "/lb/web/servers/web1": "10.0.0.1:8080", "/lb/web/servers/web3": "10.0.0.3:8080",
        "/lb/web/maint/web2": "since monday",
    }
    assert _render(HAPROXY_TMPL, entries, "/lb/web", ("/",)) == HAPROXY_OUT


def test_ini_file_from_sections() -> None:
    entries = {
        "/app/meta/owner": "ops", "/app/server/workers": "4", "/app/server/listen": "0.0.0.0:8080",
        "/app/database/port": "5432", "/app/database/host": "db.local",
    }
    assert _render(INI_TMPL, entries, "app", ("",)) == INI_OUT


def test_one_environment_renders_many_templates_and_revisions() -> None:
    env = make_environment({"a": "{{ getv('/x') }}", "b": "{{ ls('/') | join(',') }}"}, StaticHost())
    first = KeyView({"/x": "1"}, 1)
    second = first.with_changes({"/y": "2", "/x": "3"}, [], 2)
    texts = [render(env, name, view).text for view in (first, second) for name in "ab"]
    assert texts == ["1", "x", "3", "x,y"]
    assert render(env, "a", second).revision == 2


def test_every_public_name_is_exported() -> None:
    module = confagent.render
    public = {name for name in dir(module)  # dir(): the Jinja2 names are loaded on first use
              if not name.startswith("_") and not isinstance(getattr(module, name), ModuleType)}
    assert public - {"annotations", "TYPE_CHECKING", "Any"} == set(module.__all__)
    assert all(getattr(module, name).__module__ == "confagent.render" for name in module.__all__)
