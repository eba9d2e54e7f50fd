#!/usr/bin/env bash
# Copies lace's build dependencies from this Debian machine into one folder, for building lace on a
# machine that has a LibTorch but not Debian's packages (the lent GPU machine: nothing can be installed
# there). CLI11, nlohmann_json, spdlog (with fmt) and stb are used header-only; GoogleTest travels as
# source and cuda_check.sh builds it there. The folder holds CMake package files that point at the copies.
#
# Usage: scripts/device/pack_build_deps.sh DIR     (about 6 MB; keep DIR out of git, e.g. .devcarry/deps)
set -euo pipefail
dir=${1:?usage: pack_build_deps.sh DIR}
rm -rf "$dir" && mkdir -p "$dir/include/stb" "$dir/cmake" "$dir/src"
for d in CLI nlohmann spdlog; do
  [ -d "/usr/include/$d" ] || { echo "pack_build_deps: /usr/include/$d missing (run scripts/bootstrap.sh first)" >&2; exit 1; }
  cp -r "/usr/include/$d" "$dir/include/"
done
cp /usr/include/stb/stb_image_write.h "$dir/include/stb/"
# Debian's spdlog uses the system's fmt (its tweakme.h defines SPDLOG_FMT_EXTERNAL). A CUDA LibTorch ships
# its own, newer fmt among its headers, which comes first on the include path and which spdlog 1.10 does
# not compile against. So this copy uses Debian's fmt as spdlog's bundled fmt (spdlog/fmt/bundled, found
# only through spdlog's own includes) and no longer asks for an external one.
cp -r /usr/include/fmt "$dir/include/spdlog/fmt/bundled"
sed -i 's|^#define SPDLOG_FMT_EXTERNAL.*|// SPDLOG_FMT_EXTERNAL: off in this copy (pack_build_deps.sh)|' "$dir/include/spdlog/tweakme.h"
grep -q "^#define SPDLOG_FMT_EXTERNAL" "$dir/include/spdlog/tweakme.h" && { echo "pack_build_deps: could not switch spdlog to its bundled fmt" >&2; exit 1; }
cp -r /usr/src/googletest "$dir/src/googletest"
rm -rf "$dir/src/googletest/googlemock/docs" "$dir/src/googletest/googletest/docs" "$dir/src/googletest/docs"

# Package files: INTERFACE targets under the names lace's CMakeLists.txt asks for.
# header_package NAME TARGET [DEFINES]: NAME/Config.cmake declaring TARGET over the copied headers
header_package() {
  cat > "$dir/cmake/$1Config.cmake" <<CMAKE
if(NOT TARGET $2)
  add_library($2 INTERFACE IMPORTED)
  set_target_properties($2 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "\${CMAKE_CURRENT_LIST_DIR}/../include"
                        INTERFACE_COMPILE_DEFINITIONS "${3:-}")
endif()
CMAKE
}
header_package CLI11 CLI11::CLI11
header_package nlohmann_json nlohmann_json::nlohmann_json
header_package spdlog spdlog::spdlog SPDLOG_HEADER_ONLY  # with its bundled fmt (above) fmt is header-only too
version=$(grep -rhs "define NLOHMANN_JSON_VERSION_MAJOR" "$dir/include/nlohmann" | head -1 | awk '{print $3}')
cat > "$dir/cmake/nlohmann_jsonConfigVersion.cmake" <<CMAKE
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION_MAJOR EQUAL "$version")
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
CMAKE
du -sh "$dir"
