# The library's folders as layers the build enforces (docs/ARCHITECTURE.md). Each folder
# under src/ compiles as its own object library that sees, on its include path, only the
# folders and public headers it may use: an #include across a forbidden edge is a compile
# error, and a link dependency it does not declare is a link error in the programs that
# link the layer alone (tokenize_demo links core + text only).
#
#   core     <- everything
#   text     core                 ICU, zlib
#   image    core                 libjpeg, giflib, libtiff, libwebp, libdeflate, libheif, lcms2, openjpeg
#   io       core                 zlib, libdeflate, curl, OpenSSL, nlohmann-json
#   runtime  core                 oneDNN, OpenMP
#   model    core io image runtime
#   collection core (public API)  libarchive, OpenSSL, nlohmann-json
#
# clip_layer(NAME SOURCES ... USES folders ... HEADERS public headers ... LINKS libraries ...)
# makes clip_NAME (objects) with include roots build/layers/NAME/{src,include} holding
# links to the allowed folders and headers.
# Warning-free with -Wall -Wextra on g++ 12 and 14 and clang 14 and 19; CI builds keep it so
# with -DCLIP_WERROR=ON (scripts/test.sh, scripts/test_sanitizers.sh).
set(CLIP_WARNINGS -Wall -Wextra $<$<BOOL:${CLIP_WERROR}>:-Werror>)
function(clip_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;USES;HEADERS;LINKS" ${ARGN})
  set(root "${CMAKE_BINARY_DIR}/layers/${name}")
  file(REMOVE_RECURSE "${root}")
  file(MAKE_DIRECTORY "${root}/src" "${root}/include/clip")
  foreach(folder IN LISTS name L_USES)
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/src/${folder}" "${root}/src/${folder}" SYMBOLIC)
  endforeach()
  foreach(header IN ITEMS export.h error.h tensor.h threads.h LISTS L_HEADERS)
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/include/clip/${header}" "${root}/include/clip/${header}" SYMBOLIC)
  endforeach()
  file(CREATE_LINK "${PROJECT_BINARY_DIR}/include/clip/version.h" "${root}/include/clip/version.h" SYMBOLIC)
  add_library(clip_${name} OBJECT ${L_SOURCES})
  set_target_properties(clip_${name} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
                                                POSITION_INDEPENDENT_CODE "${CLIP_PIC}")
  target_include_directories(clip_${name} PRIVATE "${root}/src" "${root}/include")
  target_link_libraries(clip_${name} PRIVATE ${L_LINKS})
  target_compile_options(clip_${name} PRIVATE ${CLIP_WARNINGS})
endfunction()
