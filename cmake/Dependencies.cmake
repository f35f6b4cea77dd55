find_package(Torch REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)

# c10d's gloo process group is only declared when USE_C10D_GLOO is defined.
add_library(behemoth_torch INTERFACE)
target_link_libraries(behemoth_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(behemoth_torch INTERFACE ${TORCH_INCLUDE_DIRS})
target_compile_definitions(behemoth_torch INTERFACE USE_C10D_GLOO)

# NCCL process groups only where LibTorch itself was built with CUDA (the GPU machine).
set(BEHEMOTH_HAVE_CUDA OFF)
if(TORCH_CUDA_LIBRARIES OR CUDA_FOUND OR CUDAToolkit_FOUND)
  if(EXISTS "${CUDA_TOOLKIT_ROOT_DIR}" OR CUDAToolkit_FOUND)
    set(BEHEMOTH_HAVE_CUDA ON)
    target_compile_definitions(behemoth_torch INTERFACE USE_C10D_NCCL BEHEMOTH_WITH_CUDA)
  endif()
endif()
message(STATUS "Behemoth: LibTorch ${Torch_VERSION}, CUDA engine paths: ${BEHEMOTH_HAVE_CUDA}")

set(BEHEMOTH_HAVE_QT OFF)
if(BEHEMOTH_BUILD_STUDIO)
  find_package(Qt6 QUIET COMPONENTS Widgets PrintSupport Svg Test)
  find_library(QCUSTOMPLOT_LIBRARY NAMES QCustomPlotQt6)
  if(Qt6_FOUND AND QCUSTOMPLOT_LIBRARY)
    set(BEHEMOTH_HAVE_QT ON)
  endif()
endif()
message(STATUS "Behemoth: Studio (Qt 6 + QCustomPlot): ${BEHEMOTH_HAVE_QT}")

# Checkpoint checksums: xxHash (Debian's libxxhash-dev).
find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
find_library(XXHASH_LIBRARY NAMES xxhash REQUIRED)
add_library(behemoth_xxhash INTERFACE)
target_include_directories(behemoth_xxhash INTERFACE ${XXHASH_INCLUDE_DIR})
target_link_libraries(behemoth_xxhash INTERFACE ${XXHASH_LIBRARY})

# `behemoth serve`'s HTTP server: Debian's libcpp-httplib-dev, a compiled library whose pkg-config
# file carries the feature macros (TLS, compression) its header must be read with.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED cpp-httplib)
