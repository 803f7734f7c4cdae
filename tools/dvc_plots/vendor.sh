#!/usr/bin/env bash
# Writes offline_template.html: DVC's plots page with Vega, Vega-Lite and Vega-Embed inlined (from
# the npm registry, pinned below), so `dvc plots show` renders with no network. .dvc/config names
# it as plots.html_template. Run again only to change the pinned versions.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
for package in vega@5.33.1 vega-lite@5.23.0 vega-embed@6.29.0; do
  npm pack --loglevel=error "$package" >/dev/null
done
for archive in *.tgz; do mkdir "${archive%.tgz}"; tar xzf "$archive" -C "${archive%.tgz}" --strip-components 1; done
{
  cat <<'HEAD'
<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>emoscan: DVC plots</title>
    <!-- Vega 5.33.1, Vega-Lite 5.23.0, Vega-Embed 6.29.0 (BSD-3-Clause, the Vega project) inlined
         by tools/dvc_plots/vendor.sh: the page needs no network. -->
HEAD
  for file in vega-5.33.1/build/vega.min.js vega-lite-5.23.0/build/vega-lite.min.js vega-embed-6.29.0/build/vega-embed.min.js; do
    printf '    <script>\n'
    # a literal "</script" inside the code would end the element early
    sed 's#</script#<\\/script#g' "$file"
    printf '\n    </script>\n'
  done
  cat <<'TAIL'
    <style>
        body { font-family: sans-serif; margin: 1.5em; }
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    <h1>emoscan pipeline plots</h1>
    {plot_divs}
</body>
</html>
TAIL
} > "$here/offline_template.html"
echo "wrote $here/offline_template.html ($(wc -c < "$here/offline_template.html") bytes)"
