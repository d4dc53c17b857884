#!/usr/bin/env bash
# Refreshes the vendored ReDoc (the /api/redoc page) from the npm release: only its standalone
# bundle, unmodified, stored gzipped (gzip -9n: reproducible) because the hub embeds and serves it
# compressed, with its licence files. Run, review the diff, commit.
#
#   crates/hub/assets/vendor/redoc/refresh.sh            # redoc@2, the newest 2.x
#   REDOC_VERSION=2.5.4 crates/hub/assets/vendor/redoc/refresh.sh
set -euo pipefail
cd "$(dirname "$0")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "redoc@${REDOC_VERSION:-2}" >/dev/null && tar xzf redoc-*.tgz)
version="$(node -e "console.log(require('$work/package/package.json').version)")"
gzip -9n -c "$work/package/bundles/redoc.standalone.js" > redoc.standalone.js.gz
cp "$work/package/bundles/redoc.standalone.js.LICENSE.txt" redoc.standalone.js.LICENSE.txt
cp "$work/package/LICENSE" LICENSE
{
    echo "# Vendored ReDoc"
    echo
    echo "The standalone bundle the ReDoc page (\`/api/redoc\`) loads, unmodified, from the npm"
    echo "release (\`refresh.sh\`). The page is ours (\`crates/hub/assets/redoc.html\`)."
    echo
    echo "| Package | Version | Licence | Files |"
    echo "|---|---|---|---|"
    echo "| redoc | $version | MIT | redoc.standalone.js.gz, redoc.standalone.js.LICENSE.txt, LICENSE |"
    echo
    echo "SHA-256 of the release file (what \`gunzip -c\` gives back):"
    echo
    echo '```'
    (cd "$work/package/bundles" && sha256sum redoc.standalone.js)
    echo '```'
} > VERSIONS.md
