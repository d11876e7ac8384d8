#!/usr/bin/env bash
# Installs the pinned Python tool of tests/NAME/requirements.txt into target/NAME-venv (once, and
# again when the pin changes; concurrent callers wait on a lock), applies tests/NAME/patch.sh to
# it when there is one (every time: patches are idempotent, so copies made before a patch was
# added get it too), and prints the path of its executable BIN. Needs only python3 with venv and
# pip.
#   tests/ensure-venv.sh moto moto_server
#   tests/ensure-venv.sh taplo taplo
set -euo pipefail
name=${1:?usage: ensure-venv.sh NAME BIN}
bin=${2:?usage: ensure-venv.sh NAME BIN}
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
requirements="$here/$name/requirements.txt"
venv="$root/target/$name-venv"
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
stamp="$venv/.requirements"
# A virtualenv is not relocatable: one copied from another checkout still runs that
# checkout's interpreter and packages (and patches). Python 3.11+ records where it was made.
made_at=$(sed -n 's/^command = .* -m venv //p' "$venv/pyvenv.cfg" 2>/dev/null || true)
if [ ! -x "$venv/bin/$bin" ] || ! cmp -s "$requirements" "$stamp" ||
  { [ -n "$made_at" ] && [ "$made_at" != "$venv" ]; }; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$stamp"
fi
if [ -f "$here/$name/patch.sh" ]; then
  bash "$here/$name/patch.sh" "$venv" >&2
fi
echo "$venv/bin/$bin"
