#!/usr/bin/env bash
# Refreshes the vendored Swagger UI (the /api/docs page) from a swagger-ui release zip: only the two
# files the page loads, unmodified (no source maps, no es-bundle or standalone-preset duplicates),
# stored gzipped (gzip -9n: reproducible) because the hub embeds and serves them compressed.
# By default the zip comes from the utoipa-swagger-ui-vendored crate in the local cargo registry;
# pass another one with SWAGGER_UI_ZIP. Run, review the diff, commit.
#
#   crates/hub/assets/vendor/swagger-ui/refresh.sh
#   SWAGGER_UI_ZIP=~/Downloads/v5.17.14.zip crates/hub/assets/vendor/swagger-ui/refresh.sh
set -euo pipefail
cd "$(dirname "$0")"

zip="${SWAGGER_UI_ZIP:-$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/utoipa-swagger-ui-vendored-*/res/v*.zip | sort -V | tail -n 1)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unzip -q "$zip" -d "$work"
release="$(ls -d "$work"/swagger-ui-*)"
version="${release##*/swagger-ui-}"
source="$(echo "$zip" | sed 's#.*/registry/src/[^/]*/##')"

cp "$release/dist/swagger-ui-bundle.js" "$release/dist/swagger-ui.css" "$work/"
cp "$release/LICENSE" LICENSE
cp "$release/NOTICE" NOTICE

{
    echo "# Vendored Swagger UI"
    echo
    echo "The two release files the API docs page (\`/api/docs\`) loads, unmodified, from the swagger-ui"
    echo "release zip (\`refresh.sh\`; source: \`$source\`). The page itself and its"
    echo "initialiser are ours (\`crates/hub/assets/api-docs.html\`, \`api-docs.js\`)."
    echo
    echo "| Package | Version | Licence | Files |"
    echo "|---|---|---|---|"
    echo "| swagger-ui | $version | $(node -e "console.log(require('$release/package.json').license)" 2>/dev/null || echo Apache-2.0) | swagger-ui-bundle.js.gz, swagger-ui.css.gz, LICENSE, NOTICE |"
    echo
    echo "SHA-256 of the release files (what \`gunzip -c\` gives back):"
    echo
    echo '```'
    (cd "$work" && sha256sum swagger-ui-bundle.js swagger-ui.css)
    echo '```'
} > VERSIONS.md
gzip -9n -c "$work/swagger-ui-bundle.js" > swagger-ui-bundle.js.gz
gzip -9n -c "$work/swagger-ui.css" > swagger-ui.css.gz
echo "vendored: swagger-ui $version"
