# ccache: sloppiness settings make it cache translation units that use the precompiled header.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      ${CCACHE_PROGRAM})
endif()

add_library(behemoth_warnings INTERFACE)
target_compile_options(behemoth_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
