#!/usr/bin/env bash
# Set up everything `make demo` and `make test` need on a fresh Debian machine:
# system packages (installed with apt when root, otherwise named in one line),
# the virtual environment, the package, and the Fabric bindings installed without
# their broken pins. Safe to run again: it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}

# Debian package -> a file that proves it is installed.
declare -A SYSTEM_PACKAGES=(
  [softhsm2]=/usr/bin/softhsm2-util
)
# Headless Chromium renders the benchmark's report.html in a test; without it that
# test skips, so it is installed only where apt can run (as root).
if [ ! -e /usr/bin/chromium ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  SYSTEM_PACKAGES[chromium]=/usr/bin/chromium
fi

missing=()
for package in "${!SYSTEM_PACKAGES[@]}"; do
  [ -e "${SYSTEM_PACKAGES[$package]}" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing system packages; install them first: sudo apt-get install ${missing[*]}" >&2
    exit 2
  fi
fi

"$PYTHON" - <<'PY' || { echo "bootstrap: Python 3.11 or newer is needed (found $("$PYTHON" --version 2>&1))" >&2; exit 2; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
echo "bootstrap: installing the harness and its tools into $VENV" >&2
"${PIP[@]}" install -e ".[dev]"
# Fabric's Python bindings pin packages that do not build on Python 3.11
# (fabric-sdk-py: pysha3, an old requests; the official protos: protobuf<6).
# They work without those pins, so they are installed without dependencies;
# what they really need is in pyproject.toml.
"${PIP[@]}" install --no-deps -r requirements-nodeps.txt
# The Solidity compiler (npm solc) and Anvil (npm @foundry-rs/anvil) for the Ethereum
# tests; without npm those tests skip with a reason.
if command -v npm >/dev/null; then
  if [ ! -d contracts/node_modules ] || [ contracts/package-lock.json -nt contracts/node_modules ]; then
    echo "bootstrap: installing contracts/ npm packages" >&2
    npm ci --prefix contracts --no-audit --no-fund --loglevel=error \
      || echo "bootstrap: npm ci in contracts/ failed; contract and Anvil tests will skip" >&2
  fi
else
  echo "bootstrap: npm not found; contract rebuild and Anvil tests will skip" >&2
fi
touch "$VENV/.installed"
