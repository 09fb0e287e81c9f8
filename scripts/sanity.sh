#!/usr/bin/env bash
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# ansible-test sanity over the collection. ansible-test only works from a path ending in
# ansible_collections/<namespace>/<name>, so the tracked files (as they are in the work tree; untracked
# files such as .venv never enter) are copied to such a path in a temporary directory and tested there
# with the controller venv's ansible-test. Each sanity test that needs packages gets its own virtual
# environment (under ~/.ansible/test), installed from PyPI on first use.
#
#   bash scripts/sanity.sh                      # the tests this collection keeps green (see below)
#   bash scripts/sanity.sh --test pep8          # extra arguments go to ansible-test sanity
#   SANITY_KEEP=1 bash scripts/sanity.sh        # keep the copy (its path is printed) to look at the output
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
venv=${VENV:-.venv}
[ -x "$venv/bin/ansible-test" ] || bash scripts/bootstrap.sh
venv_bin=$(cd "$venv/bin" && pwd)
# The controller's Python only: other interpreters on PATH may be shims that do not run.
python_version=$("$venv_bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

work=$(mktemp -d "${TMPDIR:-/tmp}/mlperf-sanity.XXXXXX")
if [ -z "${SANITY_KEEP:-}" ]; then
  trap 'rm -rf "$work"' EXIT
fi
dest=$work/ansible_collections/mlperf/storage
mkdir -p "$dest"

# Tracked files that exist in the work tree. .collections holds the link that makes a checkout resolvable
# as mlperf.storage; inside the copy it would point back at the copy.
git -C "$repo" ls-files -z --cached |
  "$venv_bin/python" -c '
import os, sys
names = sys.stdin.buffer.read().split(b"\0")
keep = [n for n in names if n and not n.startswith(b".collections/") and os.path.lexists(n)]
sys.stdout.buffer.write(b"\0".join(keep))
' |
  tar -C "$repo" --null -T - -cf - | tar -C "$dest" -xf -

# Every sanity test of ansible-test 2.19 runs, except (each can be run by hand, e.g. --test pep8):
#   pylint: ansible-core's own profile, which forbids `_` as a variable name and wants check= on every
#           subprocess.run; nearly all of its findings here are those two.
#   pep8: not clean yet; what it finds is continuation-line indentation and blank lines.
args=()
if [ $# -eq 0 ]; then
  args=(--skip-test pylint --skip-test pep8)
fi

# ansible-test puts pip into each new virtual environment with a get-pip script it downloads from
# ci-files.testing.ansible.com and caches under ~/.ansible/test/cache (its error message says so). Where that
# host is out of reach (a machine that only reaches PyPI), the cache gets a small stand-in instead: the
# interpreter's own ensurepip, then pip upgrades itself to the version asked for from the package index.
pip_version=$("$venv_bin/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages as g
class P: version = ""
print(g(P())["pip"])')
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$get_pip" ] &&
  ! "$venv_bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20)' \
    "https://ci-files.testing.ansible.com/ansible-test/get-pip-$pip_version.py" 2>/dev/null; then
  mkdir -p "$(dirname "$get_pip")"
  cat > "$get_pip" <<'PY'
# Stand-in for ansible-test's get-pip script (written by mlperf.storage scripts/sanity.sh): same arguments.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q"] + args)
PY
  echo "sanity: ci-files.testing.ansible.com unreachable; pip bootstrap through ensurepip ($get_pip)"
fi

cd "$dest"
echo "sanity: $dest ($("$venv_bin/ansible-test" --version))"
start=$SECONDS
status=0
PATH=$venv_bin:$PATH "$venv_bin/ansible-test" sanity --venv --requirements --color no \
  --python "$python_version" "${args[@]}" "$@" || status=$?

# Modules and module_utils run on clients with Python 3.9 or newer: compile them with a 3.9 interpreter too
# (a pyenv shim answers 'command -v' without a usable interpreter behind it, so look for one that runs).
if [ $# -eq 0 ]; then
  py39=""
  for candidate in python3.9 /root/.pyenv/versions/3.9*/bin/python3.9 /usr/bin/python3.9; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
      py39=$(command -v "$candidate")
      break
    fi
  done
  if [ -n "$py39" ]; then
    PATH=$venv_bin:$PATH "$venv_bin/ansible-test" sanity --color no --test compile \
      --target-python "3.9@$py39" || status=$?
  else
    echo "sanity: no Python 3.9 interpreter here; compile on the clients' oldest Python skipped"
  fi
fi
echo "sanity: exit $status after $((SECONDS - start)) s"
exit $status
