#!/bin/sh
# Make the image's base (debian:bookworm-slim, the Dockerfile's FROM) from Debian's own packages when no
# image registry is reachable: `mmdebstrap --variant=minbase bookworm` with /usr merged as Debian's images
# have it (else usrmerge pulls in perl) and the slim image's dpkg filters (no manuals, documentation or
# translations), committed into buildah's local storage under the base's name. Does nothing when an image
# of that name is there already. Needs root, buildah and mmdebstrap.
set -eu
BASE=${1:?usage: base-image.sh IMAGE-NAME, as in the Dockerfile FROM line}
if buildah inspect --type image "$BASE" >/dev/null 2>&1; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/groff/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    bookworm "$work/rootfs.tar"
container=$(buildah from scratch)
buildah add --quiet "$container" "$work/rootfs.tar" / >/dev/null
buildah config --cmd bash "$container"
buildah commit --quiet --rm "$container" "$BASE" >/dev/null
echo "made $BASE from Debian's packages (mmdebstrap)"
