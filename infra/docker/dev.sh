#!/bin/bash
# Entry point of the `dev` image targets: runs a service from its TypeScript sources in watch mode.
#
# The pods keep a read-only root filesystem even in development, so the sources are copied to /tmp/dev
# (an emptyDir in every pod) and run from there; `skaffold dev` syncs edited files into /tmp/dev, and the
# watcher restarts the service. node_modules stays in the image, linked into place.
#
# Usage: dev.sh <folder> <command...>    e.g. dev.sh posts node_modules/.bin/tsx watch posts/src/index.ts
set -euo pipefail
folder="$1"
shift
mkdir -p /tmp/dev
tar -C /app -cf - --exclude=node_modules --exclude=dist --exclude=dist-server tsconfig.base.json common "$folder" | tar -C /tmp/dev -xf -
for modules in /app/node_modules /app/common/node_modules "/app/$folder/node_modules"; do
  if [ -d "$modules" ]; then ln -sfn "$modules" "/tmp/dev/${modules#/app/}"; fi
done
cd /tmp/dev
exec "$@"
