#!/usr/bin/env bash
# Installs every Debian package capgate needs to build, test, fuzz and benchmark.
#   scripts/install-deps.sh                     install whatever is missing
#   scripts/install-deps.sh --check-or-install  same, silent when nothing is missing
# The list below is the whole set: nothing else is installed by hand.
set -euo pipefail

packages=(
  # build + runtime
  build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev libyaml-dev
  libjansson-dev libsqlite3-dev libssl-dev
  # MCP across instances (CAPGATE_REDIS_URL): the Redis client
  libhiredis-dev
  # raw upstream formats (outputRawFormat): XML/HTML, Avro, Markdown, CSV
  libxml2-dev libavro-dev libmd4c-dev libcsv-dev
  # script steps: duktape-dev (its duktape.c is built in, src/engine/script_duktape.c), the
  # sandbox (libseccomp), Python (python3 and its seccomp binding)
  duktape-dev libseccomp-dev python3 python3-seccomp
  # tests, fuzzing, benchmarks
  libcmocka-dev clang libclang-rt-14-dev valgrind jq curl sqlite3 wrk nginx-light
  redis-server
  nodejs npm
  # make format / format-check (.clang-format is written for version 14)
  clang-format-14
  # the console and studio pages in a real browser (driven by puppeteer-core from npm)
  chromium
)

missing=()
for p in "${packages[@]}"; do
  # nodejs may come from NodeSource with npm bundled: accept working commands too.
  case "$p" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
