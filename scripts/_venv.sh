# Sourced by scripts/demo and scripts/test: make .venv and install pointkit into it.
# Usage: ensure_venv [extras]
ensure_venv() {
    local root extras stamp
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    extras="${1:-}"
    VENV="$root/.venv"
    PYTHON_BIN="${PYTHON:-python3}"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating $VENV"
        "$PYTHON_BIN" -m venv "$VENV"
    fi
    # Reinstall only when pyproject.toml changed since the last install with these extras.
    stamp="$VENV/.pointkit-installed${extras:+-$extras}"
    if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
        echo "==> installing pointkit${extras:+[$extras]} into $VENV"
        "$VENV/bin/python" -m pip install -qq --disable-pip-version-check -e "$root${extras:+[$extras]}"
        touch "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}
