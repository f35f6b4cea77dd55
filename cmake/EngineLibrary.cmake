# behemoth_engine_library(NAME DEPS...): a static library of every .cpp under the calling folder,
# except main.cpp files (executables). Globbed with CONFIGURE_DEPENDS so a new file needs no edit.
function(behemoth_engine_library name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  list(FILTER sources EXCLUDE REGEX "/main\\.cpp$")
  if(NOT sources)
    set(sources ${CMAKE_SOURCE_DIR}/cmake/pch/pch.cpp)
  endif()
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC behemoth_torch nlohmann_json::nlohmann_json Threads::Threads ${ARG_DEPS}
                                PRIVATE behemoth_warnings)
  target_precompile_headers(${name} REUSE_FROM behemoth_pch)
endfunction()
