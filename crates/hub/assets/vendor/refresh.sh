#!/usr/bin/env bash
# Refreshes the vendored front-end libraries from the npm registry (release files only; no
# build step). The hub embeds whatever is in this folder, so run this, review the diff, commit.
#
#   crates/hub/assets/vendor/refresh.sh            # the pinned versions below
#   UPLOT=1.6.32 HTMX=2.0.11 crates/hub/assets/vendor/refresh.sh
set -euo pipefail
cd "$(dirname "$0")"

UPLOT="${UPLOT:-1.6.32}"
HTMX="${HTMX:-2.0.11}"
HTMX_SSE="${HTMX_SSE:-2.2.4}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() { # package version -> unpacked folder
    (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
    local tarball
    tarball="$(ls "$work"/*.tgz)"
    mkdir -p "$work/$1"
    tar -xzf "$tarball" -C "$work/$1" --strip-components=1
    rm -f "$tarball"
}

fetch uplot "$UPLOT"
fetch htmx.org "$HTMX"
fetch htmx-ext-sse "$HTMX_SSE"

cp "$work/uplot/dist/uPlot.iife.min.js" uPlot.iife.min.js
cp "$work/uplot/dist/uPlot.min.css" uPlot.min.css
cp "$work/uplot/LICENSE" LICENSE.uplot
cp "$work/htmx.org/dist/htmx.min.js" htmx.min.js
cp "$work/htmx.org/LICENSE" LICENSE.htmx
cp "$work/htmx-ext-sse/dist/sse.min.js" htmx-ext-sse.min.js 2>/dev/null || cp "$work/htmx-ext-sse/sse.js" htmx-ext-sse.min.js
if [ -f "$work/htmx-ext-sse/LICENSE" ]; then cp "$work/htmx-ext-sse/LICENSE" LICENSE.htmx-ext-sse; else cp LICENSE.htmx LICENSE.htmx-ext-sse; fi

# package.json's licence field, else the first line of the LICENSE file (htmx-ext-sse has no field).
licence() { node -e "const p=require('$work/$1/package.json'); console.log(p.license || require('fs').readFileSync('$work/$1/LICENSE','utf8').split('\\n')[0].trim())"; }
{
    echo "# Vendored front-end libraries"
    echo
    echo "Fetched from the npm registry by \`refresh.sh\` (release files, unmodified) and embedded in the"
    echo "hub binary; nothing is loaded from the internet at run time."
    echo
    echo "| Package | Version | Licence | Files |"
    echo "|---|---|---|---|"
    echo "| uplot | $UPLOT | $(licence uplot) | uPlot.iife.min.js, uPlot.min.css, LICENSE.uplot |"
    echo "| htmx.org | $HTMX | $(licence htmx.org) | htmx.min.js, LICENSE.htmx |"
    echo "| htmx-ext-sse | $HTMX_SSE | $(licence htmx-ext-sse) | htmx-ext-sse.min.js, LICENSE.htmx-ext-sse |"
    echo
    echo "SHA-256:"
    echo
    echo '```'
    sha256sum uPlot.iife.min.js uPlot.min.css htmx.min.js htmx-ext-sse.min.js
    echo '```'
} > VERSIONS.md
echo "vendored: uplot $UPLOT, htmx.org $HTMX, htmx-ext-sse $HTMX_SSE"
