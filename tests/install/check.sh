#!/bin/sh
# check-install: `make install` into a temporary PREFIX (through DESTDIR, as
# a packager does), then a small program built against the installed copy
# with pkg-config --static, run; the installed `vellum` runs too.
# usage: sh tests/install/check.sh MAKE
set -eu
MAKE=${1:-make}
T=$(mktemp -d "${TMPDIR:-/tmp}/vellum-install.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
PREFIX=/opt/vellum-test
$MAKE --no-print-directory install PREFIX=$PREFIX DESTDIR="$T/root" >"$T/log" 2>&1 ||
    { cat "$T/log"; echo "FAIL install: make install failed"; exit 1; }
R=$T/root$PREFIX
for f in lib/libvellum.a include/vellum.h include/vellum/aead.h include/vellum/version.h \
    lib/pkgconfig/vellum.pc; do
    [ -f "$R/$f" ] || { echo "FAIL install: $f not installed"; exit 1; }
done
# The .pc files name the final PREFIX; point pkg-config at the staged copy.
export PKG_CONFIG_PATH="$R/lib/pkgconfig"
flags=$(pkg-config --define-variable=prefix="$R" --static --cflags --libs vellum)
echo "pkg-config --static --cflags --libs vellum: $flags"
${CC:-cc} -std=c11 -Wall -Wextra -Werror tests/install/smoke.c $flags -o "$T/smoke"
# README.md's C example, as a newcomer would build it.
${CC:-cc} -std=c11 -Wall -Wextra -Werror tests/install/readme_example.c $flags -o "$T/example"
"$T/example"
"$T/smoke"
# README.md's C example, as a newcomer would build it.
${CC:-cc} -std=c11 -Wall -Wextra -Werror tests/install/readme_example.c $flags -o "$T/example"
"$T/example"
if [ -x "$R/bin/vellum" ]; then
    "$R/bin/vellum" info | head -n 1
    for x in sqlite json kmip; do
        [ -f "$R/lib/pkgconfig/vellum-$x.pc" ] &&
            echo "vellum-$x: $(pkg-config --define-variable=prefix="$R" --static --libs vellum-$x)"
    done
fi
echo "install: OK"
