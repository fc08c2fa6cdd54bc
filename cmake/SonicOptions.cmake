# Backend options are AUTO|ON|OFF. AUTO builds the backend when its dependency is found; ON fails
# configuration loudly when it is missing; OFF never builds it. Configure prints one line per
# backend so that nothing silently drops out.
set(SONIC_BACKEND_NAMES "" CACHE INTERNAL "")

# An AUTO|ON|OFF cache option `var`.
function(sonic_tristate_option var default doc)
  set(${var} ${default} CACHE STRING "${doc}: AUTO|ON|OFF")
  set_property(CACHE ${var} PROPERTY STRINGS AUTO ON OFF)
  if(NOT ${var} MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "${var}=${${var}}: expected AUTO, ON or OFF")
  endif()
endfunction()

# Decides an AUTO|ON|OFF option `var` from `found` (the dependency search) and `missing` (what
# was not found): sets `have_var` (ON/OFF) and `status_var` (the summary text) in the caller.
function(sonic_tristate_decide var found missing have_var status_var)
  if(${var} STREQUAL "OFF")
    set(status "off (${var}=OFF)")
    set(have OFF)
  elseif(found)
    set(status "built")
    set(have ON)
  elseif(${var} STREQUAL "ON")
    message(FATAL_ERROR "${var}=ON but ${missing} was not found")
  else()
    set(status "not built: ${missing} not found")
    set(have OFF)
  endif()
  set(${have_var} ${have} PARENT_SCOPE)
  set(${status_var} "${status}" PARENT_SCOPE)
endfunction()

function(sonic_backend_option name default doc)
  sonic_tristate_option(SONIC_BACKEND_${name} ${default} "${doc}")
  set(SONIC_BACKEND_NAMES ${SONIC_BACKEND_NAMES} ${name} CACHE INTERNAL "")
endfunction()

# Records whether a backend is built. `found` is the result of the dependency search; `missing`
# names what was not found. Sets SONIC_HAVE_<name> in the caller's scope.
function(sonic_backend_decide name found missing)
  sonic_tristate_decide(SONIC_BACKEND_${name} "${found}" "${missing}" have status)
  set(SONIC_BACKEND_STATUS_${name} "${status}" CACHE INTERNAL "")
  set(SONIC_HAVE_${name} ${have} PARENT_SCOPE)
  set(SONIC_HAVE_${name} ${have} CACHE INTERNAL "")
endfunction()

function(sonic_backend_summary)
  foreach(name IN LISTS SONIC_BACKEND_NAMES)
    string(TOLOWER ${name} lower)
    message(STATUS "sonicbench backend ${lower}: ${SONIC_BACKEND_STATUS_${name}}")
  endforeach()
endfunction()

# MPI client fleets (bench/fleet/): SONIC_MPI=AUTO|ON|OFF, decided like a backend. Sets
# SONIC_HAVE_MPI and prints one summary line.
function(sonic_mpi_decide)
  sonic_tristate_option(SONIC_MPI AUTO "MPI client fleets (libopenmpi-dev)")
  if(NOT SONIC_MPI STREQUAL "OFF")
    find_package(MPI COMPONENTS CXX QUIET)
  endif()
  sonic_tristate_decide(SONIC_MPI "${MPI_CXX_FOUND}" "MPI (libopenmpi-dev)" have status)
  if(have)
    set(status "${status} (MPI ${MPI_CXX_VERSION})")
  endif()
  message(STATUS "sonicbench mpi fleets: ${status}")
  set(SONIC_HAVE_MPI ${have} PARENT_SCOPE)
  set(SONIC_HAVE_MPI ${have} CACHE INTERNAL "")
endfunction()
