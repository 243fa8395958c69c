# cmake/install.cmake - what `cmake --install` puts under the prefix:
#   include/ringo.h, include/ringo/*.h   the public headers (ringo/pg.h only when built)
#   lib/libringo.so.1 (+ .so), libringo.a the shared library (public API only, ringo.map)
#                                        and the static one (no mimalloc in either)
#   lib/pkgconfig/ringo.pc               pkg-config: the shared library (Requires.private
#                                        and Libs.private for a fully static link)
#   lib/pkgconfig/ringo-static.pc        libringo.a with its dependencies' shared libraries
#   lib/cmake/ringo/                     find_package(ringo): ringo::ringo (shared),
#                                        ringo::ringo_static
#   bin/ringo                            the demo server
#   share/ringo/static/                  its files (the /static/ mount)
#   share/doc/ringo/                     README, docs/, the deployment examples
include(CMakePackageConfigHelpers)

set(RINGO_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ringo)
set(RINGO_PCDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES ${CMAKE_SOURCE_DIR}/include/ringo.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
file(GLOB RINGO_PUBLIC_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/include/ringo/*.h)
if(NOT LIBPQ_FOUND) # no PostgreSQL module in these libraries: no header for it
    list(FILTER RINGO_PUBLIC_HEADERS EXCLUDE REGEX "/pg\\.h$")
endif()
install(FILES ${RINGO_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ringo)

install(TARGETS ringo_shared ringo_static EXPORT ringoTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT ringoTargets NAMESPACE ringo:: DESTINATION ${RINGO_CMAKEDIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/ringoConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/ringoConfig.cmake
                              INSTALL_DESTINATION ${RINGO_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ringoConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ringoConfig.cmake ${CMAKE_BINARY_DIR}/ringoConfigVersion.cmake
        DESTINATION ${RINGO_CMAKEDIR})

# ringo.pc finds the prefix from its own place (${pcfiledir}), so that
# `cmake --install build --prefix P` works whatever prefix was configured.
file(RELATIVE_PATH RINGO_PC_TO_PREFIX /x/${RINGO_PCDIR} /x)
string(REGEX REPLACE "/$" "" RINGO_PC_TO_PREFIX "${RINGO_PC_TO_PREFIX}")
string(STRIP "${RINGO_PC_REQUIRES_PRIVATE}" RINGO_PC_REQUIRES_PRIVATE)
foreach(pc ringo ringo-static)
    configure_file(${CMAKE_SOURCE_DIR}/cmake/${pc}.pc.in ${CMAKE_BINARY_DIR}/${pc}.pc @ONLY)
    install(FILES ${CMAKE_BINARY_DIR}/${pc}.pc DESTINATION ${RINGO_PCDIR})
endforeach()

install(TARGETS ringo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The demo's /static/ mount and /async/file: it looks here first (examples/demo.c).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/static DESTINATION ${CMAKE_INSTALL_DATADIR}/ringo)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB RINGO_DOCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md ${CMAKE_SOURCE_DIR}/docs/*.png)
install(FILES ${RINGO_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
foreach(dir seccomp kubernetes systemd)
    if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/examples/${dir})
        install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/${dir}
                DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
    endif()
endforeach()
