#!/usr/bin/env bash
# Builds worker/decoder/build/h264.wasm: FFmpeg's H.264 decoder (LGPL, nothing
# else of FFmpeg) plus h264-glue.c, compiled to a standalone wasm32-wasi reactor
# with Debian's clang/lld/wasi-libc and shrunk by binaryen's wasm-opt.
# The FFmpeg source is the tarball shipped inside the npm package libav.js
# (pinned version and sha256 below). Work files go to .cache/decoder/.
# Usage: bash worker/decoder/build.sh   (about a minute or two on two cores)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$root/.cache/decoder"
out="$here/build"

LIBAVJS_VERSION=6.10.9
LIBAVJS_SHA256=73f7a945d637c564edb050df7fd329845d4a9f556c6ce019bbcab7d778f16b97
FFMPEG=ffmpeg-9.0
TOOLS=(clang-14 wasm-ld-14 llvm-ar-14 llvm-ranlib-14 llvm-nm-14 wasm-opt)
PACKAGES=(clang-14 lld-14 llvm-14 wasi-libc libclang-rt-14-dev-wasm32 binaryen)
WASI_LIBC=/usr/lib/wasm32-wasi/libc.a
WASM_BUILTINS=/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a

toolchain_ready() {
  for tool in "${TOOLS[@]}"; do command -v "$tool" >/dev/null || return 1; done
  [ -f "$WASI_LIBC" ] && [ -f "$WASM_BUILTINS" ]
}

if ! toolchain_ready; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "decoder: installing the wasm toolchain (Debian: ${PACKAGES[*]})"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
  else
    echo "decoder: the wasm toolchain is missing; install the Debian packages: sudo apt-get install ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

# The source: npm pack libav.js (85 MB, once), check it, take only FFmpeg's tarball.
mkdir -p "$cache"
tgz="$cache/libav.js-$LIBAVJS_VERSION.tgz"
if [ ! -f "$tgz" ] || ! echo "$LIBAVJS_SHA256  $tgz" | sha256sum -c --status; then
  echo "decoder: fetching libav.js@$LIBAVJS_VERSION (FFmpeg source) with npm pack"
  rm -f "$tgz"
  (cd "$cache" && npm pack "libav.js@$LIBAVJS_VERSION" --silent >/dev/null)
  if ! echo "$LIBAVJS_SHA256  $tgz" | sha256sum -c --status; then
    echo "decoder: $tgz does not have the expected sha256 $LIBAVJS_SHA256" >&2
    exit 1
  fi
fi
src="$cache/$FFMPEG"
if [ ! -f "$src/configure" ]; then
  echo "decoder: extracting $FFMPEG"
  rm -rf "$src" && mkdir -p "$src"
  tar -xzOf "$tgz" "package/sources/$FFMPEG.tar.xz" | tar -xJ -C "$cache"
fi

# Configure once per set of flags: a changed line below rebuilds from scratch.
CFLAGS="--target=wasm32-wasi -msimd128 -O3 -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS"
LDFLAGS="--target=wasm32-wasi -lwasi-emulated-signal -lwasi-emulated-process-clocks"
configure=(
  --prefix="$cache/prefix" --enable-cross-compile --target-os=none --arch=wasm32
  --cc=clang-14 --ar=llvm-ar-14 --ranlib=llvm-ranlib-14 --nm=llvm-nm-14
  --extra-cflags="$CFLAGS" --extra-ldflags="$LDFLAGS"
  --disable-everything --enable-decoder=h264 --enable-parser=h264
  --disable-programs --disable-doc --disable-network --disable-autodetect
  --disable-avdevice --disable-avformat --disable-avfilter --disable-swscale --disable-swresample
  --disable-pthreads --disable-w32threads --disable-os2threads --disable-asm --disable-inline-asm
  --disable-debug --disable-runtime-cpudetect
  # FFmpeg's allocations go through h264-glue.c, which notes when the capped heap is full.
  --malloc-prefix=glue_
)
objdir="$cache/objs"
stamp="$objdir/.configured"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${configure[*]}" ]; then
  echo "decoder: configuring FFmpeg (H.264 decoder only)"
  rm -rf "$objdir" && mkdir -p "$objdir"
  (cd "$objdir" && "$src/configure" "${configure[@]}" >configure.log 2>&1) || {
    tail -30 "$objdir/ffbuild/config.log" >&2
    echo "decoder: FFmpeg's configure failed (log: $objdir/ffbuild/config.log)" >&2
    exit 1
  }
  echo "${configure[*]}" >"$stamp"
fi
if grep -q "^CONFIG_GPL=yes" "$objdir/ffbuild/config.mak"; then
  echo "decoder: FFmpeg was configured with GPL parts; this build must stay LGPL" >&2
  exit 1
fi

echo "decoder: compiling libavcodec and libavutil ($(nproc) jobs)"
make -C "$objdir" -j"$(nproc)" libavcodec/libavcodec.a libavutil/libavutil.a >"$objdir/make.log" 2>&1 || {
  tail -30 "$objdir/make.log" >&2
  exit 1
}

echo "decoder: linking the reactor"
mkdir -p "$out"
# -mexec-model=reactor: no main; the host calls _initialize once, then the exports.
# Only h264_* are exported (export_name in the glue); wasm-opt drops the rest.
# At most 64 MiB of memory (one 4K keyframe takes ~44 MiB): past it malloc fails
# and the request gets a 503, where an unbounded heap would take the whole
# isolate (128 MB, shared with onnxruntime) down.
# The link line carries no -O: with one, clang runs wasm-opt itself, without SIMD enabled.
clang-14 $CFLAGS -I"$src" -I"$objdir" -c "$here/h264-glue.c" -o "$cache/h264-glue.o"
clang-14 --target=wasm32-wasi -mexec-model=reactor \
  "$cache/h264-glue.o" "$objdir/libavcodec/libavcodec.a" "$objdir/libavutil/libavutil.a" \
  $LDFLAGS -Wl,--gc-sections -Wl,-z,stack-size=1048576 -Wl,--max-memory=67108864 -Wl,--strip-all \
  -o "$cache/h264.unopt.wasm"
wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
  "$cache/h264.unopt.wasm" -o "$out/h264.wasm"
echo "decoder: wrote $out/h264.wasm ($(stat -c %s "$out/h264.wasm") bytes, $(gzip -9c "$out/h264.wasm" | wc -c) gzipped)"
