#!/usr/bin/env bash
# Installs the build tree into a scratch prefix and builds the README
# example against it twice, through pkg-config and through CMake's
# find_package(weft), then runs both: the install is what users get.
#   pkgconfig.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
export PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror -o "$scratch/by_pkgconfig" "$src/examples/readme_example.c" \
  $(pkg-config --cflags --libs weft) -Wl,-rpath,"$scratch/prefix/lib"
"$scratch/by_pkgconfig" | grep -q 'consumer: sum 1999000'
mkdir -p "$scratch/cm"
cat > "$scratch/cm/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(readme C)
find_package(weft REQUIRED)
add_executable(readme "$src/examples/readme_example.c")
target_link_libraries(readme weft::weft)
CMAKE
cmake -S "$scratch/cm" -B "$scratch/cm/build" -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/cm/build" >/dev/null
"$scratch/cm/build/readme" | grep -q 'consumer: sum 1999000'
echo "installed weft builds and runs through pkg-config and find_package"
