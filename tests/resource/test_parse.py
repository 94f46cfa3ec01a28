"""parse_resource: confd's [template] files parse as confd reads them; every mistake names file and key."""

from __future__ import annotations

import pytest

from confagent.errors import ConfigError
from confagent.resource import DEFAULT_TIMEOUT_S, RESOURCE_FIELDS, ResourceSpec, Wait, parse_resource

FILE = "conf.d/app.toml"

CONFD_EXAMPLE = """
[template]
prefix     = "/myapp"
src        = "nginx.tmpl"
dest       = "/etc/nginx/conf.d/myapp.conf"
keys       = ["/subdomain", "/upstream"]
uid = 0
gid = 0
mode = "0644"
check_cmd  = "/usr/sbin/nginx -t -c {{.src}}"
reload_cmd = "/usr/sbin/service nginx reload"
"""


def parse(body: str) -> ResourceSpec:
    return parse_resource("[template]\n" + body, FILE)


def test_confd_example_parses_with_confd_meanings() -> None:
    spec = parse_resource(CONFD_EXAMPLE, FILE)
    assert spec == ResourceSpec(
        file=FILE, src="nginx.tmpl", dest="/etc/nginx/conf.d/myapp.conf", keys=("/subdomain", "/upstream"),
        prefix="/myapp", uid=0, gid=0, mode=0o644, check_cmd="/usr/sbin/nginx -t -c {{.src}}",
        reload_cmd="/usr/sbin/service nginx reload")


def test_defaults_of_optional_fields() -> None:
    spec = parse('src = "a.tmpl"\ndest = "out/a.conf"\nkeys = ["/"]\n')
    assert (spec.prefix, spec.uid, spec.gid, spec.owner, spec.group, spec.mode) == ("/", *[None] * 5)
    assert (spec.check_cmd, spec.reload_cmd, spec.timeout_s) == (None, None, DEFAULT_TIMEOUT_S)
    assert (spec.create_dest_dirs, spec.backup, spec.rollback, spec.wait) == (False, False, True, None)
    assert (spec.reload_lock, spec.reload_concurrency) == (None, 1)


def test_new_fields() -> None:
    spec = parse('src = "a.tmpl"\ndest = "/x"\nkeys = ["/a"]\nowner = "nobody"\ngroup = "nogroup"\n'
                 'timeout = "1m30s"\ncreate_dest_dirs = true\nbackup = true\nrollback = false\n'
                 'wait = "2s:10s"\nprefix = "myapp"\n')
    assert (spec.owner, spec.group, spec.timeout_s) == ("nobody", "nogroup", 90.0)
    assert (spec.create_dest_dirs, spec.backup, spec.rollback) == (True, True, False)
    assert spec.wait == Wait(2.0, 10.0)
    assert spec.prefix == "/myapp"  # confd prepends the slash


def test_a_reload_lock_takes_one_slot_unless_told_how_many() -> None:
    body = REQUIRED + 'reload_cmd = "nginx -s reload"\nreload_lock = "/locks/nginx"\n'
    assert (parse(body).reload_lock, parse(body).reload_concurrency) == ("/locks/nginx", 1)
    assert parse(body + "reload_concurrency = 3\n").reload_concurrency == 3


@pytest.mark.parametrize(("value", "mode"), [('"0644"', 0o644), ('"0600"', 0o600), ('"02750"', 0o2750),
                                             ('"0o755"', 0o755), ('"0"', None)])
def test_mode_is_octal_text(value: str, mode: int | None) -> None:
    body = f'src = "a"\ndest = "/x"\nkeys = ["/"]\nmode = {value}\n'
    if mode is None:
        with pytest.raises(ConfigError):
            parse(body)
    else:
        assert parse(body).mode == mode


@pytest.mark.parametrize("value", ['"{{.src}} {{ src }} {{ .src}} {{.dest}} {{dst}}"',
                                   '"docker inspect -f {{.State.Running}} x"'])
