# What `cmake --install` puts in place, for integrators (docs/integrating.md):
#   lib/libliaison.so.MAJOR.MINOR.PATCH, its SONAME link libliaison.so.MAJOR and libliaison.so;
#   include/liaison/liaison.h and include/liaison/version.h (the C API: the only public headers);
#   lib/cmake/liaison/: liaisonConfig.cmake, liaisonConfigVersion.cmake, liaisonTargets*.cmake
#     (find_package(liaison) -> the imported target liaison::liaison);
#   lib/pkgconfig/liaison.pc.
# The C++ headers (client.h, coordinator.h, status.h) are not installed: the C++ classes are not
# exported from libliaison.so (their ABI is that of one compiler and standard library); C++
# programs use the C API, or build liaison from source and link liaison_client statically.
# Included by the top-level CMakeLists.txt after the libraries are defined.
include(CMakePackageConfigHelpers)

set(LIAISON_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/liaison)

install(TARGETS liaison_shared EXPORT liaisonTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/client/include/liaison/liaison.h
              ${PROJECT_BINARY_DIR}/include/liaison/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/liaison)

install(EXPORT liaisonTargets NAMESPACE liaison:: DESTINATION ${LIAISON_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/liaisonConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/liaisonConfig.cmake
                              INSTALL_DESTINATION ${LIAISON_INSTALL_CMAKEDIR})
# One ABI per major version (the SONAME libliaison.so.MAJOR): any 0.x satisfies a request for 0.y, y <= x.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/liaisonConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/liaisonConfig.cmake ${PROJECT_BINARY_DIR}/liaisonConfigVersion.cmake
        DESTINATION ${LIAISON_INSTALL_CMAKEDIR})

# liaison.pc finds its prefix relative to itself (${pcfiledir}), so that `cmake --install
# --prefix DIR` gives a correct file for any DIR.
file(RELATIVE_PATH LIAISON_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" LIAISON_PC_TO_PREFIX "${LIAISON_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/liaison.pc.in ${PROJECT_BINARY_DIR}/liaison.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/liaison.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
