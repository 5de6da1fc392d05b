#!/usr/bin/env bash
# Packaging checks (make dist-check): build the wheel and the sdist, install the wheel in
# clean virtual environments (no extra, [cli], [testing]) with a smoke check in each, and run
# the sdist's own test suite from the unpacked sdist. Usage: dist_check.sh PYTHON
# SDIST_TESTS=full (default) runs the whole suite from the sdist; SDIST_TESTS=files (what
# `make test` uses, having just run the whole suite on the tree) runs the tests that read files
# other than the packages (README, examples, docs fixtures, ADDING_PROVIDERS.md).
#
# After the build, the four checks are independent: they run at the same time, each into its
# own log, and the logs are printed whole in a fixed order, so the output reads as if they ran
# one after another. Any failing check fails the script (all of them are reported).
# The clean venvs are made without pip (`venv --without-pip`, about 1 s instead of a pip
# bootstrap each) and filled by the dev environment's pip (`pip --python`): they hold the wheel,
# its extra and their dependencies, nothing else.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-.venv/bin/python}
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"  # absolute; keeps the venv's symlink
OUT=dist
rm -rf "$OUT"
mkdir -p "$OUT"
step() { printf '\n== dist-check: %s\n' "$*"; }
fail() { printf 'dist-check FAILED: %s\n' "$*" >&2; exit 1; }

step "build wheel and sdist"
"$PY" -m build --outdir "$OUT" . >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; fail "build"; }
WHEEL=$(ls "$OUT"/segmentkit-*.whl)
SDIST=$(ls "$OUT"/segmentkit-*.tar.gz)
SDIST_FILES=$(tar -tzf "$SDIST")
WHEEL_FILES=$("$PY" -c "import sys, zipfile; print('\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))" "$WHEEL")
for member in LICENSE README.md examples/segmentkit_example/pyproject.toml \
    examples/csv_sync_app/sync_customers.py tests/conftest.py mkdocs.yml; do
  grep -q "/$member\$" <<<"$SDIST_FILES" || fail "sdist lacks $member"
done
grep -q 'licenses/LICENSE$' <<<"$WHEEL_FILES" || fail "wheel lacks LICENSE"
grep -q 'segmentkit/cli/data/customers.csv$' <<<"$WHEEL_FILES" || fail "wheel lacks the demo data"
echo "   ok: $(basename "$WHEEL") and $(basename "$SDIST") hold LICENSE, examples, tests"

venv() {  # venv NAME EXTRA -> installs the wheel with EXTRA into $OUT/venv-NAME
  local dir="$OUT/venv-$1"
  "$PY" -m venv --without-pip "$dir"
  "$PY" -m pip --python "$dir/bin/python" install -q "$WHEEL$2" >"$dir.log" 2>&1 \
    || { cat "$dir.log"; fail "install $1"; }
  echo "$dir"
}
hint_line() {  # hint_line DIR ARGS...: expects exit 1 and exactly one line naming the extra
  local dir=$1; shift
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  err=${err%$'\n'}
  [ "$rc" = 1 ] || fail "$*: exit $rc, expected 1"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$*: more than one line: $err"
  printf '%s\n' "$err" | grep -q 'pip install "segmentkit\[' || fail "$*: no install hint: $err"
  echo "   ok (hint): $err"
}

check_plain() {
  step "wheel, no extra"
  local D
  D=$(venv plain "")
  "$D/bin/python" -c "import segmentkit, segmentkit.io, segmentkit_notificator, segmentkit_allstech; print('   ok: import', segmentkit.__version__)"
  "$D/bin/python" -c "import segmentkit; assert {p.name for p in segmentkit.available_providers()} >= {'notificator', 'allstech', 'memory'}"
  "$D/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('pip') is not None or u.find_spec('click') is not None)" \
    || fail "the plain venv holds more than the wheel and its dependencies"
  hint_line "$D" "$D/bin/segmentkit" --help
  hint_line "$D" "$D/bin/python" -m segmentkit --help
}

