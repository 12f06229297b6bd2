# Shared by scripts/serve and scripts/test: make .venv with what the project needs, once.
# Re-installs only when pyproject.toml changes. MOCKGATEWAY_PYTHON picks the interpreter.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
extra="${1:-}"
python="${MOCKGATEWAY_PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "mockgateway needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
  exit 1
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1  # Playwright drives the system's browsers only
stamp="$venv/.installed${extra:+-$extra}"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root${extra:+[$extra]}"
  echo "$want" > "$stamp"
fi
