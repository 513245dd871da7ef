#!/usr/bin/env bash
# Builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer and runs the suite
# against it (RXLOOP_ADDON points the loader at this build). Node itself is not instrumented, so
# the ASan runtime is preloaded, and leak detection is off: Node's own allocations at exit would
# drown out the addon's (LeakSanitizer cannot tell them apart in one statically linked binary).
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/asan
mkdir -p "$out"
node_include="$(node -p "require('node:path').join(process.execPath, '..', '..', 'include', 'node')")"
addon_api_include="$(node -p "require('node-addon-api').include_dir")"
# RXLOOP_POLLER=kqueue builds the kqueue poller instead, with the flags of the same switch of
# `npm run build:native` (binding.gyp): RXLOOP_POLLER_CFLAGS, then RXLOOP_POLLER_LIBS.
poller=(native/poller_epoll.cc)
if [[ "${RXLOOP_POLLER:-}" == kqueue ]]; then
  # shellcheck disable=SC2206  # whitespace-separated flags, as a makefile takes them
  poller=(-DRXLOOP_POLLER_KQUEUE -pthread ${RXLOOP_POLLER_CFLAGS:-} native/poller_kqueue.cc
          ${RXLOOP_POLLER_LIBS:-})
fi
${CXX:-g++} -std=c++17 -shared -fPIC -g -O1 -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  -I"$node_include" -I"$addon_api_include" -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS \
  native/addon.cc native/loop.cc native/loop_handoff.cc native/loop_datagrams.cc native/handoff.cc native/datagrams.cc native/sockets.cc "${poller[@]}" \
  -o "$out/rxloop.node"

npm run build --silent
export RXLOOP_ADDON="$PWD/$out/rxloop.node"
export LD_PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
exec npx mocha "$@"
