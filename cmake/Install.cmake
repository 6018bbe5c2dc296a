# `cmake --install build --prefix P` installs the library, its headers, the clip tool, a
# CMake package (find_package(clip CONFIG) -> clip::clip, and clip::tokenizer: the tokenizer
# alone, a static library needing neither curl, OpenSSL nor oneDNN) and a pkg-config file (clip.pc);
# `cpack -G DEB` (in the build folder) packs the tool as clip-cpp_<version>_<arch>.deb.
# tests/consumer/ builds a separate project against the installed tree.
include(CMakePackageConfigHelpers)

set(CLIP_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/clip")
install(TARGETS clip clip_tokenizer EXPORT clipTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT dev
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT tool NAMELINK_COMPONENT dev)
install(TARGETS clip_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT tool)
install(DIRECTORY include/clip DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(FILES "${PROJECT_BINARY_DIR}/include/clip/version.h" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/clip"
        COMPONENT dev)
install(EXPORT clipTargets NAMESPACE clip:: DESTINATION "${CLIP_CMAKE_DIR}" COMPONENT dev)
configure_package_config_file(cmake/clipConfig.cmake.in "${PROJECT_BINARY_DIR}/clipConfig.cmake"
                              INSTALL_DESTINATION "${CLIP_CMAKE_DIR}")
# 0.x: a new minor version may change the API.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/clipConfigVersion.cmake" COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/clipConfig.cmake" "${PROJECT_BINARY_DIR}/clipConfigVersion.cmake"
        DESTINATION "${CLIP_CMAKE_DIR}" COMPONENT dev)
# clip.pc finds its prefix relative to itself, so an installed tree can be moved. A static
# libclip needs its dependencies on every link (`pkg-config --libs clip` names them); a
# shared one only for `--static`.
if(BUILD_SHARED_LIBS)
  set(CLIP_PC_REQUIRES Requires.private)
  set(CLIP_PC_LIBS Libs.private)
else()
  set(CLIP_PC_REQUIRES Requires)
  set(CLIP_PC_LIBS Libs)
endif()
file(RELATIVE_PATH CLIP_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" /prefix)
configure_file(cmake/clip.pc.in "${PROJECT_BINARY_DIR}/clip.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/clip.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig" COMPONENT dev)

# The Debian package holds what a user of the tool needs (the clip program, and libclip.so
# in a shared build); its Depends are read off the binaries by dpkg-shlibdeps.
execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE CLIP_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(NOT CLIP_DEB_ARCH)
  set(CLIP_DEB_ARCH amd64)
endif()
set(CPACK_PACKAGE_NAME clip-cpp)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "clip-cpp maintainers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "OpenAI's CLIP in C++: zero-shot image classification and embeddings")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL tool)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME "clip-cpp_${PROJECT_VERSION}_${CLIP_DEB_ARCH}.deb")
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "${CLIP_DEB_ARCH}")
include(CPack)