check_cli() {
  step "wheel[cli]"
  local D MSG
  D=$(venv cli "[cli]")
  "$D/bin/segmentkit" --help >/dev/null && echo "   ok: segmentkit --help"
  "$D/bin/python" -m segmentkit --help >/dev/null && echo "   ok: python -m segmentkit --help"
  "$D/bin/segmentkit" providers --json | "$D/bin/python" -c "import json, sys; names = {p['name'] for p in json.load(sys.stdin)['providers']}; assert {'notificator', 'allstech'} <= names, names; print('   ok: providers --json', sorted(names))"
  "$D/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('werkzeug') is not None or u.find_spec('responses') is not None)" || fail "[cli] pulled in the test kit"
  MSG=$("$D/bin/python" -c "from segmentkit.testing import fake" 2>&1 || true)
  grep -q 'pip install "segmentkit\[testing\]"' <<<"$MSG" \
    || fail "[cli]: importing the fakes does not name the testing extra: $MSG"
  echo "   ok: importing the fakes names the testing extra"
  hint_line "$D" "$D/bin/segmentkit" demo
  hint_line "$D" "$D/bin/segmentkit" sandbox
}

check_testing() {
  step "wheel[testing]"
  local D
  D=$(venv testing "[testing]")
  "$D/bin/python" - <<'PY'
from segmentkit.testing import FakeFactory, fake  # noqa: F401
import segmentkit
with fake("notificator", "responses") as sms, fake("allstech", "responses") as mail:
    assert sms.client().segments.list().to_list() == []
    assert mail.client().segments.list().to_list() == []
print("   ok: two responses fakes, FakeFactory importable")
PY
  "$D/bin/python" -m pytest --co -q -p segmentkit.testing.pytest_plugin /dev/null >/dev/null 2>&1 || true
  hint_line "$D" "$D/bin/segmentkit" --help
}

check_sdist_tests() {
  step "the sdist's own tests, from the unpacked sdist"
  local SRC="$OUT/sdist" SELECT
  mkdir -p "$SRC"
  tar -xzf "$SDIST" -C "$SRC" --strip-components=1
  # The dev environment's interpreter, importing the sdist's copies first (PYTHONPATH wins over
  # the editable install); entry points resolve to the same module names.
  local FILE_TESTS="tests/core/test_example_plugin.py examples/segmentkit_example/tests
    tests/core/test_readme.py tests/cli/test_example_app.py tests/core/test_meta.py
    tests/core/test_public_api.py tests/allstech/test_doc_examples.py
    tests/notificator/test_docs_replay.py"
  case "${SDIST_TESTS:-full}" in
    full) SELECT="" ;;
    files) SELECT=$FILE_TESTS ;;
    *) fail "SDIST_TESTS must be full or files" ;;
  esac
  # Two pytest-xdist workers when the dev environment has it: the README walk-through (the
  # longest test) then runs beside the others instead of before them.
  local JOBS="-p no:xdist"
  if "$PY" -c "import xdist" 2>/dev/null; then JOBS="-n 2"; fi
  # shellcheck disable=SC2086  # SELECT is a list of paths, JOBS a list of options
  ( cd "$SRC" && PYTHONPATH="$PWD:$PWD/examples/segmentkit_example" \
      "$PY" -m pytest -q -x -p no:cacheprovider $JOBS $SELECT ) \
    || fail "the sdist's tests"
  ( cd "$SRC" && PYTHONPATH="$PWD" "$PY" -c "import segmentkit, os; assert segmentkit.__file__.startswith(os.getcwd()), segmentkit.__file__" ) \
    || fail "the sdist's tests did not import the sdist's code"
}

CHECKS=(check_sdist_tests check_plain check_cli check_testing)  # longest first
declare -A PIDS
for check in "${CHECKS[@]}"; do
  ( "$check" ) >"$OUT/$check.log" 2>&1 &
  PIDS[$check]=$!
done
FAILED=()
for check in "${CHECKS[@]}"; do
  wait "${PIDS[$check]}" || FAILED+=("$check")
done
for check in check_plain check_cli check_testing check_sdist_tests; do  # the old order
  cat "$OUT/$check.log"
done
[ "${#FAILED[@]}" = 0 ] || fail "${FAILED[*]}"
echo
echo "dist-check: all packaging checks passed"
