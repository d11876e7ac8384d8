#!/usr/bin/env bash
# Patches the pinned moto in the virtualenv $1; run by tests/ensure-venv.sh after every install
# check (idempotent), so existing copies get it too. Each patch replaces one exact text once and
# is skipped where its replacement is already there; a text that is missing (another moto
# version) stops with the file named.
#
# 1. moto 5.2.5 keeps the `UserData` of a version made by `CreateLaunchTemplateVersion` as a
#    plain string, and the `user_data` property of a launch template version asserts it is a
#    `Base64EncodedString`: scaling a group out from such a version fails with a 500. ecsops
#    makes a new version whenever the instance type, user data or AMI changes, and `ecsops roll`
#    then scales out from it, so the end-to-end tests need this one line wrapped.
# 2. moto checks a `PutObject`'s `If-None-Match` / `If-Match` and then stores the object as two
#    steps, on a threaded server: two concurrent conditional writes can both pass the check,
#    which S3 never allows. ecsops' S3 lock rests on that guarantee, and the state conformance
#    test races eight lockers, so `PutObject` runs under one lock, as S3 behaves.
set -euo pipefail
venv=${1:?usage: patch.sh VENV}
moto=$(echo "$venv"/lib/python*/site-packages/moto)

patch() {
  python3 - "$@" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
if new in text:
    sys.exit(0)
if old not in text:
    sys.exit(f"tests/moto/patch.sh: the text to patch is not in {path} (another moto version?)")
open(path, "w").write(text.replace(old, new, 1))
PY
}

patch "$moto/ec2/models/launch_templates.py" \
  '        assert user_data is None or isinstance(user_data, Base64EncodedString)' \
  '        user_data = user_data if user_data is None or isinstance(user_data, Base64EncodedString) else Base64EncodedString(user_data)  # ecsops: tests/moto/patch.sh'

patch "$moto/s3/responses.py" \
  'import io
import re
' \
  'import io
import re
import threading

_ECSOPS_PUT_OBJECT = threading.RLock()  # ecsops: tests/moto/patch.sh
'

patch "$moto/s3/responses.py" \
  '    def put_object(self) -> TYPE_RESPONSE:
        key_name = self.parse_key_name()' \
  '    def put_object(self) -> TYPE_RESPONSE:
        with _ECSOPS_PUT_OBJECT:  # ecsops: tests/moto/patch.sh
            return self._put_object_checked()

    def _put_object_checked(self) -> TYPE_RESPONSE:
        key_name = self.parse_key_name()'
