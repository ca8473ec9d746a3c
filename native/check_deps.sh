#!/bin/sh
# Build-time check (called from binding.gyp and the Makefile): the native executor needs oneDNN 2.x
# and nlohmann-json headers. Prints "ok" or fails with the command that installs them.
missing=""
for h in oneapi/dnnl/dnnl.hpp nlohmann/json.hpp; do
  found=""
  for dir in ${TOPSCHED_INCLUDE_DIRS:-} /usr/include /usr/local/include; do
    [ -f "$dir/$h" ] && found=1
  done
  [ -z "$found" ] && missing="$missing $h"
done
if [ -n "$missing" ]; then
  echo "topsched native build: missing headers:$missing" >&2
  echo "install libdnnl-dev and nlohmann-json3-dev: apt-get install libdnnl-dev nlohmann-json3-dev" >&2
  exit 1
fi
lib=""
for f in /usr/lib/*/libdnnl.so /usr/lib/libdnnl.so /usr/local/lib/libdnnl.so /usr/local/lib/*/libdnnl.so; do
  [ -e "$f" ] && lib=1
done
if [ -z "$lib" ]; then
  echo "topsched native build: libdnnl.so not found; install libdnnl-dev: apt-get install libdnnl-dev" >&2
  exit 1
fi
echo ok
