"""The corpus: confd templates in Go's text/template, the output Go gives for each, and bad input.

Every construct of issue 14 is here: ``if``/``else if``/``else``, ``range`` with
``else``, ``break``/``continue`` and ``$i, $v :=``, ``with``, variables and
``$``, pipelines, ``define``/``template``/``block``, comments, trim markers,
``printf``, ``index``, ``len``, the comparisons with Go's multi-argument ``eq``,
``and``/``or``/``not``, ``html``/``js``/``urlquery``, and confd's functions.
Each template runs with no data (as confd runs it) over ``KEYS`` and ``ENV``.
The expected outputs are what Go's text/template gives: test_corpus.py checks
them against Go itself (a small program built from gotemplate.go) and the
converted Jinja against them.
"""

# ruff: noqa: E501 - each case on its lines as Go reads it

from __future__ import annotations

from typing import NamedTuple

KEYS = {
    "/app/name": "web", "/app/port": "8080", "/app/empty": "",
    "/app/upstreams/a": "10.0.0.1:80", "/app/upstreams/b": "10.0.0.3:80", "/app/upstreams/c": "10.0.0.2:80",
    "/app/json": '{"b": 2, "a": "x", "list": [1, 2.5]}', "/app/list": '["z", "y"]',
    "/app/html": "<a href=\"x\">&'", "/app/utf": "h\u00e9llo",
    "/app/dirs/x/1": "one", "/app/dirs/yy/2": "two", "/app/dirs/leaf": "leaf",
}
ENV = {"HOME_DIR": "/home/u", "EMPTY": ""}


class Case(NamedTuple):
    name: str
    template: str
    expected: str


class Refused(NamedTuple):
    """A template Go refuses to parse, and the line the error names."""

    name: str
    template: str
    line: int


class Reported(NamedTuple):
    """A template Go runs but that has no faithful Jinja form: the (line, column) of each finding."""

    name: str
    template: str
    at: tuple[tuple[int, int], ...]


