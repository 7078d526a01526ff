#!/bin/sh
# Runs inside a pod's network namespace and a private mount namespace (both
# from `ip netns exec`): makes the pod's volumes and image appear at their
# paths, applies the security context, then becomes the container process so
# that signals and the exit status are the container's own.
#   container-init.sh [--bind SRC DST] [--bind-ro SRC DST] [--ro-root]
#                     [--user UID:GID] --cwd DIR -- COMMAND [ARG...]
set -eu
mount --make-rprivate /
ro_root=0 user="" cwd=/
while [ $# -gt 0 ]; do
  case "$1" in
    --bind) mount --bind "$2" "$3"; shift 3 ;;
    --bind-ro) mount --bind "$2" "$3"; mount -o remount,bind,ro "$3"; shift 3 ;;
    --ro-root) ro_root=1; shift ;;
    --user) user="$2"; shift 2 ;;
    --cwd) cwd="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "container-init: unknown option $1" >&2; exit 127 ;;
  esac
done
if [ "$ro_root" = 1 ]; then mount -o remount,bind,ro /; fi
cd "$cwd"
if [ -n "$user" ]; then
  exec setpriv --reuid="${user%%:*}" --regid="${user##*:}" --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"
fi
exec "$@"
