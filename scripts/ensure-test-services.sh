#!/usr/bin/env bash
# Make sure the services the test suite needs are present, installing them from Debian when run as root:
#   - Chromium at /usr/bin/chromium (Playwright browser tests) and a CJK font (Chinese labels in screenshots)
#   - PostgreSQL accepting password-less TCP logins as `postgres` on 127.0.0.1:5432
#     (skipped when TESSERA_TEST_PG_URL points the tests at another server).
# Idempotent: when everything is already there it only checks and prints one line per item.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
PG_WAIT_SECONDS=30
APT_PACKAGES_BROWSER=(chromium fonts-wqy-microhei fonts-noto-cjk)
APT_PACKAGES_FONTS=(fonts-wqy-microhei fonts-noto-cjk)

say() { echo "ensure-test-services: $*"; }
die() {
    echo "ensure-test-services: ERROR: $*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

APT_UPDATED=0
# apt_install WHY PKG...: install Debian packages as root, or tell a non-root user what to run.
apt_install() {
    local why=$1
    shift
    if ! is_root; then
        die "$why. Run as root: sudo apt-get update && sudo apt-get install -y $*   (then re-run this command)"
    fi
    have apt-get || die "$why, and apt-get is not available: install $* with your package manager"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" -eq 0 ]; then
        apt-get update -q >/dev/null
        APT_UPDATED=1
    fi
    apt-get install -y -q "$@" >/dev/null
}

# --- Chromium and CJK fonts ------------------------------------------------------------------
if [ -x /usr/bin/chromium ]; then
    say "chromium: present ($(/usr/bin/chromium --version 2>/dev/null | head -1 || echo /usr/bin/chromium))"
else
    apt_install "/usr/bin/chromium is missing (needed for the browser tests)" "${APT_PACKAGES_BROWSER[@]}"
    [ -x /usr/bin/chromium ] || die "apt-get installed chromium but /usr/bin/chromium is still missing"
    say "chromium: installed $(/usr/bin/chromium --version 2>/dev/null | head -1) and CJK fonts from Debian"
fi

cjk_fonts() { have fc-list && fc-list :lang=zh family 2>/dev/null | head -1; }
font=$(cjk_fonts || true)
if [ -n "$font" ]; then
    say "fonts: CJK font present (${font%%,*})"
else
    apt_install "no CJK font is installed (fc-list :lang=zh is empty)" "${APT_PACKAGES_FONTS[@]}"
    font=$(cjk_fonts || true)
    [ -n "$font" ] || die "installed ${APT_PACKAGES_FONTS[*]} but fc-list :lang=zh is still empty"
    say "fonts: installed ${APT_PACKAGES_FONTS[*]} (${font%%,*})"
fi

# --- PostgreSQL ------------------------------------------------------------------------------
pg_ready() { # without pg_isready (no postgresql-client), fall back to "is the port open"
    if have pg_isready; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 1 >/dev/null 2>&1
    else
        timeout 2 bash -c "exec 3<>/dev/tcp/$PG_HOST/$PG_PORT" >/dev/null 2>&1
    fi
}
pg_wait() { # pg_wait CHECK-COMMAND...: retry for up to PG_WAIT_SECONDS
    local i
    for ((i = 0; i < PG_WAIT_SECONDS; i++)); do
        "$@" && return 0
        sleep 1
    done
    return 1
}
pg_login_ok() { # postgres can log in over TCP without a password (-w: never prompt)
    PGPASSWORD='' PGCONNECT_TIMEOUT=5 psql -w -X -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
        -Atc 'select 1' >/dev/null 2>&1
}
pg_cluster_version() { # first Debian cluster named "main", e.g. "15"
    local v
    v=$(ls /etc/postgresql 2>/dev/null | head -1 || true)
    if [ -n "$v" ] && [ -d "/etc/postgresql/$v/main" ]; then echo "$v"; fi
}
pg_allow_trust() { # put password-less TCP login from localhost first in pg_hba.conf and reload
    local ver=$1 hba="/etc/postgresql/$1/main/pg_hba.conf" tmp
    is_root || die "postgres cannot log in without a password over TCP on $PG_HOST:$PG_PORT. Add these lines" \
        "at the top of $hba and reload PostgreSQL (as root):" \
        $'\n  host all all 127.0.0.1/32 trust\n  host all all ::1/128 trust'
    tmp=$(mktemp)
    {
        echo "# Added by Tessera scripts/ensure-test-services.sh: the test suite logs in as postgres without a password"
        echo "host    all    all    127.0.0.1/32    trust"
        echo "host    all    all    ::1/128         trust"
        cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba" # keep the file's owner and mode
    rm -f "$tmp"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
}
pg_start() {
    local ver=$1 out
    # "already running" is fine (e.g. the Debian package's postinst started it); anything else is an error
    if ! out=$(pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>&1) &&
        ! grep -qi 'already running' <<<"$out"; then
        echo "$out" >&2
        is_root || die "could not start PostgreSQL $ver/main. Run as root:" \
            "sudo pg_ctlcluster --skip-systemctl-redirect $ver main start"
        die "could not start PostgreSQL $ver/main (see /var/log/postgresql/postgresql-$ver-main.log)"
    fi
}

if [ -n "${TESSERA_TEST_PG_URL:-}" ]; then
    if have pg_isready; then
        pg_wait pg_isready -q -d "$TESSERA_TEST_PG_URL" -t 1 ||
            die "TESSERA_TEST_PG_URL is set but that server did not accept connections within ${PG_WAIT_SECONDS}s"
        say "postgres: using TESSERA_TEST_PG_URL (server is accepting connections; local checks skipped)"
    else
        say "postgres: using TESSERA_TEST_PG_URL (local checks skipped)"
    fi
    exit 0
fi

did="already accepting connections"
if ! pg_ready; then
    ver=$(pg_cluster_version)
    if [ -z "$ver" ]; then
        if have pg_ctlcluster && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
            die "PostgreSQL is installed but has no cluster in /etc/postgresql. Create one as root:" \
                "sudo pg_createcluster --start \$(ls /usr/lib/postgresql | sort -V | tail -1) main"
        fi
        apt_install "PostgreSQL is not installed (needed for the postgres tests)" postgresql
        ver=$(pg_cluster_version)
        [ -n "$ver" ] || die "installed postgresql but found no cluster in /etc/postgresql"
        did="installed PostgreSQL $ver from Debian"
    else
        did="started cluster $ver/main"
    fi
    pg_start "$ver"
    pg_wait pg_ready || die "PostgreSQL $ver/main did not accept connections on $PG_HOST:$PG_PORT" \
        "within ${PG_WAIT_SECONDS}s (see /var/log/postgresql/postgresql-$ver-main.log)"
fi

if ! have psql; then
    say "postgres: $did ($PG_HOST:$PG_PORT; psql not installed, password-less login not checked)"
    exit 0
fi
if ! pg_login_ok; then
    ver=$(pg_cluster_version)
    [ -n "$ver" ] || die "postgres cannot log in without a password over TCP on $PG_HOST:$PG_PORT," \
        "and no local cluster config was found; set TESSERA_TEST_PG_URL to a server the tests can use"
    pg_allow_trust "$ver"
    pg_wait pg_login_ok || die "postgres still cannot log in without a password after editing" \
        "/etc/postgresql/$ver/main/pg_hba.conf"
    did="$did; enabled password-less localhost logins in /etc/postgresql/$ver/main/pg_hba.conf"
fi
say "postgres: $did ($PG_HOST:$PG_PORT, login as postgres without password OK)"
