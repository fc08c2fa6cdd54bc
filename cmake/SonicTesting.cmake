include(GoogleTest)

# sonic_add_test(NAME name SOURCES ... LIBS ... LABELS ... [TIMEOUT s])
# Builds one GoogleTest binary and registers each of its tests in CTest with the given labels
# (unit, contract, integration, gpu, fpga, bench-smoke, slow).
function(sonic_add_test)
  if(NOT SONIC_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()

# sonic_add_benchmark(NAME name SOURCES ... LIBS ... [SMOKE_ARGS ...])
# Builds one Google Benchmark binary and registers a smoke run (tiny time budget) labelled
# bench-smoke so that no benchmark can rot.
function(sonic_add_benchmark)
  if(NOT SONIC_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(B "" "NAME" "SOURCES;LIBS;SMOKE_ARGS" ${ARGN})
  add_executable(${B_NAME} ${B_SOURCES})
  target_link_libraries(${B_NAME} PRIVATE ${B_LIBS} benchmark::benchmark)
  if(SONIC_BUILD_TESTS)
    add_test(NAME ${B_NAME}.smoke
             COMMAND ${B_NAME} --benchmark_min_time=0.001 ${B_SMOKE_ARGS})
    set_tests_properties(${B_NAME}.smoke PROPERTIES LABELS bench-smoke TIMEOUT 600)
  endif()
endfunction()
