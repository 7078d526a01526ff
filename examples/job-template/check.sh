#!/usr/bin/env bash
# CI's check of the job template as a project outside this repository: packs
# the SDK package (packages/sdk, npm pack), installs the tarball into a scratch
# copy of the template with a plain npm install (the SDK has no dependencies,
# so no install script runs), then type-checks, unit-tests with the test
# driver and builds the job.
# Usage: check.sh [--keep DIR]   (--keep leaves the built project in DIR, for
# scripts/build-image.sh to build the job's image from it)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/node-env.sh"
keep=""
if [[ ${1:-} == --keep ]]; then keep="${2:?--keep needs a directory}"; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"
echo "==> npm pack packages/sdk (builds its dist/ with type declarations)"
# One pack at a time: npm test runs this check twice at once (here and in build-image.sh's template image),
# and both would compile into packages/sdk/dist.
mkdir -p "$root/.weir"
tarball="$(flock "$root/.weir/sdk-pack.lock" npm pack --silent --pack-destination "$work" ./packages/sdk | tail -n 1)"
contents="$(tar -tzf "$work/$tarball")"
grep -qx 'package/dist/sdk/index.d.ts' <<<"$contents" || { echo "the SDK tarball has no type declarations" >&2; exit 1; }
cp -r examples/job-template "$work/project"
cd "$work/project"
rm -rf node_modules dist
echo "==> npm install $tarball and the template's dev dependencies (install scripts allowed)"
npm install --no-audit --no-fund --prefer-offline --save "$work/$tarball" >/dev/null
npm install --no-audit --no-fund --prefer-offline >/dev/null
echo "    node_modules: $(cd node_modules && echo [!@.]* @*/*)"
if [[ -d node_modules/@confluentinc || -d node_modules/lmdb || -d node_modules/@aws-sdk ]]; then
  echo "the SDK package pulled in a native or cloud dependency" >&2
  exit 1
fi
echo "==> type-check, test, build"
npx tsc -p tsconfig.json --noEmit
node --test 'src/**/*.test.ts'
npx tsc -p tsconfig.json
test -f dist/job.js
if [[ -n $keep ]]; then
  rm -rf "$keep" && mkdir -p "$(dirname "$keep")" && cp -r "$work/project" "$keep"
fi
echo "job template: installed @weir-dev/sdk from its tarball, type-checked, tested and built"