CASES = [
    Case('text_only',
         'plain text\nwith {braces} and {%percent%} and {#hash#} and {{"{{"}} and a {',
         'plain text\nwith {braces} and {%percent%} and {#hash#} and {{ and a {'),
    Case('crlf_text',
         'a\r\nb {{getv "/app/name"}}\r\n',
         'a\r\nb web\r\n'),
    Case('getv',
         'name={{getv "/app/name"}} port={{getv "/app/port"}}\n',
         'name=web port=8080\n'),
    Case('getv_default',
         '{{getv "/app/missing" "fallback"}}|{{getv "/app/missing" ""}}|\n',
         'fallback||\n'),
    Case('get_exists',
         '{{with get "/app/name"}}{{.Key}}={{.Value}}{{end}} {{exists "/app/name"}} {{exists "app/name"}}\n',
         '/app/name=web true false\n'),
    Case('gets_range',
         '{{range gets "/app/upstreams/*"}}server {{base .Key}} {{.Value}};\n{{end}}',
         'server a 10.0.0.1:80;\nserver b 10.0.0.3:80;\nserver c 10.0.0.2:80;\n'),
    Case('getvs',
         '{{join (getvs "/app/upstreams/*") ","}}\n',
         '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80\n'),
    Case('ls_lsdir',
         '{{range ls "/app/dirs"}}[{{.}}]{{end}} {{range lsdir "/app/dirs"}}<{{.}}>{{end}} {{ls "/app/dirs/leaf"}}\n',
         '[leaf][x][yy] <x><yy> [leaf]\n'),
    Case('range_index_value',
         '{{range $i, $kv := gets "/app/upstreams/*"}}{{$i}}:{{$kv.Value}} {{end}}\n',
         '0:10.0.0.1:80 1:10.0.0.3:80 2:10.0.0.2:80 \n'),
    Case('range_one_var',
         '{{range $v := getvs "/app/upstreams/*"}}{{$v}} {{end}}\n',
         '10.0.0.1:80 10.0.0.2:80 10.0.0.3:80 \n'),
    Case('range_else',
         '{{range gets "/app/none/*"}}x{{else}}empty{{end}}|{{range split "a,b" ","}}{{.}}{{else}}none{{end}}\n',
         'empty|ab\n'),
    Case('range_map_sorted',
         '{{range $k, $v := json (getv "/app/json")}}{{$k}}={{$v}};{{end}}\n',
         'a=x;b=2;list=[1 2.5];\n'),
    Case('range_map_values',
         '{{range map "z" 1 "a" 2 "m" 3}}{{.}}{{end}}\n',
         '231\n'),
    Case('range_break_continue',
         '{{range seq 1 6}}{{if eq . 2}}{{continue}}{{end}}{{if gt . 4}}{{break}}{{end}}{{.}}{{end}}\n',
         '134\n'),
    Case('nested_range_index',
         '{{range $i, $a := split "x,y" ","}}{{range $j, $b := seq 1 2}}{{$i}}{{$a}}{{$j}}{{$b}} {{end}}{{end}}\n',
         '0x01 0x12 1y01 1y12 \n'),
    Case('if_else_if',
         '{{$p := atoi (getv "/app/port")}}{{if lt $p 1024}}low{{else if lt $p 10000}}mid{{else}}high{{end}}\n',
         'mid\n'),
    Case('if_truthiness',
         '{{if getv "/app/empty"}}A{{else}}a{{end}}{{if gets "/app/none/*"}}B{{else}}b{{end}}{{if 0}}C{{else}}c{{end}}{{if json "{}"}}D{{else}}d{{end}}{{if jsonArray "[]"}}E{{else}}e{{end}}{{if get "/app/empty"}}F{{else}}f{{end}}\n',
         'abcdeF\n'),
    Case('with_else',
         '{{with getv "/app/empty"}}full{{else}}empty{{end}} {{with $n := getv "/app/name"}}{{$n}}/{{.}}{{end}}\n',
         'empty web/web\n'),
    Case('variables_scope',
         '{{$x := "outer"}}{{if true}}{{$x := "inner"}}{{$x}}{{end}} {{$x}}\n',
         'inner outer\n'),
    Case('variable_assign_in_range',
         '{{$last := ""}}{{range getvs "/app/upstreams/*"}}{{$last = .}}{{end}}{{$last}}\n',
         '10.0.0.3:80\n'),
    Case('dollar_in_define',
         '{{define "show"}}{{range .}}{{$}}{{end}}{{end}}{{template "show" "ab" | len | seq 1}}\n',
         '[1 2][1 2]\n'),
    Case('pipelines',
         '{{getv "/app/name" | toUpper}} {{"a,b,c" | split "," | len}} {{getv "/app/port" | atoi | add 1}}\n',
         'WEB 1 8081\n'),
    Case('parenthesized',
         '{{printf "%s:%d" (getv "/app/name") (add (atoi (getv "/app/port")) 2)}}\n',
         'web:8082\n'),
    Case('define_template',
         '{{define "upstream"}}server {{.}};{{end}}{{range getvs "/app/upstreams/*"}}{{template "upstream" .}}\n{{end}}',
         'server 10.0.0.1:80;\nserver 10.0.0.2:80;\nserver 10.0.0.3:80;\n'),
    Case('template_no_arg',
         '{{define "hdr"}}# generated{{end}}{{template "hdr"}}\n',
         '# generated\n'),
    Case('block',
         '{{block "list" getvs "/app/upstreams/*"}}{{range .}}- {{.}}\n{{end}}{{end}}done\n',
         '- 10.0.0.1:80\n- 10.0.0.2:80\n- 10.0.0.3:80\ndone\n'),
    Case('recursive_define',
         '{{define "count"}}{{if gt . 0}}{{.}} {{template "count" sub . 1}}{{end}}{{end}}{{template "count" 3}}\n',
         '3 2 1 \n'),
    Case('comments',
         'a{{/* a comment */}}b\n{{- /* trimmed both sides */ -}}\nc\n',
         'abc\n'),
    Case('trim_markers',
         'x  \n  {{- getv "/app/name" -}}  \n  y\n{{- if true}}\n  z\n{{- end}}\n',
         'xweby\n  z\n'),
    Case('trim_not_number',
         'a {{-3}} b {{- 3}} c {{3 -}} d\n',
         'a -3 b3 c 3d\n'),
    Case('printf_verbs',
         '{{printf "%s|%5s|%-5s|%d|%05d|%x|%X|%o|%q|%v|%t|%%|%.2f|%e" "a" "b" "c" 42 42 255 255 8 "q\\"" 7 true 3.14159 1234.5}}\n',
         'a|    b|c    |42|00042|ff|FF|10|"q\\""|7|true|%|3.14|1.234500e+03\n'),
    Case('printf_values',
         '{{printf "%v %v %v" (split "a,b" ",") (json (getv "/app/json")) (get "/app/name")}}\n',
         '[a b] map[a:x b:2 list:[1 2.5]] {/app/name web}\n'),
    Case('print_values',
         '{{split "a,b" ","}} {{json (getv "/app/json")}} {{get "/app/name"}} {{seq 1 3}} {{true}} {{42}}\n',
         '[a b] map[a:x b:2 list:[1 2.5]] {/app/name web} [1 2 3] true 42\n'),
    Case('index_len',
         '{{index (split "a,b,c" ",") 1}} {{index (json (getv "/app/json")) "a"}} {{index (jsonArray (getv "/app/list")) 0}} {{len (getv "/app/utf")}} {{len (gets "/app/upstreams/*")}} {{len (json (getv "/app/json"))}}\n',
         'b x z 6 3 3\n'),
    Case('comparisons',
         '{{eq 1 1}} {{eq 1 2 3 1}} {{eq "a" "b" "c"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}} {{eq (getv "/app/name") "web"}}\n',
         'true true false true true true true false true\n'),
    Case('and_or_not',
         '{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}} {{not 0}} {{not "a"}} {{and (exists "/app/missing") (getv "/app/missing")}}\n',
         '0 2 x  true false false\n'),
    Case('escapers',
         '{{html (getv "/app/html")}} {{js (getv "/app/html")}} {{urlquery "a b&c=d/é"}} {{html 1 2 "x" 3}}\n',
         '&lt;a href=&#34;x&#34;&gt;&amp;&#39; \\u003Ca href\\u003D\\"x\\"\\u003E\\u0026\\\' a+b%26c%3Dd%2F%C3%A9 1 2x3\n'),
    Case('fields_of_json',
         '{{(json (getv "/app/json")).a}} {{$j := json (getv "/app/json")}}{{$j.b}} {{index $j.list 1}}\n',
         'x 2 2.5\n'),
    Case('string_literals',
         '{{"tab\\there"}} {{`raw\\n`}} {{\'a\'}} {{"\\u00e9\\x41\\101"}} {{0x1F}} {{017}} {{1_000}}\n',
         'tab\there raw\\n 97 éAA 31 15 1000\n'),
    Case('confd_helpers',
         '{{base "/a/b/c"}} {{dir "/a/b/c"}} {{replace "aaa" "a" "b" 2}} {{trimSuffix "file.conf" ".conf"}} {{contains "hello" "ell"}} {{toLower "ABC"}}\n',
         'c /a/b bba file true abc\n'),
    Case('confd_numbers',
         '{{add 2 3}} {{sub 2 3}} {{mul 4 5}} {{div 7 2}} {{mod 7 3}} {{div -7 2}} {{mod -7 2}} {{seq 2 4}} {{parseBool "true"}} {{atoi "-12"}}\n',
         '5 -1 20 3 1 -3 -1 [2 3 4] true -12\n'),
    Case('confd_base64_env',
         '{{base64Encode "hello"}} {{base64Decode "aGVsbG8="}} {{getenv "HOME_DIR"}} {{getenv "UNSET" "dflt"}} {{getenv "EMPTY" "dflt"}}\n',
         'aGVsbG8= hello /home/u dflt dflt\n'),
    Case('confd_sorting',
         '{{range sortByLength (split "ccc,a,bb" ",")}}{{.}} {{end}}{{range sortKVByLength (gets "/app/dirs/*")}}{{.Key}} {{end}}{{reverse (split "a,b,c" ",")}}\n',
         'a bb ccc /app/dirs/leaf [c b a]\n'),
    Case('map_func',
         '{{$m := map "host" (getv "/app/name") "port" 80}}{{$m.host}}:{{$m.port}} {{index $m "port"}}\n',
         'web:80 80\n'),
    Case('whitespace_lines',
         'upstream {\n{{- range gets "/app/upstreams/*"}}\n    server {{.Value}};\n{{- end}}\n}\n',
         'upstream {\n    server 10.0.0.1:80;\n    server 10.0.0.3:80;\n    server 10.0.0.2:80;\n}\n'),
    Case('indented_blocks',
         '  {{if true}}\n    yes\n  {{end}}\n\t{{range seq 1 2}}\n\t- {{.}}\n\t{{end}}\n',
         '  \n    yes\n  \n\t\n\t- 1\n\t\n\t- 2\n\t\n'),
    Case('unicode_text',
         'héllo {{getv "/app/utf"}} ☃ {{toUpper (getv "/app/utf")}}\n',
         'héllo héllo ☃ HÉLLO\n'),
    Case('newlines_in_action',
         '{{printf "%s-%s"\n  "a"\n  "b"}}\n',
         'a-b\n'),
    Case('method_like_kv',
         '{{$kv := get "/app/port"}}{{$kv.Key}} {{(get "/app/name").Value}}\n',
         '/app/port web\n'),
    Case('variable_names',
         '{{$len := 3}}{{$loop := "l"}}{{$range := "r"}}{{$_x := "u"}}{{$getv := "g"}}{{$len}}{{$loop}}{{$range}}{{$_x}}{{$getv}} {{len "ab"}} {{getv "/app/name"}}\n',
         '3lrug 2 web\n'),
    Case('assigned_in_map_range',
         '{{$last := ""}}{{range $k, $v := json (getv "/app/json")}}{{$last = $k}}{{end}}{{$last}}\n',
         'list\n'),
    Case('assigned_range_variables',
         '{{range $i, $v := seq 1 3}}{{$v = add $v 10}}{{$i = 7}}{{$i}}:{{$v}} {{end}}\n',
         '7:11 7:12 7:13 \n'),
    Case('same_name_in_sibling_scopes',
         '{{range $x := split "a,b" ","}}{{$x}}{{end}}{{range $x := seq 1 2}}{{$x}}{{end}}{{with $x := "w"}}{{$x}}{{end}}\n',
         'ab12w\n'),
    Case('empty_template',
         '',
         ''),
]

