#!/bin/sh
# Test nginx's whole configuration as it would be with a staged file in place of a destination.
#
#   nginx-check.sh NGINX_CONF STAGED DEST     e.g. as a resource's check_cmd:
#   check_cmd = "/bin/sh /etc/confagent/nginx-check.sh /etc/nginx/nginx.conf {{ src }} {{ dest }}"
#
# `nginx -t -c STAGED` cannot check a conf.d file: alone, its `upstream` and `server`
# blocks are "not allowed here", they are valid only inside the main configuration's
# `http` block. So: copy NGINX_CONF's directory to a temporary one, put STAGED where
# DEST is in the copy, point the copy's absolute paths into that directory at the
# copy, and run `nginx -t` on the copy. Its messages name the real paths. Exits as
# `nginx -t` does: 0 when the configuration is valid.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 NGINX_CONF STAGED DEST" >&2; exit 2; }
conf=$1 staged=$2 dest=$3
dir=$(cd "$(dirname "$conf")" && pwd)
case $dest in /*) ;; *) dest=$PWD/$dest ;; esac
case $dest in
  "$dir"/*) ;;
  *) echo "nginx-check: $dest is not under $dir, the directory of $conf" >&2; exit 2 ;;
esac
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -RL "$dir/." "$copy/"
mkdir -p "$(dirname "$copy/${dest#"$dir"/}")"
cp "$staged" "$copy/${dest#"$dir"/}"
grep -rlF "$dir/" "$copy" | while IFS= read -r file; do sed -i "s|$dir/|$copy/|g" "$file"; done
status=0
nginx=$(command -v nginx || echo /usr/sbin/nginx)  # /usr/sbin may not be on a user's PATH
output=$("$nginx" -t -q -c "$copy/$(basename "$conf")" 2>&1) || status=$?
[ -z "$output" ] || printf '%s\n' "$output" | sed "s|$copy/|$dir/|g" >&2
exit "$status"
