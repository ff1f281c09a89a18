#!/usr/bin/env bash
# Set up miniature-memory: a virtual environment in .venv with the pinned CPU torch and requirements.txt.
#
# Usage:
#   bash setup.sh            # create/refresh .venv (idempotent: a second run only checks)
#   bash setup.sh --dev      # also the test requirements (pytest, hypothesis)
#   bash setup.sh --here     # install into the current Python instead of .venv
#                            # (automatic inside an active virtualenv or on Colab)
#   bash setup.sh --venv DIR # put the virtual environment somewhere else
#   bash setup.sh --no-browser  # skip the headless Chromium used to render JavaScript pages
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
VENV=".venv"
DEV=0
HERE=0
BROWSER=1
TORCH_PIN="torch==2.13.0"   # never unpinned: a bare 'torch' pulls gigabytes of CUDA packages

while [ $# -gt 0 ]; do
  case "$1" in
    --dev) DEV=1 ;;
    --here) HERE=1 ;;
    --no-browser) BROWSER=0 ;;
    --venv) shift; VENV="${1:?--venv needs a folder}" ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf 'setup: %s\n' "$*"; }

# An active virtualenv (not ours) or Colab: install into the current environment, keeping its torch.
if [ -n "${COLAB_RELEASE_TAG:-}" ] || { [ -n "${VIRTUAL_ENV:-}" ] && [ "$(cd "$VIRTUAL_ENV" 2>/dev/null && pwd)" != "$(pwd)/$VENV" ]; }; then
  HERE=1
fi

if [ "$HERE" = 1 ]; then
  PY="$(command -v python3 || command -v python || true)"
  [ -n "$PY" ] || { echo "setup.sh: no python3 found on PATH" >&2; exit 1; }
  say "installing into the current environment ($PY)"
else
  BASE_PY="$(command -v python3 || true)"
  [ -n "$BASE_PY" ] || { echo "setup.sh: python3 not found; install Python 3.9 or newer" >&2; exit 1; }
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$BASE_PY" -m venv "$VENV" || {
      echo "setup.sh: could not create a virtual environment (on Debian/Ubuntu: apt-get install python3-venv)" >&2
      exit 1; }
  else
    say "using existing virtual environment $VENV"
  fi
  PY="$VENV/bin/python"
fi

"$PY" - <<'EOF' || { echo "setup.sh: Python 3.9 or newer is required" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 9) else 1)
EOF

PIP=("$PY" -m pip --disable-pip-version-check --no-input)

if "$PY" -c "import torch" 2>/dev/null; then
  say "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed; keeping it"
else
  say "installing $TORCH_PIN (CPU build)"
  "${PIP[@]}" install -q "$TORCH_PIN"
fi

REQ="requirements.txt"
[ "$DEV" = 1 ] && REQ="requirements-dev.txt"
say "installing $REQ"
"${PIP[@]}" install -q -r "$REQ"
say "installing the project itself (editable: commands import its packages)"
"${PIP[@]}" install -q --no-deps -e .

# A Chromium for rendering JavaScript pages: the system one if present, else Debian's package (as root with
# apt), else Playwright's own download. Optional: without it, JavaScript pages are skipped with a warning.
find_chromium() { command -v chromium || command -v chromium-browser || command -v google-chrome || true; }
if [ "$BROWSER" = 1 ]; then
  if [ -n "$(find_chromium)" ]; then
    say "browser: $(find_chromium)"
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium (headless rendering of JavaScript pages)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
      say "warning: could not install chromium; JavaScript pages will be skipped"
  else
    say "installing Playwright's Chromium"
    "$PY" -m playwright install chromium ||
      say "warning: no browser installed; JavaScript pages will be skipped (install chromium to render them)"
  fi
fi

"$PY" -c "import numpy, yaml, tqdm, ftfy, datasketch, torch, common, model" || {
  echo "setup.sh: installation finished but imports fail; see the messages above" >&2; exit 1; }
say "done. Python: $PY"