REFUSED = [
    Refused("unclosed_action", "a\n{{getv \"/a\"", 2),
    Refused("unknown_function", "ok\n\n{{nosuch 1}}", 3),
    Refused("undefined_variable", "{{$x := 1}}\n{{$y}}", 2),
    Refused("variable_out_of_scope", "{{if true}}{{$x := 1}}{{end}}\n{{$x}}", 2),
    Refused("unexpected_end", "a\n{{end}}", 2),
    Refused("missing_end", "{{if true}}\nyes\n", 3),
    Refused("else_at_top", "{{else}}", 1),
    Refused("break_outside_range", "{{if true}}\n{{break}}{{end}}", 2),
    Refused("bad_number", "{{add 1 2x}}", 1),
    Refused("unclosed_comment", "x\n{{/* never closed }}", 2),
    Refused("comment_then_code", "{{/* c */ 1}}", 1),
    Refused("nested_define", "{{if true}}{{define \"x\"}}{{end}}{{end}}", 1),
    Refused("unterminated_string", "{{getv \"/a}}", 1),
    Refused("else_if_in_range", "{{range seq 1 2}}{{else if true}}{{end}}", 1),
    Refused("two_decls_outside_range", "{{with $a, $b := 1}}{{end}}", 1),
    Refused("unclosed_paren", "{{len (seq 1 2}}", 1),
    Refused("template_name_not_string", "{{template x}}", 1),
    Refused("break_in_a_block_in_a_range", "{{range seq 1 2}}{{block \"b\" .}}\n{{break}}{{end}}{{end}}", 2),
]

REPORTED = [
    Reported("dot_at_top", "a\n  {{.}}", ((2, 5),)),
    Reported("field_of_nil_dot", "{{.Name}} {{$.Name}}", ((1, 3), (1, 13))),
    Reported("print", "x\n{{print \"a\" 1}}", ((2, 3),)),
    Reported("println_slice_call", "{{println 1}}{{slice \"abc\" 1}}", ((1, 3), (1, 16))),
    Reported("undefined_template", "{{template \"nope\"}}", ((1, 1),)),
    Reported("reverse_of_gets", "{{range reverse (gets \"/app/upstreams/*\")}}{{.Key}}{{end}}", ((1, 9),)),
    Reported("time_method_without_arguments", "{{(datetime).Year}}", ((1, 4),)),
    Reported("float_printed", "{{1e3}}", ((1, 1),)),
    Reported("nil_printed", "x {{and nil}}", ((1, 3),)),
]
