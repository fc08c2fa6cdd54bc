# Backend options are AUTO|ON|OFF. AUTO builds the backend when its dependency is found; ON fails
# configuration loudly when it is missing; OFF never builds it. Configure prints one line per
# backend so that nothing silently drops out.
set(SONIC_BACKEND_NAMES "" CACHE INTERNAL "")

function(sonic_backend_option name default doc)
  set(SONIC_BACKEND_${name} ${default} CACHE STRING "${doc}: AUTO|ON|OFF")
  set_property(CACHE SONIC_BACKEND_${name} PROPERTY STRINGS AUTO ON OFF)
  if(NOT SONIC_BACKEND_${name} MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "SONIC_BACKEND_${name}=${SONIC_BACKEND_${name}}: expected AUTO, ON or OFF")
  endif()
  set(SONIC_BACKEND_NAMES ${SONIC_BACKEND_NAMES} ${name} CACHE INTERNAL "")
endfunction()

# Records whether a backend is built. `found` is the result of the dependency search; `missing`
# names what was not found. Sets SONIC_HAVE_<name> in the caller's scope.
function(sonic_backend_decide name found missing)
  if(SONIC_BACKEND_${name} STREQUAL "OFF")
    set(status "off (SONIC_BACKEND_${name}=OFF)")
    set(have OFF)
  elseif(found)
    set(status "built")
    set(have ON)
  elseif(SONIC_BACKEND_${name} STREQUAL "ON")
    message(FATAL_ERROR "SONIC_BACKEND_${name}=ON but ${missing} was not found")
  else()
    set(status "not built: ${missing} not found")
    set(have OFF)
  endif()
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
