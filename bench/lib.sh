# Shared by the bench scripts (sourced, not run). Callers define log().

# apt_install PKG...: installs Debian packages without starting their
# services (a temporary policy-rc.d forbids it), as root or through sudo.
apt_install() {
  (($#)) || return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { log "cannot install $*: not root and no sudo"; exit 1; }
    sudo=sudo
  fi
  log "installing $*"
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null || {
    ((made_policy)) && $sudo rm -f /usr/sbin/policy-rc.d; exit 1; }
  if ((made_policy)); then $sudo rm -f /usr/sbin/policy-rc.d; fi
}
