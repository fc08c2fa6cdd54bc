# Test of sonic_find_cuda_toolkit() (cmake/SonicCUDAToolkit.cmake) against the FindCUDAToolkit
# module as Debian 12's CMake 3.25.1 ships it, whatever this machine's copy holds: run with
#   cmake -DSOURCE_DIR=<repository> -DWORK_DIR=<scratch folder> [-DCUDAToolkit_ROOT=...]
#         [-DGENERATOR=...] -P SonicCUDAToolkit_test.cmake
# It copies ${CMAKE_ROOT}/Modules/FindCUDAToolkit.cmake into WORK_DIR with the nvToolsExt guard
# written back to the stock form (a machine may have patched it), then configures two one-line
# projects that require CMake 3.25 as ours does: a plain find_package(CUDAToolkit) (the control,
# which fails on CUDA 13: it has no nvToolsExt) and sonic_find_cuda_toolkit(), which must succeed.
# Prints "SKIPPED: ..." (CTest's SKIP_REGULAR_EXPRESSION) when no CUDA toolkit is found.
cmake_minimum_required(VERSION 3.25)
foreach(var SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "${var} is not set: see the usage at the top of this file")
  endif()
endforeach()

set(stock_guard "if(CMAKE_MINIMUM_REQUIRED_VERSION VERSION_GREATER_EQUAL 3.25)\n      set_property(TARGET CUDA::nvToolsExt")
file(READ "${CMAKE_ROOT}/Modules/FindCUDAToolkit.cmake" module)
string(REPLACE "if(TARGET CUDA::nvToolsExt AND CMAKE_MINIMUM_REQUIRED_VERSION VERSION_GREATER_EQUAL 3.25)"
               "if(CMAKE_MINIMUM_REQUIRED_VERSION VERSION_GREATER_EQUAL 3.25)" module "${module}")
string(FIND "${module}" "${stock_guard}" stock_at)
if(stock_at EQUAL -1)
  message(STATUS "this CMake's FindCUDAToolkit.cmake has no unguarded nvToolsExt branch: "
                 "testing sonic_find_cuda_toolkit() against it as it is")
endif()
# The copy lives outside ${CMAKE_ROOT}/Modules: its own include of the standard-arguments helper
# must still find CMake's.
string(REPLACE "\${CMAKE_CURRENT_LIST_DIR}/FindPackageHandleStandardArgs.cmake"
               "\${CMAKE_ROOT}/Modules/FindPackageHandleStandardArgs.cmake" module "${module}")
file(REMOVE_RECURSE "${WORK_DIR}")
file(WRITE "${WORK_DIR}/modules/FindCUDAToolkit.cmake" "${module}")

set(generator_args)
if(GENERATOR)
  set(generator_args -G "${GENERATOR}")
endif()
set(root_args)
if(CUDAToolkit_ROOT)
  set(root_args "-DCUDAToolkit_ROOT=${CUDAToolkit_ROOT}")
endif()

# Configures a project whose body is `call`; sets <name>_result and <name>_output.
function(configure_probe name call)
  file(WRITE "${WORK_DIR}/${name}/CMakeLists.txt"
       "cmake_minimum_required(VERSION 3.25)\n"
       "project(${name} LANGUAGES CXX)\n"
       "list(PREPEND CMAKE_MODULE_PATH \"${WORK_DIR}/modules\")\n"
       "include(\"${SOURCE_DIR}/cmake/SonicCUDAToolkit.cmake\")\n"
       "${call}\n"
       "message(STATUS \"CUDAToolkit_FOUND=\${CUDAToolkit_FOUND} \${CUDAToolkit_VERSION}\")\n"
       "if(CUDAToolkit_FOUND AND NOT TARGET CUDA::cudart)\n"
       "  message(FATAL_ERROR \"CUDA::cudart is not visible after ${call}\")\n"
       "endif()\n")
  execute_process(COMMAND "${CMAKE_COMMAND}" ${generator_args} ${root_args}
                          -S "${WORK_DIR}/${name}" -B "${WORK_DIR}/${name}/build"
                  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  set(${name}_result ${result} PARENT_SCOPE)
  set(${name}_output "${output}" PARENT_SCOPE)
endfunction()

configure_probe(plain "find_package(CUDAToolkit QUIET)")
if(plain_result EQUAL 0)
  message(STATUS "control: a plain find_package(CUDAToolkit) configures here (the toolkit ships "
                 "nvToolsExt, or none was found)")
elseif(plain_output MATCHES "could not find TARGET CUDA::nvToolsExt")
  message(STATUS "control: a plain find_package(CUDAToolkit) fails here as on stock Debian 12")
else()
  message(FATAL_ERROR "control: a plain find_package(CUDAToolkit) failed for another reason; "
                      "the test setup is broken:\n${plain_output}")
endif()

configure_probe(sonic "sonic_find_cuda_toolkit()")
if(NOT sonic_result EQUAL 0)
  message(FATAL_ERROR "sonic_find_cuda_toolkit() did not configure:\n${sonic_output}")
endif()
if(sonic_output MATCHES "CUDAToolkit_FOUND=TRUE ([0-9.]*)")
  message(STATUS "sonic_find_cuda_toolkit() found CUDA ${CMAKE_MATCH_1} and configured")
else()
  message(STATUS "SKIPPED: no CUDA toolkit found (set CUDAToolkit_ROOT)")
endif()
