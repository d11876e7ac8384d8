#!/usr/bin/env bash
# Patches the pinned moto in the virtualenv $1; run by tests/ensure-venv.sh after every install
# check (idempotent), so existing copies get it too.
#
# Why: moto 5.2.5 keeps the `UserData` of a version made by `CreateLaunchTemplateVersion` as a
# plain string, and the `user_data` property of a launch template version asserts it is a
# `Base64EncodedString`: scaling a group out from such a version fails with a 500. ecsops makes
# a new version whenever the instance type, user data or AMI changes, and `ecsops roll` then
# scales out from it, so the end-to-end tests need this one line wrapped. Nothing else changes.
set -euo pipefail
venv=${1:?usage: patch.sh VENV}
file=$(echo "$venv"/lib/python*/site-packages/moto/ec2/models/launch_templates.py)
assertion='        assert user_data is None or isinstance(user_data, Base64EncodedString)'
wrapped='        user_data = user_data if user_data is None or isinstance(user_data, Base64EncodedString) else Base64EncodedString(user_data)  # ecsops: tests/moto/patch.sh'
if grep -qF "$wrapped" "$file"; then
  exit 0
fi
grep -qF "$assertion" "$file" || {
  echo "tests/moto/patch.sh: the line to patch is not in $file (another moto version?)" >&2
  exit 1
}
python3 - "$file" "$assertion" "$wrapped" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
open(path, "w").write(text.replace(old, new, 1))
PY
