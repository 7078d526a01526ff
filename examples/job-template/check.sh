#!/usr/bin/env bash
# CI's check of the job template as a project outside this repository: packs
# Weir (npm pack), installs the tarball into a scratch copy of the template,
# then type-checks, unit-tests with the test driver and builds the job.
# The tarball's runtime dependencies come from the npm cache when the project's
# own install put them there; their install scripts are skipped, since the SDK
# and the test driver do not load the native Kafka client (the image has it).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/node-env.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"
echo "==> npm pack (builds dist/ with type declarations)"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
cp -r examples/job-template "$work/project"
cd "$work/project"
rm -rf node_modules dist
echo "==> install $tarball and the template's dev dependencies"
npm install --no-audit --no-fund --prefer-offline --ignore-scripts --save-dev "$work/$tarball" >/dev/null
npm install --no-audit --no-fund --prefer-offline --ignore-scripts >/dev/null
echo "==> type-check, test, build"
npx tsc -p tsconfig.json --noEmit
node --test 'src/**/*.test.ts'
npx tsc -p tsconfig.json
test -f dist/job.js
echo "job template: installed from the tarball, type-checked, tested and built"
