#!/usr/bin/env bash
# Prepare this machine as a controller: OS packages, then a controller virtual environment (.venv) with
# ansible-core and the test tools pinned in requirements/. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ssh >/dev/null || need_apt+=(openssh-client)
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ip >/dev/null || need_apt+=(iproute2)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "bootstrap: missing ${need_apt[*]} (install them with your package manager)" >&2
  fi
fi

python=${PYTHON:-python3}
venv=${VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp=$venv/.requirements.sha256
want=$(cat requirements/*.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements/controller.txt -r requirements/test.txt
  echo "$want" > "$stamp"
fi
echo "bootstrap: controller ready in $venv ($("$venv/bin/ansible" --version | head -1))"
