#!/usr/bin/env bash
# A GPU job's runner copies the tracked files and carries the named ignored ones (.gpu, .whl) within
# 64 MiB in all; the committed networks (models/**/*.keras, *.onnx: about 69 MB) leave no room for
# the split arrays. `hide` takes them out of the index and excludes them (the files stay on disk,
# nothing is committed); `restore` puts them back exactly as they were.
#   tools/gpu/device_copy.sh hide      # before the device call
#   tools/gpu/device_copy.sh restore   # after it (and before any commit)
set -euo pipefail
cd "$(dirname "$0")/../.."
EXCLUDE=$(git rev-parse --git-path info/exclude)
BEGIN="# emoscan device_copy.sh: hidden from the device copy"
END="# emoscan device_copy.sh: end"

hidden() { [[ -f "$EXCLUDE" ]] && sed -n "/^$BEGIN\$/,/^$END\$/p" "$EXCLUDE" | sed '1d;$d'; }

case "${1:-}" in
hide)
    if [[ -n "$(hidden)" ]]; then echo "already hidden (run restore first):"; hidden; exit 1; fi
    mapfile -t files < <(git ls-files 'models/*.keras' 'models/*.onnx')
    if (( ${#files[@]} == 0 )); then echo "no tracked model files"; exit 0; fi
    git rm -q --cached -- "${files[@]}"
    mkdir -p "$(dirname "$EXCLUDE")"
    { echo "$BEGIN"; printf '/%s\n' "${files[@]}"; echo "$END"; } >> "$EXCLUDE"
    echo "hid ${#files[@]} files ($(du -cb "${files[@]}" | tail -1 | cut -f1) bytes) from the index; restore with: $0 restore"
    ;;
restore)
    mapfile -t files < <(hidden | sed 's#^/##')
    if (( ${#files[@]} == 0 )); then echo "nothing hidden"; exit 0; fi
    git reset -q HEAD -- "${files[@]}"
    sed -i "/^$BEGIN\$/,/^$END\$/d" "$EXCLUDE"
    echo "restored ${#files[@]} files to the index"
    ;;
*)
    echo "usage: $0 hide|restore" >&2; exit 2 ;;
esac