def test_check_cmd_placeholders_accepted(value: str) -> None:
    assert parse(f'src = "a"\ndest = "/x"\nkeys = ["/"]\ncheck_cmd = {value}\n').check_cmd


REQUIRED = 'src = "a.tmpl"\ndest = "/etc/a.conf"\nkeys = ["/a"]\n'

# (the file's text, the key the error must name, a piece of the message)
ERRORS = [
    ("[template\nsrc = 1", None, "not valid TOML"),
    ("", "template", "is required"),
    ("[[template]]\nsrc = 'a'", "template", "one file per template"),
    ("[template]\n" + REQUIRED + "[template2]\nsrc='b'", "template2", "unknown key"),
    ("x = 1\n[template]\n" + REQUIRED, "x", "unknown key"),
    ("[template]\n" + REQUIRED + "check-cmd = 'true'", "template.check-cmd", "did you mean 'check_cmd'"),
    ("[template]\n" + REQUIRED + "user = 'nginx'", "template.user", "did you mean 'owner'"),
    ("[template]\n" + REQUIRED + "perms = '0644'", "template.perms", "did you mean 'mode'"),
    ("[template]\n" + REQUIRED + "keep_stage_file = true", "template.keep_stage_file", "unknown key"),
    ('[template]\ndest = "/x"\nkeys = ["/"]', "template.src", "is required"),
    ('[template]\nsrc = ""\ndest = "/x"\nkeys = ["/"]', "template.src", "must not be empty"),
    ('[template]\nsrc = "/abs/a.tmpl"\ndest = "/x"\nkeys = ["/"]', "template.src", "is absolute"),
    ('[template]\nsrc = "../a.tmpl"\ndest = "/x"\nkeys = ["/"]', "template.src", "inside the templates"),
    ('[template]\nsrc = 3\ndest = "/x"\nkeys = ["/"]', "template.src", "must be a string, not an integer"),
    ('[template]\nsrc = "a"\nkeys = ["/"]', "template.dest", "is required"),
    ('[template]\nsrc = "a"\ndest = "/etc/"\nkeys = ["/"]', "template.dest", "must name a file"),
    ('[template]\nsrc = "a"\ndest = "/x"', "template.keys", "is required"),
    ('[template]\nsrc = "a"\ndest = "/x"\nkeys = []', "template.keys", "at least one key"),
    ('[template]\nsrc = "a"\ndest = "/x"\nkeys = ["database"]', "template.keys", 'write "/database"'),
    ('[template]\nsrc = "a"\ndest = "/x"\nkeys = ["/a", 2]', "template.keys", "array of strings"),
    ('[template]\nsrc = "a"\ndest = "/x"\nkeys = ["/a/../b"]', "template.keys", "'..'"),
    ("[template]\n" + REQUIRED + "prefix = '/a/../..'", "template.prefix", "'..'"),
    ("[template]\n" + REQUIRED + "prefix = 5", "template.prefix", "must be a string"),
    ("[template]\n" + REQUIRED + "mode = 420", "template.mode", "TOML integers are decimal"),
    ("[template]\n" + REQUIRED + "mode = '644'", "template.mode", 'write "0644"'),
    ("[template]\n" + REQUIRED + "mode = '0x1a4'", "template.mode", "not an octal mode"),
    ("[template]\n" + REQUIRED + "mode = '0999'", "template.mode", "not an octal mode"),
    ("[template]\n" + REQUIRED + "mode = '010000'", "template.mode", "not an octal mode"),
    ("[template]\n" + REQUIRED + "uid = -1", "template.uid", "at least 0"),
    ("[template]\n" + REQUIRED + "uid = '0'", "template.uid", "must be an integer"),
    ("[template]\n" + REQUIRED + "gid = true", "template.gid", "must be an integer, not a boolean"),
    ("[template]\n" + REQUIRED + "uid = 0\nowner = 'root'", "template.owner", "uid or owner, not both"),
    ("[template]\n" + REQUIRED + "gid = 0\ngroup = 'root'", "template.group", "gid or group, not both"),
    ("[template]\n" + REQUIRED + "owner = ''", "template.owner", "must not be empty"),
    ("[template]\n" + REQUIRED + "check_cmd = 'x {{.sorc}}'", "template.check_cmd", "placeholder {{.sorc}}"),
    ("[template]\n" + REQUIRED + "reload_cmd = 'x {{.src}}'", "template.reload_cmd", "stage file is gone"),
    ("[template]\n" + REQUIRED + "reload_cmd = ['a']", "template.reload_cmd", "must be a string"),
    ("[template]\n" + REQUIRED + "timeout = 0", "template.timeout", "more than 0 s"),
    ("[template]\n" + REQUIRED + "timeout = '2 days'", "template.timeout", "not a duration"),
    ("[template]\n" + REQUIRED + "timeout = '2h'", "template.timeout", "at most 3600 s"),
    ("[template]\n" + REQUIRED + "timeout = -1", "template.timeout", "at least 0 s"),
    ("[template]\n" + REQUIRED + "wait = '10s:2s'", "template.wait", "more than max"),
    ("[template]\n" + REQUIRED + "wait = 5", "template.wait", "min:max"),
    ("[template]\n" + REQUIRED + "backup = 'yes'", "template.backup", "true or false"),
    ("[template]\n" + REQUIRED + "rollback = 1", "template.rollback", "true or false"),
    ("[template]\n" + REQUIRED + "create_dest_dirs = 'true'", "template.create_dest_dirs", "true or false"),
    ("[template]\n" + REQUIRED + "reload_lock = '/locks/a'", "template.reload_lock", "needs a reload_cmd"),
    ("[template]\n" + REQUIRED + "reload_cmd = 'r'\nreload_lock = ''", "template.reload_lock",
     "must not be empty"),
    ("[template]\n" + REQUIRED + "reload_cmd = 'r'\nreload_lock = 1", "template.reload_lock",
     "must be a string"),
    ("[template]\n" + REQUIRED + "reload_cmd = 'r'\nreload_concurrency = 2", "template.reload_concurrency",
     "only used with reload_lock"),
    ("[template]\n" + REQUIRED + "reload_cmd = 'r'\nreload_lock = '/l'\nreload_concurrency = 0",
     "template.reload_concurrency", "at least 1"),
    ("[template]\n" + REQUIRED + "reload_cmd = 'r'\nreload_lock = '/l'\nreload_concurrency = '2'",
     "template.reload_concurrency", "must be an integer"),
    ("[template]\n" + REQUIRED + "reload_cmd = 'r'\nreload_lock = '/l'\nreload_concurrency = 10001",
     "template.reload_concurrency", "at most 10000"),
]


@pytest.mark.parametrize(("text", "key", "message"), ERRORS, ids=[f"{e[1]}:{e[2]}" for e in ERRORS])
def test_every_error_names_file_key_and_problem(text: str, key: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_resource(text, FILE)
    error = caught.value
    assert (error.file, error.key) == (FILE, key)
    assert message in error.message
    assert str(error).startswith(f"{FILE}: {key + ': ' if key else ''}")


def test_unknown_key_without_near_miss_lists_known_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        parse("src = 'a'\ndest = '/x'\nkeys = ['/']\nzzz = 1\n")
    assert all(field in caught.value.message for field in RESOURCE_FIELDS)


def test_src_is_normalized_inside_templates() -> None:
    assert parse('src = "./sub//a.tmpl"\ndest = "/x"\nkeys = ["/"]').src == "sub/a.tmpl"


def test_a_single_key_string_is_one_key() -> None:
    assert parse('src = "a"\ndest = "/x"\nkeys = "/a"').keys == ("/a",)
