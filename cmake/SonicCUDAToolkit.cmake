# sonic_find_cuda_toolkit(): find_package(CUDAToolkit QUIET), working around CMake 3.25's module.
#
# Debian 12's CMake 3.25.1 FindCUDAToolkit.cmake marks CUDA::nvToolsExt deprecated with
# set_property(TARGET CUDA::nvToolsExt ...) whenever the project's CMAKE_MINIMUM_REQUIRED_VERSION
# is 3.25 or more, without checking that the target exists. CUDA 13 no longer ships nvToolsExt,
# so configure stops inside the module ("set_property could not find TARGET CUDA::nvToolsExt").
# Later CMake releases guard the call with if(TARGET ...). Here the variable reads 3.24 while the
# module runs: that branch only sets the deprecation message, and the variable affects nothing else (the
# policies come from cmake_minimum_required(), not from the variable). A macro, so the module's
# results (CUDAToolkit_FOUND, CUDAToolkit_LIBRARY_ROOT, ...) land in the caller's scope as they
# would from a plain find_package; its imported targets belong to the caller's directory.
macro(sonic_find_cuda_toolkit)
  set(_sonic_minimum_required_version "${CMAKE_MINIMUM_REQUIRED_VERSION}")
  if(CMAKE_MINIMUM_REQUIRED_VERSION VERSION_GREATER_EQUAL 3.25)
    set(CMAKE_MINIMUM_REQUIRED_VERSION 3.24)
  endif()
  find_package(CUDAToolkit QUIET)
  set(CMAKE_MINIMUM_REQUIRED_VERSION "${_sonic_minimum_required_version}")
  unset(_sonic_minimum_required_version)
endmacro()
